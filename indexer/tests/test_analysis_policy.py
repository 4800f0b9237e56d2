"""The policy behind the analysis: which resolved names are ordinary, which are reported, and why."""

import pytest

from indexer.analysis import analyze
from indexer.analysis.policy import REVIEWED, classify, judge

DECLARED = "fl.example.org:8080"


@pytest.mark.parametrize("name", [
    "flwr.client.start_client", "flwr.clientapp.ClientApp", "numpy.random.default_rng", "torch.nn.functional.relu",
    "torch.jit.trace", "torch.select", "tensorflow.io.decode_image", "tensorflow.keras.layers.Dense",
    "os.path.join", "os.environ.get", "logging.getLogger", "pathlib.Path.home", "collections.OrderedDict",
    "builtins.print", "builtins.open", "builtins.vars", "sklearn.linear_model.LogisticRegression",
    "keras.models.load_model", "jax.random.PRNGKey", "time.perf_counter",
])
def test_ordinary_names_pass(name):
    assert judge(name) is None


@pytest.mark.parametrize("name, rule", [
    ("shutil.os.system", "F2F-EXEC-001"),
    ("os.path.os.system", "F2F-EXEC-001"),
    ("logging.handlers.socket.socket", "F2F-NET-001"),
    ("asyncio.base_events.subprocess.run", "F2F-EXEC-003"),
    ("numpy.ctypeslib.ctypes.CDLL", "F2F-FFI-001"),
    ("multiprocessing.reduction.ForkingPickler.loads", "F2F-DESER-001"),
    ("torch.serialization.pickle.loads", "F2F-DESER-001"),
    ("tempfile._os", "F2F-UNREV-002"),
    ("transformers.trainer.os", "F2F-UNREV-002"),
    ("torch._C", "F2F-UNREV-002"),
    ("sys._getframe", "F2F-DYN-008"),
    ("sys.modules", "F2F-DYN-006"),
    ("builtins.help", "F2F-UNREV-002"),
    ("os.kill", "F2F-EXEC-003"),
    ("os.putenv", "F2F-UNREV-002"),
    ("keras.layers.Lambda", "F2F-DESER-005"),
    ("ssl.get_server_certificate", "F2F-NET-001"),
    ("tensorflow.keras.utils.get_file", "F2F-NET-002"),
])
def test_names_outside_the_reviewed_set_are_reported(name, rule):
    assert judge(name) == rule


def test_a_whole_module_entry_still_refuses_what_is_dangerous_in_it():
    assert REVIEWED["torch"] is None and REVIEWED["numpy"] is None
    assert classify("torch.hub.load") and classify("numpy.f2py.compile") and classify("torch.jit.load")


def client(extra_imports: str = "", body: str = "pass", address: str = '"fl.example.org:8080"') -> bytes:
    return f'''import flwr as fl
{extra_imports}


class C(fl.client.NumPyClient):
    def fit(self, parameters, config):
        {body}
        return parameters, 1, {{}}


fl.client.start_client(server_address={address}, client=C().to_client())
'''.encode()


def rules(content: bytes) -> set[str]:
    report = analyze(content, declared_server_address=DECLARED)
    return {f.rule for f in report.errors + report.findings}


def test_the_base_client_is_clean():
    assert rules(client()) == set()


def test_an_own_package_import_is_reported_as_outside_the_download():
    report = analyze(client("from mlapp.task import Net"), declared_server_address=DECLARED)
    assert report.verdict == "findings"
    assert [f.rule for f in report.findings] == ["F2F-DEP-001"]
    assert "cannot run it" in report.findings[0].message and "mlapp.task" in report.findings[0].message
    assert rules(client("from .task import Net")) == {"F2F-DEP-001"}


def test_an_unreviewed_standard_library_module_is_reported_once_at_its_import():
    report = analyze(client("import sqlite3", "sqlite3.connect('db.sqlite').close()"), declared_server_address=DECLARED)
    assert [(f.rule, f.line) for f in report.findings] == [("F2F-UNREV-001", 2)]


def test_keywords_hidden_in_a_literal_dict_are_read():
    assert rules(client("import numpy as np", "np.load('x.npy', **{'allow_pickle': True})")) == {"F2F-DESER-003"}
    assert rules(client("import numpy as np", "np.load('x.npy', **{'allow_pickle': False})")) == set()


def test_keywords_hidden_in_an_unreadable_mapping_are_reported():
    assert "F2F-DESER-003" in rules(client("import numpy as np", "np.load('x.npy', **config)"))
    assert rules(client(address="**settings").replace(b"server_address=**settings", b"**settings")) == {"F2F-ADDR-002"}


@pytest.mark.parametrize("body", [
    "getattr(os, 'SYSTEM'.lower())('id')",
    "getattr(os, ''.join(reversed('metsys')))('id')",
    "getattr(os, '{}{}'.format('sys', 'tem'))('id')",
    "getattr(os, 'sys%s' % 'tem')('id')",
    "getattr(os, bytes([115, 121, 115, 116, 101, 109]).decode())('id')",
    "getattr(os, ''.join(chr(c) for c in [115, 121, 115, 116, 101, 109]))('id')",
    "getattr(os, 'xmetsysx'[-2:0:-1])('id')",
])
def test_names_built_from_constants_are_folded_and_judged(body):
    assert "F2F-EXEC-001" in rules(client("import os", body))


