"""Static checks of an uploaded Flower ``Client.py``: the script is parsed, never imported or run.

``analyze(content, declared_server_address=...)`` returns a :class:`Report`:

* ``"invalid"``: the file is rejected automatically; ``errors`` says why (too big, not UTF-8,
  not Python, not a Flower client, wrong server address, ...).
* ``"findings"``: the file is a Flower client, but ``findings`` lists what a human reviewer must
  look at (process execution, dynamic code, unsafe deserialization, network, native code, file
  writes outside the working directory, obfuscated payloads).
* ``"clean"``: nothing to report.

Every rule id and its explanation lives in :data:`RULES`. Names are resolved through import
aliases (``import os as o``, ``from os import system as s``, ``__import__("os")``,
``getattr(__builtins__, "ev" + "al")``, star imports, ``x = os.system``), so renaming does not hide
a call. This module is pure standard library and never imports Django: run it through
:func:`indexer.sandbox.analyze_in_child` to bound its CPU time and memory.
"""

from __future__ import annotations

import ast
import builtins
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_BYTES = 256 * 1024
BLOB_MIN_CHARS = 200  # a base64/hex/binary constant at least this long is an obfuscated payload
DECODED_MIN_CHARS = 16  # decoding a constant at least this long at run time is reported
MAX_FINDINGS = 500  # past this, the rest are summarised in one F2F-LIMIT-002 finding
MAX_DETAIL_CHARS = 160  # a finding's message quotes at most this much of the file
MAX_PATH_CHARS = 4096  # no system opens a longer path
MAX_ADDRESS_CHARS = 2048  # longer strings are not host names or URLs worth parsing

RULES: dict[str, str] = {
    # Validity: any of these makes the file "invalid".
    "F2F-FILE-001": f"the file is larger than {MAX_BYTES} bytes",
    "F2F-FILE-002": "the file contains NUL bytes",
    "F2F-FILE-003": "the file is not UTF-8 text",
    "F2F-FILE-004": "the file is not valid Python",
    "F2F-FILE-005": "the file declares a source encoding other than UTF-8, so Python would run other code than the one checked",
    "F2F-FLWR-001": "the script does not import flwr",
    "F2F-FLWR-002": "the script defines no Flower client (no NumPyClient/Client subclass, no ClientApp)",
    "F2F-FLWR-003": "the script has no entry point (no start_client/start_numpy_client call, no module-level ClientApp)",
    "F2F-ADDR-001": "the script's server address is not the declared federation server",
    "F2F-LIMIT-001": "the analysis exceeded its limits (CPU time, memory, recursion depth or wall-clock time)",
    # Findings: a reviewer must see these.
    "F2F-LIMIT-002": "too many findings; only the first ones are listed",
    "F2F-EXEC-001": "runs a shell command",
    "F2F-EXEC-002": "replaces or forks the current process",
    "F2F-EXEC-003": "starts external programs",
    "F2F-DYN-001": "runs code built at run time",
    "F2F-DYN-002": "compiles code at run time",
    "F2F-DYN-003": "imports a module chosen at run time",
    "F2F-DYN-004": "imports or runs modules dynamically",
    "F2F-DYN-005": "reads or changes a module attribute chosen at run time",
    "F2F-DYN-006": "reaches into builtins, globals or module namespaces",
    "F2F-DYN-007": "builds functions or code objects by hand",
    "F2F-DESER-001": "deserializes data in a way that can run arbitrary code",
    "F2F-DESER-002": "loads a file with pickle, which can run arbitrary code",
    "F2F-DESER-003": "numpy.load with allow_pickle can run arbitrary code",
    "F2F-DESER-004": "yaml.load without a safe loader can run arbitrary code",
    "F2F-NET-001": "opens raw network sockets or listening servers",
    "F2F-NET-002": "makes HTTP or other network requests",
    "F2F-NET-003": "contacts a host other than the federation server",
    "F2F-FFI-001": "loads native code",
    "F2F-FS-001": "writes or deletes files outside the working directory",
    "F2F-FS-002": "writes or deletes files at a path computed at run time",
    "F2F-FS-003": "refers to a sensitive file (keys, credentials, shell start-up files)",
    "F2F-OBF-001": "embeds a long encoded blob that hides its content from a reader",
    "F2F-OBF-002": "decodes an embedded constant at run time",
    "F2F-OBF-003": "runs code that is decoded at run time",
    "F2F-OBF-004": "contains invisible or bidirectional control characters that hide code from a reader",
}

