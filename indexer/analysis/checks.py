"""The rules, applied in one pass over the tree: every reference is judged by the policy, every call that
runs, loads, writes, connects or names the server is checked, and what cannot be followed is reported."""

from __future__ import annotations

import ast
import re
from urllib.parse import urlsplit

from .names import HIDDEN, TEMPORARY, UNKNOWN, Names, add_chain, integer, last_name, path_problem
from .policy import (
    INTERNAL_ATTRIBUTES, ORDINARY_DUNDER_ATTRIBUTES, ORDINARY_DUNDER_NAMES, REVIEWED, STDLIB_MODULES,
    SUSPICIOUS_METHODS, canonical, classify, dangerous_word, is_known_module, judge,
)
from .report import Finding, finding

BLOB_MIN_CHARS = 200  # a base64/hex/binary constant at least this long is an obfuscated payload
DECODED_MIN_CHARS = 16  # decoding a constant at least this long at run time is reported
MAX_ADDRESS_CHARS = 2048  # longer strings are not host names or URLs worth parsing

OPEN_CALLS = {"builtins.open", "io.open", "codecs.open", "os.open", "os.fdopen", "io.FileIO", "tensorflow.io.gfile.GFile",
              "tensorflow.gfile.GFile", "tensorflow.io.gfile.Open", "tensorflow.gfile.Open"}
# Calls that write, move or delete -> positions (and keywords) of their path arguments.
FS_CALLS: dict[str, tuple[tuple[int, str], ...]] = {
    **dict.fromkeys(["os.remove", "os.unlink", "os.rmdir", "os.removedirs", "os.truncate", "os.chmod", "os.chown",
                     "os.mkfifo", "shutil.rmtree", "shutil.chown", "os.makedirs", "os.mkdir", "os.utime",
                     "shutil.make_archive"], ((0, "path"),)),
    **dict.fromkeys(["os.rename", "os.renames", "os.replace", "shutil.move"], ((0, "src"), (1, "dst"))),
    **dict.fromkeys(["os.symlink", "os.link", "shutil.copy", "shutil.copy2", "shutil.copyfile", "shutil.copytree"],
                    ((1, "dst"),)),
    **dict.fromkeys(["logging.FileHandler", "logging.handlers.RotatingFileHandler"], ((0, "filename"),)),
    **dict.fromkeys(["numpy.save", "numpy.savez", "numpy.savez_compressed", "numpy.savetxt", "numpy.ndarray.tofile"],
                    ((0, "file"),)),
    "torch.save": ((1, "f"),),
    **dict.fromkeys(["scipy.io.savemat", "scipy.io.mmwrite", "scipy.io.wavfile.write", "scipy.sparse.save_npz"],
                    ((0, "file_name"),)),
    "numpy.memmap": ((0, "filename"),),  # its default mode, "r+", writes
    **dict.fromkeys(["tensorflow.io.write_file", "tensorflow.io.gfile.makedirs", "tensorflow.io.gfile.remove",
                     "tensorflow.io.gfile.rmtree"], ((0, "filename"),)),
    **dict.fromkeys(["tensorflow.io.gfile.copy", "tensorflow.io.gfile.rename"], ((1, "dst"),)),
}
PATH_WRITE_METHODS = {"write_text", "write_bytes"}  # Path-only names: any receiver counts
PATH_CHANGE_METHODS = {"unlink", "rmdir", "rename", "replace", "touch", "chmod", "symlink_to", "hardlink_to", "open",
                       "mkdir", "link_to"}
# Methods that save to a path given first, on objects the analysis cannot type (a model, a data frame, a figure).
# Names this generic may not be about files at all: only a path visibly outside the working directory counts.
SAVE_METHODS = {"save", "save_model", "export", "write", "dump"}
# Names that always write to the path given first: a path computed at run time counts too.
WRITE_METHODS = {"save_weights", "savefig", "to_csv", "to_json", "to_parquet", "tofile", "save_pretrained", "to_hdf",
                 "to_excel", "to_feather", "to_netcdf", "savez", "write_csv"}
# Environment variables a client ordinarily sets (quieter logs, threads, devices, offline modes): changing any other
# can redirect what the frameworks or Flower itself connect to (grpc_proxy, HF_ENDPOINT) or run (LD_PRELOAD).
ORDINARY_ENVIRONMENT = re.compile(
    r"(TF_|TOKENIZERS_|RAY_|CUDA_|OMP_|MKL_|OPENBLAS_|NUMEXPR_|PYTORCH_|XLA_|JAX_|KERAS_BACKEND$|HF_DATASETS_OFFLINE$|"
    r"HF_HUB_OFFLINE$|HF_HUB_DISABLE_|TRANSFORMERS_OFFLINE$|TRANSFORMERS_VERBOSITY$|WANDB_MODE$|WANDB_SILENT$|"
    r"PYTHONHASHSEED$|GRPC_VERBOSITY$|GRPC_TRACE$|FLWR_TELEMETRY_ENABLED$|TORCH_CPP_LOG_LEVEL$|NCCL_DEBUG$|KMP_)"
)
# Dunder methods a client class ordinarily defines; defining any other hooks into copying, pickling, attribute
# look-up or class creation, which run code where no call is visible.
ORDINARY_DUNDER_METHODS = {"__init__", "__len__", "__getitem__", "__iter__", "__next__", "__repr__", "__str__",
                           "__call__", "__enter__", "__exit__", "__eq__", "__hash__", "__lt__", "__le__", "__gt__",
                           "__ge__", "__contains__", "__post_init__", "__setitem__", "__bool__", "__add__",
                           "__getstate__"}