def test_a_name_chosen_at_run_time_is_reported():
    assert "F2F-DYN-005" in rules(client("import os", "getattr(os, config['x'])('id')"))
    assert "F2F-DYN-005" in rules(client("", "getattr(self, config['x'])()"))


def test_a_module_handled_as_a_value_is_reported():
    assert rules(client("import shutil", "helper(shutil)")) == {"F2F-UNREV-003"}
    assert rules(client("", "tools = self.tools\n        tools.system('id')")) == {"F2F-UNREV-003"}


@pytest.mark.parametrize("body, rule", [
    ("x = ().__class__.__base__", "F2F-DYN-006"),
    ("x = self.fit.__globals__", "F2F-DYN-006"),
    ("x = self.fit.__code__", "F2F-DYN-006"),
    ("x = self.__init_subclass__", "F2F-DYN-008"),
    ("x = err.__traceback__.tb_frame.f_globals", "F2F-DYN-008"),
    ("x = type(lambda: 0)(None, {})", "F2F-DYN-007"),
    ("x = type('X', (), {})", "F2F-DYN-007"),
])
def test_interpreter_internals_are_reported(body, rule):
    assert rule in rules(client("", body))


def test_ordinary_dunders_are_not_reported():
    assert rules(client("", "name = self.__class__.__name__\n        super().__init__()")) == set()


@pytest.mark.parametrize("address, rule", [
    ('os.environ["FL_SERVER"]', "F2F-ADDR-002"),
    ('SERVER or "fl.example.org:8080"', "F2F-ADDR-002"),
    ('pick()', "F2F-ADDR-002"),
    ('"attacker.invalid:1 ".strip()', "F2F-ADDR-001"),
    ('"FL.EXAMPLE.ORG:8080".lower()', None),
])
def test_a_server_address_is_read_or_reported(address, rule):
    found = rules(client("import os", address=address))
    assert found == ({rule} if rule else set())


def test_writes_to_computed_or_outside_paths_through_other_openers_are_reported():
    assert "F2F-FS-001" in rules(client("import io", "io.FileIO('/home/u/.bashrc', 'w')"))
    assert "F2F-FS-003" in rules(client("import logging", "logging.FileHandler('~/.BASHRC'.lower())"))
    assert "F2F-FS-002" in rules(client("import numpy as np", "np.save(config['path'], parameters)"))
    assert "F2F-FS-001" in rules(client("import os", "self.model.save(os.path.expanduser('~') + '/.config/x')"))
    assert rules(client("import logging", "logging.FileHandler('client.log')")) == set()


def test_a_parameter_hides_an_import_or_a_builtin_of_the_same_name_only_inside_its_function():
    shadowing = "import torch.optim as optim\n\ndef build(model, optim, compile=False):\n    return optim, compile(model)\n"
    assert rules(client(shadowing)) == set()
    outside = "def build(eval):\n    return eval\n\neval('1')\n"
    assert rules(client(outside)) == {"F2F-DYN-001"}
    passed_in = "import shutil\n\ndef build(tools=shutil):\n    return tools\n"
    assert rules(client(passed_in)) == {"F2F-UNREV-003"}


def test_a_reviewed_name_inside_a_dangerous_module_is_ordinary():
    assert judge("timeit.default_timer") is None
    assert judge("timeit.timeit") == "F2F-DYN-001"
    assert judge("os.spawnlp") == "F2F-EXEC-002"


def test_importing_a_module_for_its_one_reviewed_name_is_judged_by_its_uses():
    assert rules(client("import timeit", "started = timeit.default_timer()")) == set()
    assert rules(client("import timeit", "timeit.timeit('1')")) == {"F2F-DYN-001"}


@pytest.mark.parametrize("body", [
    "y = '" + "b" * 100_000 + "'.replace('', '" + "c" * 100_000 + "')",
    "y = '{:>999999999}'.format('a')",
    "y = '%999999999s' % 'a'",
])
def test_folding_never_builds_a_huge_string(body):
    # Folded naively, each would need gigabytes and end the analysis as F2F-LIMIT-001.
    assert rules(client("", "pass").replace(b"class C", body.encode() + b"\n\n\nclass C")) == set()


def test_replacing_a_module_attribute_is_reported_unless_it_is_a_setting():
    assert rules(client("import numpy as np", "np.load = print")) == {"F2F-DYN-005"}
    assert rules(client("import torch", "torch.backends.cudnn.deterministic = True")) == set()


def test_a_format_field_that_walks_to_a_dangerous_attribute_is_reported():
    assert "F2F-UNREV-003" in rules(client("", "'{0.system}'.format(self.tools)"))
    assert rules(client("", "print('{0.lr:.3f}'.format(self.options))")) == set()