# Fully qualified names (after alias resolution) -> rule. A module entry covers everything in it,
# except "builtins", which only matches an explicit reference to the builtins module itself.
DANGEROUS: dict[str, str] = {
    **dict.fromkeys(["os.system", "os.popen", "os.startfile", "posix.system", "nt.system", "platform.popen"], "F2F-EXEC-001"),
    **dict.fromkeys(["os.fork", "os.forkpty", "posix.fork"], "F2F-EXEC-002"),
    **dict.fromkeys(["subprocess", "pty", "commands", "popen2", "pexpect", "sh", "plumbum",
                     "asyncio.create_subprocess_exec", "asyncio.create_subprocess_shell", "asyncio.subprocess"], "F2F-EXEC-003"),
    **dict.fromkeys(["builtins.eval", "builtins.exec"], "F2F-DYN-001"),
    **dict.fromkeys(["builtins.compile", "codeop"], "F2F-DYN-002"),
    "builtins.__import__": "F2F-DYN-003",
    **dict.fromkeys(["importlib", "imp", "runpy", "zipimport", "code"], "F2F-DYN-004"),
    **dict.fromkeys(["builtins", "builtins.globals"], "F2F-DYN-006"),
    **dict.fromkeys(["types.FunctionType", "types.CodeType", "types.LambdaType"], "F2F-DYN-007"),
    **dict.fromkeys(["pickle", "cPickle", "_pickle", "dill", "cloudpickle", "marshal", "shelve", "jsonpickle"], "F2F-DESER-001"),
    **dict.fromkeys(["joblib.load", "pandas.read_pickle", "sklearn.externals.joblib.load"], "F2F-DESER-002"),
    **dict.fromkeys(["yaml.unsafe_load", "yaml.unsafe_load_all", "yaml.UnsafeLoader", "yaml.Loader"], "F2F-DESER-004"),
    **dict.fromkeys(["socket", "_socket", "socketserver", "http.server", "xmlrpc.server",
                     "asyncio.open_connection", "asyncio.start_server"], "F2F-NET-001"),
    **dict.fromkeys(["urllib.request", "urllib2", "http.client", "httplib", "requests", "httpx", "aiohttp", "urllib3",
                     "ftplib", "smtplib", "telnetlib", "poplib", "imaplib", "xmlrpc.client", "paramiko", "websocket",
                     "websockets", "pycurl", "grpc", "webbrowser", "wget"], "F2F-NET-002"),
    **dict.fromkeys(["ctypes", "_ctypes", "cffi"], "F2F-FFI-001"),
}
DANGEROUS_PREFIXES: dict[str, str] = {"os.exec": "F2F-EXEC-002", "os.spawn": "F2F-EXEC-002", "os.posix_spawn": "F2F-EXEC-002"}

OPEN_CALLS = {"builtins.open", "io.open", "codecs.open", "os.open", "os.fdopen"}
# Calls that write, move or delete -> positions of their path arguments.
FS_CALLS: dict[str, tuple[int, ...]] = {
    **dict.fromkeys(["os.remove", "os.unlink", "os.rmdir", "os.removedirs", "os.truncate", "os.chmod", "os.chown",
                     "os.mkfifo", "shutil.rmtree", "shutil.chown"], (0,)),
    **dict.fromkeys(["os.rename", "os.renames", "os.replace", "shutil.move"], (0, 1)),
    **dict.fromkeys(["os.symlink", "os.link", "shutil.copy", "shutil.copy2", "shutil.copyfile", "shutil.copytree"], (1,)),
}
PATH_WRITE_METHODS = {"write_text", "write_bytes"}  # Path-only names: any receiver counts
PATH_CHANGE_METHODS = {"unlink", "rmdir", "rename", "replace", "touch", "chmod", "symlink_to", "hardlink_to", "open"}
PATH_TYPES = {"pathlib.Path", "pathlib.PurePath", "pathlib.PosixPath", "pathlib.WindowsPath", "pathlib.PurePosixPath"}
PATH_JOINS = {"os.path.join", "posixpath.join", "ntpath.join"} | PATH_TYPES
PATH_SAME = {"os.path.expanduser", "os.path.abspath", "os.path.realpath", "os.path.normpath", "os.fspath", "builtins.str"}
PATH_PRESERVING_METHODS = {"expanduser", "resolve", "absolute", "with_name", "with_suffix", "with_stem"}

DECODERS = {
    "base64.b64decode", "base64.b32decode", "base64.b16decode", "base64.b85decode", "base64.a85decode",
    "base64.decodebytes", "base64.decodestring", "base64.urlsafe_b64decode", "base64.standard_b64decode",
    "binascii.unhexlify", "binascii.a2b_hex", "binascii.a2b_base64", "binascii.a2b_uu",
    "builtins.bytes.fromhex", "builtins.bytearray.fromhex", "codecs.decode",
    "zlib.decompress", "gzip.decompress", "bz2.decompress", "lzma.decompress",
}
OBFUSCATING_CODECS = {"hex", "hexcodec", "base64", "base64codec", "rot13", "zlib", "zlibcodec", "bz2", "bz2codec", "uu", "uucodec"}
SAFE_YAML_LOADERS = {"yaml.SafeLoader", "yaml.CSafeLoader", "yaml.BaseLoader", "yaml.CBaseLoader"}
ESCAPE_DUNDERS = {"__globals__", "__code__", "__subclasses__", "__builtins__", "__import__", "__loader__", "__closure__"}
SOCKET_METHODS = {"connect", "connect_ex", "sendto", "create_connection"}
ENTRY_POINTS = {"start_client", "start_numpy_client"}
CLIENT_BASES = {"NumPyClient", "Client"}