# Module attributes that are settings, which a client ordinarily assigns (torch.backends.cudnn.benchmark = True).
MODULE_SETTINGS = ("torch.backends.", "tensorflow.config.", "matplotlib.rcParams", "numpy.set_printoptions",
                   "logging.root.", "transformers.logging.", "datasets.config.", "flwr_datasets.")
FORMAT_FIELD_ATTRIBUTE = re.compile(r"\{[^{}:!]*?\.([A-Za-z_]\w*)")
BUILTINS_AS_VALUES = {"builtins.getattr", "builtins.setattr", "builtins.delattr", "builtins.vars", "builtins.open",
                      "builtins.hasattr", "builtins.type"}
URL_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]{0,19}$")  # looked for only just before a "://"
URL_REST = re.compile(r"[^\s'\"<>]{1,2048}")
IP_ADDRESS = re.compile(r"(\d{1,3}(?:\.\d{1,3}){3})(?::\d+)?")
DECODERS = {
    "base64.b64decode", "base64.b32decode", "base64.b16decode", "base64.b85decode", "base64.a85decode",
    "base64.decodebytes", "base64.decodestring", "base64.urlsafe_b64decode", "base64.standard_b64decode",
    "binascii.unhexlify", "binascii.a2b_hex", "binascii.a2b_base64", "binascii.a2b_uu",
    "builtins.bytes.fromhex", "builtins.bytearray.fromhex", "codecs.decode",
    "zlib.decompress", "gzip.decompress", "bz2.decompress", "lzma.decompress",
}
OBFUSCATING_CODECS = {"hex", "hexcodec", "base64", "base64codec", "rot13", "zlib", "zlibcodec", "bz2", "bz2codec", "uu", "uucodec"}
SAFE_YAML_LOADERS = {"yaml.SafeLoader", "yaml.CSafeLoader", "yaml.BaseLoader", "yaml.CBaseLoader"}
ESCAPE_DUNDERS = {"__globals__", "__code__", "__subclasses__", "__builtins__", "__import__", "__loader__", "__closure__",
                  "__dict__", "__base__", "__bases__", "__mro__", "__getattribute__", "__reduce__", "__reduce_ex__",
                  "__func__", "__self__", "__spec__", "__defaults__", "__kwdefaults__"}
# The same escape dunders, or __class__, inside a string: a format field, an annotation or a name folded later.
DUNDER_IN_TEXT = re.compile("|".join(sorted(map(re.escape, ESCAPE_DUNDERS | {"__class__"}), key=len, reverse=True)))
SOCKET_METHODS = {"connect", "connect_ex", "sendto", "create_connection"}
ENTRY_POINTS = {"start_client", "start_numpy_client"}
CLIENT_BASES = {"NumPyClient", "Client"}
# Calls whose keyword decides whether loading a model or data set runs code: keyword -> the only safe constant.
LOADER_KEYWORDS = {"safe_mode": True, "trust_remote_code": False, "weights_only": True, "allow_pickle": False}
# Where such a keyword may hide in **kwargs or in a position: the loaders known to take it (by qualified name,
# package or method name) -> their keywords (and positions) of that kind.
REMOTE_CODE = {"trust_remote_code": 99}
LOADERS = {"numpy.load": {"allow_pickle": 2}, "numpy.lib.format.read_array": {"allow_pickle": 1},
           "torch.load": {"weights_only": 99}, "keras.models.load_model": {"safe_mode": 3},
           "keras.saving.load_model": {"safe_mode": 3}, "load_model": {"safe_mode": 99},
           "from_pretrained": REMOTE_CODE, "load_dataset": REMOTE_CODE, "pipeline": REMOTE_CODE}
LOADER_PACKAGES = ("transformers.", "datasets.", "huggingface_hub.", "peft.", "evaluate.", "timm.")
ADDRESS_WORDS = ("server", "addr", "host", "superlink")
LOGGING_METHODS = {"debug", "info", "warning", "error", "critical", "exception", "log"}

SENSITIVE_PATH = re.compile(
    r"\.ssh\b|\bid_(?:rsa|dsa|ecdsa|ed25519)\b|authorized_keys|\.aws/|\.gnupg|\.netrc|\.pgpass|\.pypirc|"
    r"\.git-credentials|\.kube/config|\.docker/config\.json|\.config/gcloud|/etc/(?:passwd|shadow|sudoers)|"
    r"/etc/cron|\.bashrc|\.bash_profile|\.bash_login|\.bash_logout|\.bash_history|\.zshrc|\.zshenv|\.zprofile|"
    r"\.profile\b|crontab|\.config/autostart|\.local/bin|site-packages|sitecustomize|usercustomize|\.pth\b|"
    r"/etc/ld\.so\.preload|\.vimrc|\.gitconfig",
    re.IGNORECASE,
)
HOST = re.compile(r"(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,}|\d{1,3}(?:\.\d{1,3}){3}|localhost|\[[0-9A-Fa-f:.]+\]")
HOST_PORT = re.compile(rf"({HOST.pattern})(?::\d+)?")
BASE64_BLOB = re.compile(r"[A-Za-z0-9+/_-]+={0,2}")
HEX_BLOB = re.compile(r"(?:0x)?[0-9A-Fa-f]+|(?:\\x[0-9A-Fa-f]{2})+")
NOT_TEXT_BYTE = re.compile(r"[^\x20-\x7e\t\r\n]")
CONTROL_CHARACTER = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def display(name: str) -> str:
    return name.removeprefix("builtins.")