SENSITIVE_PATH = re.compile(
    r"\.ssh\b|\bid_(?:rsa|dsa|ecdsa|ed25519)\b|authorized_keys|\.aws/|\.gnupg|\.netrc|\.pgpass|\.pypirc|"
    r"\.git-credentials|\.kube/config|\.docker/config\.json|\.config/gcloud|/etc/(?:passwd|shadow|sudoers)|"
    r"/etc/cron|\.bashrc|\.bash_profile|\.bash_history|\.zshrc|\.zprofile|\.profile\b|crontab"
)
HIDING_CHARACTERS = re.compile("[\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\u115f\u1160\u3164\uffa0]")
CODING_COOKIE = re.compile(r"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)")
HOST = re.compile(r"(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,}|\d{1,3}(?:\.\d{1,3}){3}|localhost|\[[0-9A-Fa-f:.]+\]")
HOST_PORT = re.compile(rf"({HOST.pattern})(?::\d+)?")
BASE64_BLOB = re.compile(r"[A-Za-z0-9+/_-]+={0,2}")
HEX_BLOB = re.compile(r"(?:0x)?[0-9A-Fa-f]+|(?:\\x[0-9A-Fa-f]{2})+")
NOT_TEXT_BYTE = re.compile(r"[^\x20-\x7e\t\r\n]")
CONTROL_CHARACTER = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
UNKNOWN = "\uffff"  # stands for the run-time part of a path
BUILTIN_NAMES = frozenset(dir(builtins))


@dataclass(frozen=True)
class Finding:
    rule: str  # stable rule id, e.g. "F2F-EXEC-001"
    line: int  # 1-based line number (0 when the finding concerns the whole file)
    message: str  # one-line explanation for a reviewer


@dataclass(frozen=True)
class Report:
    verdict: str  # "invalid" | "findings" | "clean"
    errors: tuple[Finding, ...]  # why the file is invalid; empty unless verdict == "invalid"
    findings: tuple[Finding, ...]  # what a reviewer must see (also kept for invalid files)

    def to_dict(self) -> dict:
        """A JSON-serialisable dict: {"verdict", "errors": [{"rule", "line", "message"}], "findings": [...]}."""
        as_list = lambda items: [{"rule": f.rule, "line": f.line, "message": f.message} for f in items]  # noqa: E731
        return {"verdict": self.verdict, "errors": as_list(self.errors), "findings": as_list(self.findings)}

    @classmethod
    def from_dict(cls, data: dict) -> Report:
        """The inverse of :meth:`to_dict`; raises ValueError on a malformed dict."""
        def items(key: str) -> tuple[Finding, ...]:
            rows = data.get(key, [])
            if not isinstance(rows, list):
                raise ValueError(f"{key} must be a list")
            found = []
            for row in rows:
                try:
                    rule, line, message = row["rule"], row["line"], row["message"]
                except (KeyError, TypeError):
                    raise ValueError(f"malformed finding: {row!r}") from None
                if not (isinstance(rule, str) and type(line) is int and isinstance(message, str)):
                    raise ValueError(f"malformed finding: {row!r}")
                found.append(Finding(rule, line, message))
            return tuple(found)

        if not isinstance(data, dict):
            raise ValueError("a report must be a dict")
        verdict = data.get("verdict")
        if verdict not in ("invalid", "findings", "clean"):
            raise ValueError(f"unknown verdict: {verdict!r}")
        return cls(verdict, items("errors"), items("findings"))


def analyze(content: bytes, *, declared_server_address: str) -> Report:
    """Check a Client.py's bytes against every rule in :data:`RULES`. Never imports or executes `content`."""
    if len(content) > MAX_BYTES:
        return _invalid("F2F-FILE-001", 0, f"{len(content)} bytes")
    if b"\x00" in content:
        return _invalid("F2F-FILE-002", _line_at(content, content.index(b"\x00")), "NUL byte")
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as error:
        return _invalid("F2F-FILE-003", _line_at(content, error.start), f"byte 0x{content[error.start]:02x} at offset {error.start}")
    text = text.removeprefix("\ufeff")
    for number, line in enumerate(text.split("\n", 2)[:2], start=1):  # PEP 263: a cookie on line 1 or 2
        cookie = CODING_COOKIE.match(line)
        codec = cookie.group(1).lower().replace("_", "-") if cookie else "utf-8"
        if codec not in ("utf-8", "utf8", "ascii", "us-ascii") and not codec.startswith("utf-8-"):
            return _invalid("F2F-FILE-005", number, f"coding: {cookie.group(1)}")
    try:
        tree = ast.parse(text, filename="Client.py")
    except SyntaxError as error:
        return _invalid("F2F-FILE-004", error.lineno or 0, f"{error.msg} (line {error.lineno or '?'})")
    except ValueError as error:
        return _invalid("F2F-FILE-004", 0, str(error))
    except (RecursionError, MemoryError):
        return _invalid("F2F-LIMIT-001", 0, "the file is too deeply nested to parse")
    try:
        return _Analyzer(tree, declared_server_address).run(text)
    except (RecursionError, MemoryError):
        return _invalid("F2F-LIMIT-001", 0, "the file is too deeply nested to analyze")


def _finding(rule: str, line: int, detail: str) -> Finding:
    if len(detail) > MAX_DETAIL_CHARS:
        detail = detail[: MAX_DETAIL_CHARS - 1] + "…"
    return Finding(rule, line, f"{detail}: {RULES[rule]}" if detail else RULES[rule])


def _invalid(rule: str, line: int, detail: str) -> Report:
    return Report("invalid", (_finding(rule, line, detail),), ())


def _line_at(content: bytes, offset: int) -> int:
    return content.count(b"\n", 0, offset) + 1


def _display(name: str) -> str:
    return name.removeprefix("builtins.")


def _last_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    return node.attr if isinstance(node, ast.Attribute) else None


def _int(node: ast.expr | None) -> int | None:
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant) \
            and type(node.operand.value) is int:
        return -node.operand.value
    return None


def _argument(call: ast.Call, position: int, keyword: str) -> ast.expr | None:
    for kw in call.keywords:
        if kw.arg == keyword:
            return kw.value
    if len(call.args) > position and not any(isinstance(a, ast.Starred) for a in call.args[: position + 1]):
        return call.args[position]
    return None


def _add_chain(node: ast.BinOp) -> tuple[list[ast.expr], list[ast.BinOp]]:
    """Operands (in order) and inner nodes of a chain of `+`, without recursion."""
    operands, inner, stack = [], [], [node]
    while stack:
        item = stack.pop()
        if isinstance(item, ast.BinOp) and isinstance(item.op, ast.Add):
            inner.append(item)
            stack += [item.right, item.left]
        else:
            operands.append(item)
    return operands, inner


def _blob_kind(value: str | bytes) -> str | None:
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


def _path_problem(path: str) -> str | None:
    """'outside' (absolute, ~, ..), 'dynamic' (built at run time) or None (a plain relative path)."""
    if path.startswith(("/", "\\", "~")) or re.match(r"[A-Za-z]:", path) or ".." in re.split(r"[/\\]", path):
        return "outside"
    return "dynamic" if UNKNOWN in path else None


def _join(parts: list[str]) -> str:
    joined = ""
    for part in parts:
        if part.startswith(("/", "~")) or not joined:
            joined = part
        else:
            joined = joined.rstrip("/") + "/" + part
    return joined


def _host_of(address: str) -> str:
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