def blob_kind(value: str | bytes) -> str | None:
    """'base64', 'hex' or 'binary' when `value` looks like a long encoded payload (regular expressions only: fast)."""
    if len(value) < BLOB_MIN_CHARS:
        return None
    if isinstance(value, bytes):
        value = value.decode("latin-1")
        unreadable = NOT_TEXT_BYTE
    else:
        unreadable = CONTROL_CHARACTER
    if len(unreadable.findall(value)) > 0.1 * len(value):
        return "binary"
    compact = re.sub(r"\s+", "", value)
    if len(compact) < BLOB_MIN_CHARS:
        return None
    if HEX_BLOB.fullmatch(compact) and len(set(compact[:1000].lower())) >= 4:
        return "hex"
    if BASE64_BLOB.fullmatch(compact) and re.search(r"[A-Za-z]", compact) and re.search(r"[0-9]", compact):
        return "base64"
    return None


def host_of(address: str) -> str:
    """The host of a "host:port" or "[v6]:port" address, lowercased."""
    address = address.strip().lower()
    if "://" in address:
        try:
            return urlsplit(address).hostname or ""
        except ValueError:  # e.g. an unclosed IPv6 bracket
            return address
    if address.startswith("["):
        return address[1: address.find("]")] if "]" in address else address
    return address.rsplit(":", 1)[0] if address.count(":") == 1 else address


def option_dest(options: list, keywords: dict[str, ast.expr]) -> str | None:
    """The attribute argparse stores an option under."""
    dest = keywords.get("dest")
    if isinstance(dest, ast.Constant) and isinstance(dest.value, str):
        return dest.value
    names = [o for o in options if isinstance(o, str)]
    long = [n for n in names if n.startswith("--")]
    chosen = (long or names or [None])[0]
    return chosen.lstrip("-").replace("-", "_") if chosen else None