class _Analyzer(ast.NodeVisitor):
    """One pass over the tree after a pre-pass that records imports, aliases and single assignments."""

    def __init__(self, tree: ast.Module, declared_server_address: str) -> None:
        self.tree = tree
        self.declared = declared_server_address.strip()
        self.declared_host = _host_of(self.declared)
        self.aliases: dict[str, str] = {}  # local name -> qualified name, e.g. "o" -> "os"
        self.star_modules: list[str] = []
        self.bindings: dict[str, ast.expr] = {}  # names assigned exactly once -> their value
        self.bound_names: set[str] = set()  # every name the file binds (assignments, defs, arguments, imports)
        self.docstrings: set[int] = set()
        self.imports_flwr = self.client_defined = self.entry_point = False
        self.client_classes: set[str] = set()
        self.errors: list[Finding] = []
        self.findings: dict[tuple[str, int], Finding] = {}
        self._inner_adds: set[int] = set()
        self._fold_cache: dict[int, str | bytes | None] = {}
        self._path_cache: dict[int, str] = {}
        self._prepare()

    # -- entry ------------------------------------------------------------------------------

    def run(self, text: str) -> Report:
        self.visit(self.tree)
        for number, line in enumerate(re.split(r"\r\n|\r|\n", text), start=1):
            hidden = HIDING_CHARACTERS.search(line)
            if hidden:
                self.add("F2F-OBF-004", number, f"U+{ord(hidden.group()):04X}")
        self.entry_point = self.entry_point or self._has_module_level_client_app()
        if not self.imports_flwr:
            self.errors.append(_finding("F2F-FLWR-001", 0, ""))
        if not self.client_defined:
            self.errors.append(_finding("F2F-FLWR-002", 0, ""))
        if not self.entry_point:
            self.errors.append(_finding("F2F-FLWR-003", 0, ""))
        findings = sorted(self.findings.values(), key=lambda f: (f.line, f.rule))
        if len(findings) > MAX_FINDINGS:
            rest = len(findings) - MAX_FINDINGS
            findings = [_finding("F2F-LIMIT-002", 0, f"{rest} more not listed")] + findings[:MAX_FINDINGS]
        errors = tuple(sorted(set(self.errors), key=lambda f: (f.line, f.rule)))
        verdict = "invalid" if errors else "findings" if findings else "clean"
        return Report(verdict, errors, tuple(findings))

    def add(self, rule: str, where: ast.AST | int, detail: str) -> None:
        line = where if isinstance(where, int) else getattr(where, "lineno", 0)
        self.findings.setdefault((rule, line), _finding(rule, line, detail))

    # -- pre-pass ---------------------------------------------------------------------------

    def _prepare(self) -> None:
        stores: dict[str, int] = {}
        assigned: dict[str, ast.expr] = {}
        alias_candidates: list[tuple[str, ast.expr]] = []
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    self.imports_flwr |= alias.name == "flwr" or alias.name.startswith("flwr.")
                    local = alias.asname or alias.name.split(".")[0]
                    self.aliases[local] = alias.name if alias.asname else local
                    stores[local] = stores.get(local, 0) + 1
            elif isinstance(node, ast.ImportFrom):
                module = "." * node.level + (node.module or "")
                self.imports_flwr |= node.level == 0 and (module == "flwr" or module.startswith("flwr."))
                for alias in node.names:
                    if alias.name == "*":
                        self.star_modules.append(module)
                    else:
                        local = alias.asname or alias.name
                        self.aliases[local] = f"{module}.{alias.name}"
                        stores[local] = stores.get(local, 0) + 1
            elif isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
                stores[node.id] = stores.get(node.id, 0) + 1
            elif isinstance(node, ast.arg):
                stores[node.arg] = stores.get(node.arg, 0) + 1
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                stores[node.name] = stores.get(node.name, 0) + 1
            elif isinstance(node, ast.ExceptHandler) and node.name:
                stores[node.name] = stores.get(node.name, 0) + 1
            if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.body:
                first = node.body[0]
                if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                    self.docstrings.add(id(first.value))
            if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    if isinstance(target, ast.Name):
                        assigned[target.id] = node.value
                        alias_candidates.append((target.id, node.value))
        self.bindings = {name: value for name, value in assigned.items() if stores.get(name) == 1}
        self.bound_names = set(stores)
        for _ in range(3):  # x = os; y = x.system: a few rounds resolve short chains
            for name, value in alias_candidates:
                if name not in self.aliases and isinstance(value, (ast.Name, ast.Attribute, ast.Call, ast.Subscript)):
                    resolved = self.qualname(value)
                    if resolved:
                        self.aliases[name] = resolved

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

    # -- resolution -------------------------------------------------------------------------

    def qualname(self, node: ast.expr, depth: int = 0) -> str | None:
        """The fully qualified name `node` refers to (e.g. "os.system"), or None when it is not a known name."""
        if depth > 50:
            return None
        if isinstance(node, ast.Name):
            if node.id in self.aliases:
                return self.aliases[node.id]
            if node.id == "__builtins__":
                return "builtins"
            if node.id in BUILTIN_NAMES:
                return f"builtins.{node.id}"
            if node.id not in self.bound_names:  # so it can only come from a star import
                for module in self.star_modules:
                    if self.classify(f"{module}.{node.id}"):
                        return f"{module}.{node.id}"
            return None
        if isinstance(node, ast.Attribute):
            base = self.qualname(node.value, depth + 1)
            return f"{base}.{node.attr}" if base else None
        if isinstance(node, ast.Call):
            function = self.qualname(node.func, depth + 1)
            if function in ("builtins.__import__", "importlib.import_module") and node.args:
                module = self.fold(node.args[0])
                return module if isinstance(module, str) else None
            if function == "builtins.getattr" and len(node.args) >= 2:
                base, name = self.qualname(node.args[0], depth + 1), self.fold(node.args[1])
                return f"{base}.{name}" if base and isinstance(name, str) else None
            return None
        if isinstance(node, ast.Subscript):
            key = self.fold(node.slice)
            if not isinstance(key, str):
                return None
            if self.qualname(node.value, depth + 1) == "sys.modules":
                return key
            if isinstance(node.value, ast.Attribute) and node.value.attr == "__dict__":
                base = self.qualname(node.value.value, depth + 1)
                return f"{base}.{key}" if base else None
            if isinstance(node.value, ast.Call) and self.qualname(node.value.func, depth + 1) == "builtins.globals":
                return self.qualname(ast.Name(id=key, ctx=ast.Load()), depth + 1)
        return None

    @staticmethod
    def classify(name: str) -> str | None:
        """The rule a qualified name falls under, matching the longest known prefix."""
        parts = name.split(".")
        for end in range(len(parts), 0, -1):
            prefix = ".".join(parts[:end])
            if prefix in DANGEROUS and (prefix != "builtins" or end == len(parts)):
                return DANGEROUS[prefix]
        for prefix, rule in DANGEROUS_PREFIXES.items():
            if name.startswith(prefix):
                return rule
        return None

    def fold(self, node: ast.expr | None, depth: int = 0) -> str | bytes | None:
        """The constant str/bytes value of `node` when it can be computed without running anything."""
        if node is None or depth > 20:
            return None
        if isinstance(node, ast.Constant):
            return node.value if isinstance(node.value, (str, bytes)) else None
        if id(node) in self._fold_cache:
            return self._fold_cache[id(node)]
        self._fold_cache[id(node)] = None  # guards against cycles
        self._fold_cache[id(node)] = self._fold(node, depth)
        return self._fold_cache[id(node)]

    def _fold(self, node: ast.expr, depth: int) -> str | bytes | None:
        if isinstance(node, ast.Name):
            return self.fold(self.bindings.get(node.id), depth + 1)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            return self._concat([self.fold(part, depth + 1) for part in _add_chain(node)[0]])
        if isinstance(node, ast.JoinedStr):
            parts = []
            for part in node.values:
                if isinstance(part, ast.FormattedValue):
                    if part.conversion != -1 or part.format_spec is not None:
                        return None
                    part = part.value
                parts.append(self.fold(part, depth + 1))
            return self._concat(parts)
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Slice):
            value, bounds = self.fold(node.value, depth + 1), (node.slice.lower, node.slice.upper, node.slice.step)
            if value is None or any(b is not None and _int(b) is None for b in bounds) or _int(node.slice.step) == 0:
                return None
            return value[slice(*(None if b is None else _int(b) for b in bounds))]
        if isinstance(node, ast.Call) and not node.keywords:
            if isinstance(node.func, ast.Attribute) and node.func.attr == "join" and len(node.args) == 1 \
                    and isinstance(node.args[0], (ast.List, ast.Tuple)):
                separator = self.fold(node.func.value, depth + 1)
                parts = [self.fold(item, depth + 1) for item in node.args[0].elts]
                if isinstance(separator, str) and all(isinstance(p, str) for p in parts):
                    return self._concat(parts, separator)
            if self.qualname(node.func) == "builtins.chr" and len(node.args) == 1:
                code = _int(node.args[0])
                return chr(code) if code is not None and 0 <= code < 0x110000 else None
        return None

    @staticmethod
    def _concat(parts: list[str | bytes | None], separator: str = "") -> str | bytes | None:
        """The parts joined, or None if one is unknown, their types differ or the result would be huge."""
        if not parts or any(p is None for p in parts):
            return None
        if sum(len(p) for p in parts) + len(separator) * len(parts) > 2 * MAX_BYTES:
            return None
        if all(isinstance(p, str) for p in parts):
            return separator.join(parts)
        if all(isinstance(p, bytes) for p in parts):
            return separator.encode().join(parts)
        return None

    def path(self, node: ast.expr | None, depth: int = 0) -> str:
        """A path expression as text, with UNKNOWN for the parts only known at run time."""
        if node is None or depth > 20:
            return UNKNOWN
        constant = self.fold(node)
        if isinstance(constant, (str, bytes)):
            return (constant if isinstance(constant, str) else constant.decode("latin-1"))[:MAX_PATH_CHARS]
        if id(node) not in self._path_cache:
            self._path_cache[id(node)] = UNKNOWN  # guards against cycles
            self._path_cache[id(node)] = self._path(node, depth)[:MAX_PATH_CHARS]
        return self._path_cache[id(node)]

    def _path(self, node: ast.expr, depth: int) -> str:
        if isinstance(node, ast.Name) and node.id in self.bindings:
            return self.path(self.bindings[node.id], depth + 1)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            return _join([self.path(node.left, depth + 1), self.path(node.right, depth + 1)])
        if isinstance(node, ast.JoinedStr):
            return "".join(self.path(p.value if isinstance(p, ast.FormattedValue) else p, depth + 1) for p in node.values)
        if isinstance(node, ast.Subscript) and self.qualname(node.value) == "os.environ" and self.fold(node.slice) == "HOME":
            return "~"
        if isinstance(node, ast.Attribute) and node.attr == "parent":
            return self.path(node.value, depth + 1)
        if not isinstance(node, ast.Call):
            return UNKNOWN
        function = self.qualname(node.func)
        if function == "pathlib.Path.home":
            return "~"
        if function in ("pathlib.Path.cwd", "os.getcwd"):
            return "."
        if function in ("os.getenv", "os.environ.get") and self.fold(_argument(node, 0, "key")) == "HOME":
            return "~"
        if function in PATH_JOINS:
            return _join([self.path(arg, depth + 1) for arg in node.args]) if node.args else "."
        if function in PATH_SAME and node.args:
            return self.path(node.args[0], depth + 1)
        if isinstance(node.func, ast.Attribute):
            if node.func.attr == "joinpath":
                return _join([self.path(node.func.value, depth + 1)] + [self.path(a, depth + 1) for a in node.args])
            if node.func.attr in PATH_PRESERVING_METHODS:
                return self.path(node.func.value, depth + 1)
        return UNKNOWN

    def _is_path_object(self, node: ast.expr, depth: int = 0) -> bool:
        """Whether `node` is visibly a pathlib path (Path(...), Path.home() / "x", a name bound to one...)."""
        if depth > 20:
            return False
        if isinstance(node, ast.Name):
            return node.id in self.bindings and self._is_path_object(self.bindings[node.id], depth + 1)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            return self._is_path_object(node.left, depth + 1)
        if isinstance(node, ast.Attribute) and node.attr == "parent":
            return self._is_path_object(node.value, depth + 1)
        if isinstance(node, ast.Call):
            function = self.qualname(node.func) or ""
            if function in PATH_TYPES or function in ("pathlib.Path.home", "pathlib.Path.cwd"):
                return True
            if isinstance(node.func, ast.Attribute) and node.func.attr in PATH_PRESERVING_METHODS | {"joinpath"}:
                return self._is_path_object(node.func.value, depth + 1)
        return False

    def _is_flower(self, function: ast.expr, *names: str) -> bool:
        """Whether `function` is one of `names` from flwr (any qualified form), or an unresolved name like it."""
        resolved = self.qualname(function)
        if resolved is not None:
            return resolved.startswith("flwr.") and resolved.rsplit(".", 1)[-1] in names
        return _last_name(function) in names

    # -- visitors ---------------------------------------------------------------------------

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            rule = self.classify(alias.name)
            if rule:
                self.add(rule, node, f"import {alias.name}")

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = "." * node.level + (node.module or "")
        for alias in node.names:
            name = module if alias.name == "*" else f"{module}.{alias.name}"
            rule = self.classify(name)
            if rule:
                self.add(rule, node, f"from {module} import {alias.name}")

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            self._check_reference(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        self._check_reference(node)
        if node.attr in ESCAPE_DUNDERS or (node.attr == "__dict__" and self.qualname(node.value)):
            self.add("F2F-DYN-006", node, f".{node.attr}")
        self.generic_visit(node)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        self._check_reference(node)
        self.generic_visit(node)

    def _check_reference(self, node: ast.expr) -> None:
        name = self.qualname(node)
        rule = name and self.classify(name)
        if rule:
            self.add(rule, node, _display(name))

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for base in node.bases:
            if self._is_flower(base, *CLIENT_BASES) or _last_name(base) in self.client_classes:
                self.client_defined = True
                self.client_classes.add(node.name)
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, (str, bytes)):
            self._check_string(node.value, node)

    def visit_BinOp(self, node: ast.BinOp) -> None:
        """Check a literal concatenation ("ev" + "al", a payload split over lines) as one string."""
        if isinstance(node.op, ast.Add) and id(node) not in self._inner_adds:
            operands, inner = _add_chain(node)
            self._inner_adds.update(id(item) for item in inner)
            # Literals only: following names here would re-check ever longer strings, line after line.
            value = self._concat([o.value if isinstance(o, ast.Constant) else None for o in operands])
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
        kind = _blob_kind(value)
        if kind:
            self.add("F2F-OBF-001", node, f"{kind} constant of {len(value)} characters")
        if isinstance(value, str) and id(node) not in self.docstrings:
            sensitive = SENSITIVE_PATH.search(value)
            if sensitive:
                self.add("F2F-FS-003", node, repr(sensitive.group()))

    def visit_Call(self, node: ast.Call) -> None:
        self._check_reference(node)  # __import__("os"), getattr(os, "system"), ...
        function = self.qualname(node.func) or ""
        method = node.func.attr if isinstance(node.func, ast.Attribute) else None
        if self._is_flower(node.func, "ClientApp"):
            self.client_defined = True
        if self._is_flower(node.func, *ENTRY_POINTS):
            self.entry_point = True
            self._check_server_address(node)
        if method == "add_argument":
            self._check_argparse_default(node)
        if function in ("builtins.getattr", "builtins.setattr", "builtins.delattr"):
            self._check_dynamic_attribute(node, function)
        if function == "builtins.vars" and (not node.args or self.qualname(node.args[0])):
            self.add("F2F-DYN-006", node, "vars()")
        if function in ("builtins.eval", "builtins.exec", "builtins.compile") and self._contains_decoding(node):
            self.add("F2F-OBF-003", node, _display(function))
        if function in DECODERS:
            self._check_decoding(node, function)
        self._check_deserialization(node, function)
        self._check_file_writes(node, function, method)
        network_call = self.classify(function) in ("F2F-NET-001", "F2F-NET-002")
        if network_call or method in SOCKET_METHODS:
            self._check_hosts(node, _display(function) if function else f".{method}", network_call)
        self.generic_visit(node)

    # -- call checks ------------------------------------------------------------------------

    def _check_server_address(self, node: ast.Call) -> None:
        address = _argument(node, 0, "server_address")
        candidates = [self.fold(address)]
        if isinstance(address, ast.Call) and self.qualname(address.func) in ("os.getenv", "os.environ.get"):
            candidates.append(self.fold(_argument(address, 1, "default")))
        for value in candidates:
            if isinstance(value, str) and value.strip().lower() != self.declared.lower():
                self.errors.append(_finding("F2F-ADDR-001", node.lineno, f"server_address {value!r} (declared {self.declared!r})"))

    def _check_argparse_default(self, node: ast.Call) -> None:
        options = [self.fold(arg) for arg in node.args]
        names = [o.lower().replace("-", "").replace("_", "") for o in options if isinstance(o, str)]
        if not any(word in n for n in names for word in ("server", "addr", "host")) \
                or any(word in n for n in names for word in ("cert", "key", "file", "path", "dir")):
            return
        default = next((self.fold(kw.value) for kw in node.keywords if kw.arg == "default"), None)
        if not isinstance(default, str) or not (HOST_PORT.fullmatch(default.strip()) or "://" in default):
            return
        default = default.strip()
        expected = self.declared if ":" in default else self.declared_host
        if default.lower() != expected.lower():
            option = next(o for o in options if isinstance(o, str))
            self.errors.append(_finding("F2F-ADDR-001", node.lineno, f"{option} defaults to {default!r} (declared {self.declared!r})"))

    def _check_dynamic_attribute(self, node: ast.Call, function: str) -> None:
        if len(node.args) < 2:
            return
        target, name = self.qualname(node.args[0]), self.fold(node.args[1])
        if isinstance(name, str) and name in ESCAPE_DUNDERS | {"__dict__"}:
            self.add("F2F-DYN-006", node, f"{_display(function)}(..., {name!r})")
        elif target and not isinstance(name, str):
            self.add("F2F-DYN-005", node, f"{_display(function)}({_display(target)}, <computed name>)")

    def _contains_decoding(self, node: ast.Call) -> bool:
        """Whether the arguments of exec/eval/compile decode something (following names bound once)."""
        pending: list[ast.AST] = list(node.args)
        seen = 0
        while pending and seen < 10_000:
            item = pending.pop()
            seen += 1
            if isinstance(item, ast.Call) and (self.qualname(item.func) in DECODERS or _last_name(item.func) == "fromhex"):
                return True
            if isinstance(item, ast.Name) and item.id in self.bindings:
                pending.append(self.bindings[item.id])
            pending.extend(ast.iter_child_nodes(item))
        return False

    def _check_decoding(self, node: ast.Call, function: str) -> None:
        data = self.fold(_argument(node, 0, "s"))
        if function == "codecs.decode":
            codec = self.fold(_argument(node, 1, "encoding"))
            normalized = codec.lower().replace("-", "").replace("_", "") if isinstance(codec, str) else None
            if normalized is not None and normalized not in OBFUSCATING_CODECS:
                return
            if normalized in ("rot13", None):
                self.add("F2F-OBF-002", node, f"codecs.decode(..., {codec!r})" if codec else "codecs.decode")
                return
        if data is not None and len(data) >= DECODED_MIN_CHARS:
            self.add("F2F-OBF-002", node, f"{_display(function)} of a {len(data)}-character constant")

    def _check_deserialization(self, node: ast.Call, function: str) -> None:
        if function == "torch.load":
            weights_only = _argument(node, 99, "weights_only")
            if not (isinstance(weights_only, ast.Constant) and weights_only.value is True):
                self.add("F2F-DESER-002", node, "torch.load without weights_only=True")
        elif function == "numpy.load":
            allow = _argument(node, 2, "allow_pickle")
            if allow is not None and not (isinstance(allow, ast.Constant) and not allow.value):
                self.add("F2F-DESER-003", node, "numpy.load(..., allow_pickle=True)")
        elif function in ("yaml.load", "yaml.load_all"):
            loader = _argument(node, 1, "Loader")
            if loader is None or self.qualname(loader) not in SAFE_YAML_LOADERS:
                self.add("F2F-DESER-004", node, f"{function} without SafeLoader")

    def _check_file_writes(self, node: ast.Call, function: str, method: str | None) -> None:
        if function in OPEN_CALLS:
            if function == "os.open":
                flags = _argument(node, 1, "flags")
                writes = flags is None or self.qualname(flags) != "os.O_RDONLY"
            else:
                mode = _argument(node, 1, "mode")
                mode_text = self.fold(mode) if mode is not None else "r"
                writes = not isinstance(mode_text, str) or any(c in mode_text for c in "wax+")
            if writes and function != "os.fdopen":
                self._check_path(node, _display(function), self.path(_argument(node, 0, "file")))
        elif function in FS_CALLS:
            for position in FS_CALLS[function]:
                self._check_path(node, function, self.path(_argument(node, position, "dst" if position else "path")))
        elif method in PATH_WRITE_METHODS or (method in PATH_CHANGE_METHODS and self._is_path_object(node.func.value)):
            if method == "open":
                mode = _argument(node, 0, "mode")
                mode_text = self.fold(mode) if mode is not None else "r"
                if isinstance(mode_text, str) and not any(c in mode_text for c in "wax+"):
                    return
            receiver = self.path(node.func.value) if self._is_path_object(node.func.value) else UNKNOWN
            self._check_path(node, f"Path.{method}", receiver)
            if method in ("rename", "replace", "symlink_to", "hardlink_to") and node.args:
                self._check_path(node, f"Path.{method}", self.path(node.args[0]))

    def _check_path(self, node: ast.Call, action: str, path: str) -> None:
        problem = _path_problem(path)
        shown = path.replace(UNKNOWN, "<computed>")
        if problem == "outside":
            self.add("F2F-FS-001", node, f"{action} on {shown!r}")
        elif problem == "dynamic":
            self.add("F2F-FS-002", node, f"{action} on {shown!r}")

    def _check_hosts(self, node: ast.Call, action: str, network_call: bool) -> None:
        """NET-003 for every literal URL or host in a network call that is not the federation server's host.

        Plain strings count as hosts only in calls into network modules: `.connect("db.sqlite")` is not one."""
        values: list[tuple[ast.expr, bool]] = [(arg, False) for arg in node.args] + [(kw.value, False) for kw in node.keywords]
        for value, _ in list(values):
            if isinstance(value, (ast.Tuple, ast.List)) and value.elts:
                values.append((value.elts[0], True))  # (host, port) pairs
        for value, is_host in values:
            text = self.fold(value)
            if not isinstance(text, str) or len(text) > MAX_ADDRESS_CHARS:
                continue
            if "://" in text or is_host or (network_call and HOST_PORT.fullmatch(text.strip())):
                host = _host_of(text)
            else:
                continue
            if host and host != self.declared_host:
                self.add("F2F-NET-003", node, f"{action} to {host!r} (federation server: {self.declared_host!r})")