class Checker(ast.NodeVisitor):
    """One pass over the tree, after :class:`Names` has resolved imports, aliases and constants."""

    def __init__(self, tree: ast.Module, declared_server_address: str) -> None:
        self.tree = tree
        self.names = Names(tree)
        self.declared = declared_server_address.strip()
        self.declared_host = host_of(self.declared)
        self.docstrings: set[int] = set()
        self.imports_flwr = self.client_defined = self.entry_point = False
        self.client_classes: set[str] = set()
        self.reported_modules: set[str] = set()  # imports already reported as unreviewed or outside the file
        self.errors: list[Finding] = []
        self.findings: dict[tuple[str, int], Finding] = {}
        self._inner_adds: set[int] = set()
        self._scope_cache: dict | None = None
        self.parents = self.names.parents
        self.options: dict[str, ast.expr | None] = {}  # argparse dest -> its default (None: no default)
        self.tainted_options: set[str | None] = set()  # dests changed after parsing (None: any of them)
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.body:
                first = node.body[0]
                if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                    self.docstrings.add(id(first.value))
            self._note_option_change(node)

    def _note_option_change(self, node: ast.AST) -> None:
        """Pre-pass: argparse options, and every way their parsed values can be changed after parsing."""
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr == "add_argument":
                options = [self.names.fold(arg) for arg in node.args]
                keywords = {kw.arg: kw.value for kw in node.keywords if kw.arg}
                dest = option_dest(options, keywords)
                if dest in self.options or any(kw.arg is None for kw in node.keywords):
                    self.tainted_options.add(dest)  # defined twice, or partly hidden
                self.options[dest] = keywords.get("default")
                converter, action = keywords.get("type"), self.names.fold(keywords.get("action"))
                if converter is not None and self.names.qualname(converter) not in ("builtins.str", "builtins.int") \
                        or action not in (None, "store"):
                    self.tainted_options.add(dest)
            elif node.func.attr == "set_defaults":
                self.tainted_options.update(kw.arg for kw in node.keywords)
            elif node.func.attr == "register":  # parser.register("type", None, f): a converter for every option
                self.tainted_options.add(None)
        if isinstance(node, ast.Call) and self.names.qualname(node.func) == "argparse.ArgumentParser" and any(
                kw.arg in (None, "argument_default", "prefix_chars", "fromfile_prefix_chars", "parents")
                for kw in node.keywords):
            self.tainted_options.add(None)
        if isinstance(node, ast.ClassDef) and any(
                (self.names.qualname(base) or "").startswith("argparse.") for base in node.bases):
            self.tainted_options.add(None)  # a parser or action subclass decides what options hold
        if isinstance(node, ast.Attribute) and not isinstance(node.ctx, ast.Load):
            self.tainted_options.add(node.attr)  # args.server_address = ...
        if isinstance(node, ast.Call) and self.names.qualname(node.func) in (
                "builtins.vars", "builtins.setattr", "builtins.delattr") and node.args \
                and isinstance(node.args[0], ast.Name):
            parent = self.names.parents.get(id(node))
            shown_only = self.names.qualname(node.func) == "builtins.vars" and isinstance(parent, ast.Call) \
                and node in parent.args and (self.names.qualname(parent.func) == "builtins.print" or (
                    isinstance(parent.func, ast.Attribute) and parent.func.attr in LOGGING_METHODS))
            if not shown_only:
                self.tainted_options.add(None)
        if isinstance(node, ast.Attribute) and node.attr == "__dict__":
            self.tainted_options.add(None)
        if isinstance(node, (ast.Attribute, ast.Subscript)) and self.names.qualname(
                node.value if isinstance(node, ast.Subscript) else node) == "sys.argv":
            parent = self.names.parents.get(id(node))
            reads = isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load) or (
                isinstance(parent, ast.Call) and self.names.qualname(parent.func) == "builtins.len")
            if not reads:
                self.tainted_options.add(None)  # sys.argv.extend(...), sys.argv[1:] = ..., x = sys.argv

    # -- entry ------------------------------------------------------------------------------

    def run(self) -> tuple[list[Finding], list[Finding]]:
        self._check_imports()
        self.visit(self.tree)
        self.entry_point = self.entry_point or self._has_module_level_client_app()
        if not self.imports_flwr:
            self.errors.append(finding("F2F-FLWR-001", 0, ""))
        if not self.client_defined:
            self.errors.append(finding("F2F-FLWR-002", 0, ""))
        if not self.entry_point:
            self.errors.append(finding("F2F-FLWR-003", 0, ""))
        return self.errors, list(self.findings.values())

    def add(self, rule: str, where: ast.AST | int, detail: str) -> None:
        line = where if isinstance(where, int) else getattr(where, "lineno", 0)
        self.findings.setdefault((rule, line), finding(rule, line, detail))

    def _has_module_level_client_app(self) -> bool:
        statements = list(self.tree.body)
        while statements:
            statement = statements.pop()
            if isinstance(statement, (ast.If, ast.Try, getattr(ast, "TryStar", ast.Try), ast.With)):
                statements += statement.body + getattr(statement, "orelse", []) + getattr(statement, "finalbody", [])
                statements += [s for handler in getattr(statement, "handlers", []) for s in handler.body]
            elif isinstance(statement, (ast.Assign, ast.AnnAssign)) and isinstance(statement.value, ast.Call) \
                    and self._is_flower(statement.value.func, "ClientApp"):
                return True
        return False

    def _is_flower(self, function: ast.expr, *names: str) -> bool:
        """Whether `function` is one of `names` from flwr (any qualified form), or an unresolved name like it."""
        resolved = self.names.qualname(function)
        if resolved is not None:
            return resolved.startswith("flwr.") and resolved.rsplit(".", 1)[-1] in names
        return last_name(function) in names

    # -- imports ----------------------------------------------------------------------------

    def _check_imports(self) -> None:
        for node, module, shown in self.names.imports:
            top = module.split(".")[0]
            if isinstance(node, ast.ImportFrom) and node.level == 0 and top == "flwr" or \
                    isinstance(node, ast.Import) and top == "flwr":
                self.imports_flwr = True
            if module.startswith(".") or not is_known_module(top):
                self.reported_modules.add(top)
                self.add("F2F-DEP-001", node, shown)
                continue
            rule = judge(module)
            if not rule and shown.endswith(" import *") and isinstance(REVIEWED.get(canonical(module)), frozenset):
                rule = "F2F-UNREV-002"  # the names it brings are not all reviewed, and cannot be followed
            if isinstance(node, ast.Import) and any(key.startswith(module + ".") for key in REVIEWED):
                continue  # `import timeit` for timeit.default_timer: each use is judged where it is made
            if rule == "F2F-UNREV-002" and top in STDLIB_MODULES and not any(
                    key.split(".")[0] == top for key in REVIEWED):
                rule = "F2F-UNREV-001"
            if rule:
                self.reported_modules.add(top)  # its uses are not reported again as unreviewed
                self.add(rule, node, shown)

    # -- references -------------------------------------------------------------------------

    def _check_reference(self, node: ast.expr) -> None:
        parent = self.parents.get(id(node))
        if isinstance(parent, ast.Attribute) and parent.value is node:
            return  # judged as part of the longer name
        name = self.names.qualname(node)
        if not name:
            return
        rule = judge(name)
        if rule == "F2F-UNREV-002" and name.split(".")[0] in self.reported_modules:
            return  # already reported at its import
        if rule:
            self.add(rule, node, display(name))

    def visit_Name(self, node: ast.Name) -> None:
        if not isinstance(node.ctx, ast.Load):
            return
        self._check_reference(node)
        self._check_entry_point_value(node)
        parent = self.parents.get(id(node))
        if node.id in self.names.module_names and self.names.qualname(node) == self.names.aliases.get(node.id) \
                and not (isinstance(parent, ast.Attribute) and parent.value is node):
            self.add("F2F-UNREV-003", node, f"module {self.names.aliases[node.id]} used as a value")
        if self.names.qualname(node) in BUILTINS_AS_VALUES and not (isinstance(parent, ast.Call) and parent.func is node):
            self.add("F2F-DYN-005", node, f"{node.id} handled as a value")
        if node.id in self.names.alias_conflicts:
            self.add("F2F-UNREV-003", node, f"{node.id} is imported as different modules in different places")
        if node.id.startswith("__") and node.id.endswith("__") and node.id not in ORDINARY_DUNDER_NAMES \
                and not judge(self.names.qualname(node) or "-"):
            self.add("F2F-DYN-006", node, node.id)

    def _check_entry_point_value(self, node: ast.expr) -> None:
        parent = self.parents.get(id(node))
        if isinstance(parent, ast.Call) and parent.func is node or isinstance(parent, ast.Attribute):
            return
        name = self.names.qualname(node)
        if name and name.startswith("flwr.") and name.rsplit(".", 1)[-1] in ENTRY_POINTS:
            self.add("F2F-ADDR-002", node, f"{name.rsplit('.', 1)[-1]} handled as a value, so its address is not seen")

    def visit_Attribute(self, node: ast.Attribute) -> None:
        self._check_reference(node)
        self._check_entry_point_value(node)
        self._check_attribute_name(node.attr, node)
        if self.names.qualname(node) is None:
            if node.attr in SUSPICIOUS_METHODS:
                self.add("F2F-UNREV-003", node, f".{node.attr} on an object the analysis cannot follow")
            word_rule = dangerous_word(node.attr)
            if word_rule:
                self.add(word_rule, node, f".{node.attr}")
        if isinstance(node.ctx, ast.Store):
            base = self.names.qualname(node.value)
            if base and base != "os.environ" and not base.startswith(MODULE_SETTINGS):
                self.add("F2F-DYN-005", node, f"replaces {display(base)}.{node.attr}")
        self.generic_visit(node)

    def _check_attribute_name(self, name: str, node: ast.AST) -> None:
        if name in ESCAPE_DUNDERS:
            self.add("F2F-DYN-006", node, f".{name}")
        elif name.startswith("__") and name.endswith("__") and name not in ORDINARY_DUNDER_ATTRIBUTES:
            parent = self.parents.get(id(node))
            harmless_class = name == "__class__" and isinstance(parent, ast.Attribute) \
                and parent.attr in ("__name__", "__qualname__")
            if not harmless_class:
                self.add("F2F-DYN-008", node, f".{name}")
        elif name in INTERNAL_ATTRIBUTES:
            self.add("F2F-DYN-008", node, f".{name}")

    def visit_MatchClass(self, node: ast.MatchClass) -> None:
        for name in node.kwd_attrs:  # case object(__builtins__=b): an attribute read with no dot in sight
            self._check_attribute_name(name, node)
            if name in SUSPICIOUS_METHODS or dangerous_word(name):
                self.add("F2F-UNREV-003", node, f"a class pattern reads .{name}")
        self.generic_visit(node)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        if node.name.startswith("__") and node.name.endswith("__") and node.name not in ORDINARY_DUNDER_METHODS:
            self.add("F2F-DYN-008", node, f"def {node.name}")
        self.generic_visit(node)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Subscript(self, node: ast.Subscript) -> None:
        self._check_reference(node)
        if not isinstance(node.ctx, ast.Load):
            self._check_setting(self.names.qualname(node.value), node.slice, node)
        self.generic_visit(node)

    def _check_setting(self, container: str | None, key_node: ast.expr | None, node: ast.AST) -> None:
        """Writes into the process's settings: environment variables, matplotlib's program paths."""
        key = self.names.fold(key_node) if key_node is not None else None
        if container == "os.environ":
            if not isinstance(key, str) or not ORDINARY_ENVIRONMENT.match(key):
                self.add("F2F-UNREV-002", node, f"sets the environment variable {key if isinstance(key, str) else '<computed>'}")
        elif container and container.startswith("matplotlib.") and container.endswith("rcParams"):
            if not isinstance(key, str) or any(word in key for word in ("path", "command", "args")):
                self.add("F2F-EXEC-003", node, f"rcParams[{key!r}] names a program to run")

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for base in node.bases:
            if self._is_flower(base, *CLIENT_BASES) or last_name(base) in self.client_classes:
                self.client_defined = True
                self.client_classes.add(node.name)
        for keyword in node.keywords:
            if keyword.arg == "metaclass":
                self.add("F2F-DYN-007", keyword.value, "metaclass=")
        self.generic_visit(node)

    # -- constants --------------------------------------------------------------------------

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, (str, bytes)):
            self._check_string(node.value, node)

    @staticmethod
    def _urls(value: str) -> list[str]:
        """The URLs in a string, found from their "://" (linear: no scan from every letter)."""
        urls = []
        for separator in re.finditer("://", value):
            scheme = URL_SCHEME.search(value, max(0, separator.start() - 20), separator.start())
            rest = URL_REST.match(value, separator.end())
            if scheme and rest:
                urls.append(scheme.group() + "://" + rest.group())
            if len(urls) >= 20:
                break
        return urls

    def visit_BinOp(self, node: ast.BinOp) -> None:
        """Check a literal concatenation ("ev" + "al", a payload split over lines) as one string."""
        if isinstance(node.op, ast.Add) and id(node) not in self._inner_adds:
            operands, inner = add_chain(node)
            self._inner_adds.update(id(item) for item in inner)
            # Literals only: following names here would re-check ever longer strings, line after line.
            value = self.names.fold(node) if len(operands) < 64 and all(
                isinstance(o, ast.Constant) for o in operands) else None
            if value is not None:
                self._check_string(value, node)
        self.generic_visit(node)

    def visit_List(self, node: ast.List | ast.Tuple) -> None:
        if len(node.elts) >= BLOB_MIN_CHARS and all(
            isinstance(e, ast.Constant) and type(e.value) is int and 0 <= e.value < 256 for e in node.elts
        ):
            self.add("F2F-OBF-001", node, f"list of {len(node.elts)} byte values")
        self.generic_visit(node)

    visit_Tuple = visit_List

    def _check_string(self, value: str | bytes, node: ast.AST) -> None:
        kind = blob_kind(value)
        if kind:
            self.add("F2F-OBF-001", node, f"{kind} constant of {len(value)} characters")
        if isinstance(value, str) and id(node) not in self.docstrings and len(value) <= MAX_ADDRESS_CHARS * 8:
            sensitive = SENSITIVE_PATH.search(value)
            if sensitive:
                self.add("F2F-FS-003", node, repr(sensitive.group()))
            for attribute in FORMAT_FIELD_ATTRIBUTE.findall(value)[:50]:
                if attribute in SUSPICIOUS_METHODS or dangerous_word(attribute):
                    self.add("F2F-UNREV-003", node, f"a format field reaches .{attribute}")
            dunder = DUNDER_IN_TEXT.search(value)
            if dunder:
                self.add("F2F-DYN-006", node, f"{dunder.group()} inside a string")
            for url in self._urls(value):
                host = host_of(url)
                if host and host != self.declared_host:
                    self.add("F2F-NET-003", node, f"mentions {url[:60]!r}")
            for address in IP_ADDRESS.finditer(value):
                host = address.group(1)
                if host != self.declared_host and not host.startswith(("0.", "127.")) and IP_ADDRESS.fullmatch(value.strip()):
                    self.add("F2F-NET-003", node, f"mentions the address {address.group()!r}")

    # -- calls ------------------------------------------------------------------------------

    def visit_Call(self, node: ast.Call) -> None:
        self._check_reference(node)  # __import__("os"), getattr(os, "system"), ...
        function = self.names.qualname(node.func) or ""
        method = node.func.attr if isinstance(node.func, ast.Attribute) else None
        if self._is_flower(node.func, "ClientApp"):
            self.client_defined = True
        if self._is_flower(node.func, *ENTRY_POINTS):
            self.entry_point = True
            self._check_server_address(node)
        if method == "add_argument":
            self._check_argparse_default(node)
        if function in ("os.environ.setdefault", "os.environ.update", "os.environ.__setitem__", "os.environ.pop"):
            keys = [kw.arg for kw in node.keywords] if function == "os.environ.update" and not node.args else None
            if keys is not None and None not in keys:
                for key in keys:
                    self._check_setting("os.environ", ast.Constant(key), node)
            else:
                self._check_setting("os.environ", node.args[0] if node.args and function != "os.environ.update" else None, node)
        if function in ("builtins.getattr", "builtins.setattr", "builtins.delattr", "builtins.hasattr"):
            self._check_dynamic_attribute(node, function)
        if function == "builtins.vars" and (not node.args or self.names.qualname(node.args[0])):
            self.add("F2F-DYN-006", node, "vars()")
        if function == "builtins.type" and len(node.args) == 3:
            self.add("F2F-DYN-007", node, "type(name, bases, namespace)")
        if isinstance(node.func, ast.Call) and self.names.qualname(node.func.func) == "builtins.type":
            self.add("F2F-DYN-007", node, "type(...)(...)")
        if function in ("builtins.eval", "builtins.exec", "builtins.compile") and self._contains_decoding(node):
            self.add("F2F-OBF-003", node, display(function))
        if function in DECODERS:
            self._check_decoding(node, function)
        self._check_loading(node, function, method)
        self._check_file_writes(node, function, method)
        network_call = classify(function) in ("F2F-NET-001", "F2F-NET-002")
        if network_call or method in SOCKET_METHODS:
            self._check_hosts(node, display(function) if function else f".{method}", network_call)
        self.generic_visit(node)

    def _check_server_address(self, node: ast.Call) -> None:
        address = self.names.argument(node, 0, "server_address")
        if address is None:
            return  # Flower itself refuses a call without one
        value = self.names.fold(address)
        if isinstance(value, str):
            self._compare_address(node, value, "server_address")
        elif not self._from_options(address):
            if isinstance(address, ast.Call) and self.names.qualname(address.func) in ("os.getenv", "os.environ.get"):
                fallback = self.names.fold(self.names.argument(address, 1, "default"))
                if isinstance(fallback, str):
                    self._compare_address(node, fallback, "server_address fallback")
            shown = "hidden in **kwargs" if address is HIDDEN else ast.unparse(address)[:80]
            self.add("F2F-ADDR-002", node, f"server_address={shown}")

    def _compare_address(self, node: ast.AST, value: str, what: str) -> None:
        if value.strip().lower() != self.declared.lower():
            self.errors.append(finding("F2F-ADDR-001", node.lineno, f"{what} {value!r} (declared {self.declared!r})"))

    def _from_options(self, node: ast.expr) -> bool:
        """Whether an address comes from command-line options (`args.server_address`, f"{args.host}:8080"),
        which the federation page's run command fills in with the declared address: `args` bound once to a
        plain `parser.parse_args()`, the option stored as given and never changed after parsing."""
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if node.attr not in self.options or node.attr in self.tainted_options or None in self.tainted_options:
                return False
            if not self._is_parsed_arguments(node.value):
                return False
            default = self.options[node.attr]
            return default is None or isinstance(self.names.fold(default), str) or (
                isinstance(default, ast.Constant) and default.value is None)
        if isinstance(node, ast.JoinedStr):
            return all(isinstance(part, ast.Constant) or self._from_options(part.value) for part in node.values)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            return all(isinstance(self.names.fold(part), str) or self._from_options(part) for part in add_chain(node)[0])
        return False

    def _is_parsed_arguments(self, name: ast.Name) -> bool:
        if self.names.is_parameter(name):
            return False
        scopes = self._scopes()
        function = self._enclosing_function(name)
        if (id(function), name.id) not in scopes["stores"]:
            function = None  # not the function's own variable: the module's
        stores = scopes["stores"].get((id(function), name.id), 0)
        assignments = scopes["assignments"].get((id(function), name.id), [])
        if stores != 1 or len(assignments) != 1:
            return False
        value = assignments[0]
        if isinstance(value, ast.Subscript) and isinstance(value.value, ast.Call) and integer(value.slice) == 0:
            value = value.value  # parser.parse_known_args()[0]
        if not (isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute)
                and value.func.attr in ("parse_args", "parse_known_args") and not value.keywords):
            return False
        if not value.args:
            return True
        # def main(argv=None): ... parser.parse_args(argv), with main() only ever called without arguments.
        argument = value.args[0]
        return len(value.args) == 1 and isinstance(argument, ast.Name) and self._only_none(argument)

    def _enclosing_function(self, node: ast.AST) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
        function = self.names.parents.get(id(node))
        while function is not None and not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            function = self.names.parents.get(id(function))
        return function

    def _scopes(self) -> dict:
        """Per (function or module, name): how often it is bound, and the values of its plain assignments;
        and the names of functions called with arguments. Built once, on first use."""
        if self._scope_cache is None:
            stores: dict[tuple[int, str], int] = {}
            assignments: dict[tuple[int, str], list[ast.expr]] = {}
            called_with_arguments: set[str] = set()
            pending: list[tuple[ast.AST, ast.AST | None]] = [(self.tree, None)]
            while pending:
                node, function = pending.pop()
                if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
                    stores[(id(function), node.id)] = stores.get((id(function), node.id), 0) + 1
                if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                    assignments.setdefault((id(function), node.targets[0].id), []).append(node.value)
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and (node.args or node.keywords):
                    called_with_arguments.add(node.func.id)
                if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                    call = self.names.parents.get(id(node))
                    if not (isinstance(call, ast.Call) and call.func is node):
                        called_with_arguments.add(node.id)  # handed around: callers cannot be seen
                inner = node if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) else function
                pending.extend((child, inner) for child in ast.iter_child_nodes(node))
            self._scope_cache = {"stores": stores, "assignments": assignments, "called": called_with_arguments}
        return self._scope_cache

    def _only_none(self, name: ast.Name) -> bool:
        function = self._enclosing_function(name)
        if function is None or not self.names.is_parameter(name):
            return False
        parameters = function.args.args
        index = next((i for i, a in enumerate(parameters) if a.arg == name.id), None)
        defaults = dict(zip([a.arg for a in parameters[len(parameters) - len(function.args.defaults):]],
                            function.args.defaults))
        default = defaults.get(name.id)
        if index is None or not (isinstance(default, ast.Constant) and default.value is None):
            return False
        return function.name not in self._scopes()["called"]

    def _check_argparse_default(self, node: ast.Call) -> None:
        options = [self.names.fold(arg) for arg in node.args]
        names = [o.lower().replace("-", "").replace("_", "") for o in options if isinstance(o, str)]
        if not any(word in n for n in names for word in ADDRESS_WORDS) \
                or any(word in n for n in names for word in ("cert", "key", "file", "path", "dir", "port")):
            return
        default_node = self.names.argument(node, 99, "default")
        if default_node is None or isinstance(default_node, ast.Constant) and default_node.value is None:
            return
        default = self.names.fold(default_node)
        option = next((o for o in options if isinstance(o, str)), "an option")
        if not isinstance(default, str):
            self.add("F2F-ADDR-002", node, f"{option} defaults to a value computed at run time")
            return
        if not (HOST_PORT.fullmatch(default.strip()) or "://" in default):
            return
        default = default.strip()
        expected = self.declared if ":" in default else self.declared_host
        if default.lower() != expected.lower():
            self.errors.append(finding("F2F-ADDR-001", node.lineno, f"{option} defaults to {default!r} (declared {self.declared!r})"))

    def _check_dynamic_attribute(self, node: ast.Call, function: str) -> None:
        if len(node.args) < 2:
            return
        name = self.names.fold(node.args[1])
        if isinstance(name, str):
            self._check_attribute_name(name, node)
            if name in SUSPICIOUS_METHODS:
                self.add("F2F-UNREV-003", node, f"{display(function)}(..., {name!r})")
            if function == "builtins.setattr" and (self.names.qualname(node.args[0]) or "").split(".")[0] in STDLIB_MODULES:
                self.add("F2F-DYN-005", node, f"setattr({display(self.names.qualname(node.args[0]))}, {name!r}, ...)")
        elif function != "builtins.hasattr":
            target = self.names.qualname(node.args[0])
            self.add("F2F-DYN-005", node, f"{display(function)}({display(target) if target else '...'}, <computed name>)")

    def _contains_decoding(self, node: ast.Call) -> bool:
        """Whether the arguments of exec/eval/compile decode something (following names bound once)."""
        pending: list[ast.AST] = list(node.args)
        seen = 0
        while pending and seen < 10_000:
            item = pending.pop()
            seen += 1
            if isinstance(item, ast.Call) and (self.names.qualname(item.func) in DECODERS or last_name(item.func) == "fromhex"):
                return True
            if isinstance(item, ast.Name) and item.id in self.names.bindings:
                pending.append(self.names.bindings[item.id])
            pending.extend(ast.iter_child_nodes(item))
        return False

    def _check_decoding(self, node: ast.Call, function: str) -> None:
        data = self.names.fold(self.names.argument(node, 0, "s"))
        if function == "codecs.decode":
            codec = self.names.fold(self.names.argument(node, 1, "encoding"))
            normalized = codec.lower().replace("-", "").replace("_", "") if isinstance(codec, str) else None
            if normalized is not None and normalized not in OBFUSCATING_CODECS:
                return
            if normalized in ("rot13", None):
                self.add("F2F-OBF-002", node, f"codecs.decode(..., {codec!r})" if codec else "codecs.decode")
                return
        if data is not None and len(data) >= DECODED_MIN_CHARS:
            self.add("F2F-OBF-002", node, f"{display(function)} of a {len(data)}-character constant")

    def _check_loading(self, node: ast.Call, function: str, method: str | None) -> None:
        """Loaders whose keyword decides whether they run code, on any receiver (AutoModel.from_pretrained...)."""
        last = function.rsplit(".", 1)[-1]
        loader = LOADERS.get(canonical(function)) or (LOADERS.get(method) if not function else None) or (
            LOADERS.get(last, {}) if function.startswith(LOADER_PACKAGES) else {})
        for keyword, safe in LOADER_KEYWORDS.items():
            value = self.names.argument(node, loader.get(keyword, 99), keyword)
            if value is None or value is HIDDEN and keyword not in loader:
                continue
            if not (isinstance(value, ast.Constant) and value.value is safe):
                self.add("F2F-DESER-003" if keyword == "allow_pickle" else "F2F-DESER-002" if keyword == "weights_only"
                         else "F2F-DESER-005", node, f"{keyword}={'<hidden>' if value is HIDDEN else ast.unparse(value)[:40]}")
        if function == "torch.load" and self.names.argument(node, 99, "weights_only") is None:
            self.add("F2F-DESER-002", node, "torch.load without weights_only=True")
        elif function in ("yaml.load", "yaml.load_all"):
            yaml_loader = self.names.argument(node, 1, "Loader")
            if yaml_loader is None or self.names.qualname(yaml_loader) not in SAFE_YAML_LOADERS:
                self.add("F2F-DESER-004", node, f"{function} without SafeLoader")
        elif method in ("extractall", "extract", "unpack_archive"):
            archive_filter = self.names.fold(self.names.argument(node, 99, "filter"))
            if archive_filter != "data":
                self.add("F2F-FS-004", node, f".{method}()")

    def _check_file_writes(self, node: ast.Call, function: str, method: str | None) -> None:
        names = self.names
        if function in OPEN_CALLS:
            if function == "os.open":
                flags = names.argument(node, 1, "flags")
                writes = flags is None or flags is HIDDEN or names.qualname(flags) != "os.O_RDONLY"
            else:
                mode = names.argument(node, 1, "mode")
                mode_text = names.fold(mode) if mode is not None else "r"
                writes = not isinstance(mode_text, str) or any(c in mode_text for c in "wax+")
            if writes and function != "os.fdopen":
                self._check_path(node, display(function), names.path(names.argument(node, 0, "file")))
        elif function in FS_CALLS:
            for position, keyword in FS_CALLS[function]:
                self._check_path(node, display(function), names.path(names.argument(node, position, keyword)))
        elif function == "logging.basicConfig" and names.argument(node, 99, "filename") is not None:
            self._check_path(node, "logging.basicConfig", names.path(names.argument(node, 99, "filename")))
        elif method in PATH_WRITE_METHODS or (method in PATH_CHANGE_METHODS and names.is_path_object(node.func.value)):
            if method in ("open", "mkdir"):
                mode = names.argument(node, 0, "mode")
                mode_text = names.fold(mode) if mode is not None else "r"
                if method == "mkdir" or isinstance(mode_text, str) and not any(c in mode_text for c in "wax+"):
                    if method == "open":
                        return
            receiver = names.path(node.func.value) if names.is_path_object(node.func.value) else UNKNOWN
            self._check_path(node, f"Path.{method}", receiver)
            if method in ("rename", "replace", "symlink_to", "hardlink_to") and node.args:
                self._check_path(node, f"Path.{method}", names.path(node.args[0]))
        elif method in WRITE_METHODS and not function and node.args:
            self._check_path(node, f".{method}", names.path(node.args[0]))
        elif method in SAVE_METHODS and not function and node.args:
            path = names.path(node.args[0])
            if path_problem(path) == "outside":
                self._check_path(node, f".{method}", path)
        elif method == "open" and not function:  # a Path the analysis cannot see, opened for writing
            mode = names.fold(names.argument(node, 0, "mode"))
            if isinstance(mode, str) and any(c in mode for c in "wax+"):
                self._check_path(node, ".open", UNKNOWN)

    def _check_path(self, node: ast.Call, action: str, path: str) -> None:
        problem = path_problem(path)
        shown = path.replace(UNKNOWN, "<computed>").replace(TEMPORARY, "<temporary directory>")
        if problem == "outside":
            self.add("F2F-FS-001", node, f"{action} on {shown!r}")
        elif problem == "dynamic":
            self.add("F2F-FS-002", node, f"{action} on {shown!r}")
        sensitive = SENSITIVE_PATH.search(path)
        if sensitive:
            self.add("F2F-FS-003", node, f"{action} on {shown!r}")

    def _check_hosts(self, node: ast.Call, action: str, network_call: bool) -> None:
        """NET-003 for every literal URL or host in a network call that is not the federation server's host.

        Plain strings count as hosts only in calls into network modules: `.connect("db.sqlite")` is not one."""
        values: list[tuple[ast.expr, bool]] = [(arg, False) for arg in node.args] + [(kw.value, False) for kw in node.keywords]
        for value, _ in list(values):
            if isinstance(value, (ast.Tuple, ast.List)) and value.elts:
                values.append((value.elts[0], True))  # (host, port) pairs
        for value, is_host in values:
            text = self.names.fold(value)
            if not isinstance(text, str) or len(text) > MAX_ADDRESS_CHARS:
                continue
            if "://" in text or is_host or (network_call and HOST_PORT.fullmatch(text.strip())):
                host = host_of(text)
            else:
                continue
            if host and host != self.declared_host:
                self.add("F2F-NET-003", node, f"{action} to {host!r} (federation server: {self.declared_host!r})")
