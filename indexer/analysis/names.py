"""What a name or an expression stands for, as far as it can be known without running anything.

:class:`Names` is built from a module's tree in one pre-pass (imports, aliases, names bound exactly once).
``qualname`` resolves a reference to a fully qualified name ("o.system" -> "os.system"), ``fold`` computes a
constant string ("ev" + "al", "METSYS".lower()), ``path`` renders a path expression with :data:`UNKNOWN`
where only the run time knows, and ``argument`` finds a call's argument, seeing through ``**{...}``.
"""

from __future__ import annotations

import ast
import re

from .policy import BUILTIN_NAMES, classify
from .report import MAX_BYTES

MAX_PATH_CHARS = 4096  # no system opens a longer path
UNKNOWN = "\uffff"  # stands for the run-time part of a path
TEMPORARY = "\ufffe"  # stands for a fresh temporary directory (tempfile.mkdtemp()): writing inside it is fine
# An argument that may be hidden in `*args` or `**kwargs`: present, but unreadable.
HIDDEN = ast.Name(id="<hidden>", ctx=ast.Load())

PATH_TYPES = {"pathlib.Path", "pathlib.PurePath", "pathlib.PosixPath", "pathlib.WindowsPath", "pathlib.PurePosixPath"}
PATH_JOINS = {"os.path.join", "posixpath.join", "ntpath.join"} | PATH_TYPES
PATH_SAME = {"os.path.expanduser", "os.path.abspath", "os.path.realpath", "os.path.normpath", "os.fspath",
             "builtins.str", "os.path.expandvars"}
PATH_PRESERVING_METHODS = {"expanduser", "resolve", "absolute", "with_name", "with_suffix", "with_stem"}
# str methods that fold over constants: name -> how many constant arguments they take at most.
STRING_METHODS = {"lower": 0, "upper": 0, "casefold": 0, "strip": 1, "lstrip": 1, "rstrip": 1, "title": 0,
                  "capitalize": 0, "swapcase": 0, "replace": 3, "removeprefix": 1, "removesuffix": 1, "decode": 2,
                  "encode": 2, "format": 64}


WIDE_PERCENT = re.compile(r"%[-#0 +]*[\d*]")  # "%999999999s" would build a huge string
FORMAT_FIELD = re.compile(r"\{([^{}]{0,200})\}")


def _bounded(method: str, receiver: str | bytes, arguments: list) -> bool:
    """Whether computing `receiver.method(*arguments)` stays small (folding must not be a memory bomb)."""
    if method == "replace" and len(arguments) >= 2:
        return (len(receiver) + 1) * max(1, len(arguments[1])) <= 2 * MAX_BYTES
    if method == "format":  # no width ("{:>999999999}"), no attribute or item walks ("{0.__class__}")
        fields = FORMAT_FIELD.findall(receiver) if isinstance(receiver, str) else None
        return fields is not None and not any(re.search(r"[.\[]|:.*[\d*]", field) for field in fields) \
            and len(receiver) + sum(len(a) for a in arguments) * max(1, receiver.count("{")) <= 2 * MAX_BYTES
    return True


def last_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    return node.attr if isinstance(node, ast.Attribute) else None


def integer(node: ast.expr | None) -> int | None:
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant) \
            and type(node.operand.value) is int:
        return -node.operand.value
    return None


def add_chain(node: ast.BinOp) -> tuple[list[ast.expr], list[ast.BinOp]]:
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


def concat(parts: list, separator: str = "") -> str | bytes | None:
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


def join_paths(parts: list[str]) -> str:
    joined = ""
    for part in parts:
        if part.startswith(("/", "~")) or not joined:
            joined = part
        else:
            joined = joined.rstrip("/") + "/" + part
    return joined


class Names:
    def __init__(self, tree: ast.Module) -> None:
        self.aliases: dict[str, str] = {}  # local name -> qualified name, e.g. "o" -> "os"
        self.module_names: set[str] = set()  # local names bound by `import x` (module objects)
        self.star_modules: list[str] = []
        self.bindings: dict[str, ast.expr] = {}  # names assigned exactly once -> their value
        self.bound_names: set[str] = set()  # every name the file binds (assignments, defs, arguments, imports)
        self.imports: list[tuple[ast.stmt, str, str]] = []  # (statement, module, what "import" shows)
        self.parents: dict[int, ast.AST] = {}
        # Parameters of each function: inside it they hide an import alias or a builtin of the same name.
        self.parameters: dict[int, set[str]] = {}
        self._fold_cache: dict[int, str | bytes | None] = {}
        self._path_cache: dict[int, str] = {}
        self._qualname_cache: dict[int, str | None] | None = None  # on once the aliases are settled
        self.alias_conflicts: set[str] = set()  # names imported as different modules in different places
        self._prepare(tree)
        self._qualname_cache = {}

    def _prepare(self, tree: ast.Module) -> None:
        stores: dict[str, int] = {}
        assigned: dict[str, ast.expr] = {}
        alias_candidates: list[tuple[str, ast.expr]] = []
        count = lambda name: stores.__setitem__(name, stores.get(name, 0) + 1)  # noqa: E731
        for node in ast.walk(tree):
            for child in ast.iter_child_nodes(node):
                self.parents[id(child)] = node
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                arguments = node.args
                self.parameters[id(node)] = {a.arg for a in arguments.posonlyargs + arguments.args + arguments.kwonlyargs}
                self.parameters[id(node)] |= {a.arg for a in (arguments.vararg, arguments.kwarg) if a}
            if isinstance(node, ast.Import):
                for alias in node.names:
                    local = alias.asname or alias.name.split(".")[0]
                    target = alias.name if alias.asname else local
                    if self.aliases.get(local, target) != target:
                        self.alias_conflicts.add(local)
                    self.aliases[local] = target
                    self.module_names.add(local)
                    self.imports.append((node, alias.name, f"import {alias.name}"))
                    count(local)
            elif isinstance(node, ast.ImportFrom):
                module = "." * node.level + (node.module or "")
                for alias in node.names:
                    self.imports.append((node, f"{module}.{alias.name}" if alias.name != "*" else module,
                                         f"from {module} import {alias.name}"))
                    if alias.name == "*":
                        self.star_modules.append(module)
                    else:
                        local = alias.asname or alias.name
                        if self.aliases.get(local, f"{module}.{alias.name}") != f"{module}.{alias.name}":
                            self.alias_conflicts.add(local)
                        self.aliases[local] = f"{module}.{alias.name}"
                        count(local)
            elif isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
                count(node.id)
            elif isinstance(node, ast.arg):
                count(node.arg)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                count(node.name)
            elif isinstance(node, ast.ExceptHandler) and node.name:
                count(node.name)
            elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
                count(node.name)
            if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    if isinstance(target, ast.Name):
                        assigned[target.id] = node.value
                        alias_candidates.append((target.id, node.value))
            elif isinstance(node, ast.withitem) and isinstance(node.optional_vars, ast.Name):
                assigned[node.optional_vars.id] = node.context_expr  # with TemporaryDirectory() as tmp
            elif isinstance(node, ast.NamedExpr):
                assigned[node.target.id] = node.value
                alias_candidates.append((node.target.id, node.value))
        self.bindings = {name: value for name, value in assigned.items() if stores.get(name) == 1}
        self.bound_names = set(stores)
        for _ in range(3):  # x = os; y = x.system: a few rounds resolve short chains
            for name, value in alias_candidates:
                if name not in self.aliases and isinstance(value, (ast.Name, ast.Attribute, ast.Call, ast.Subscript)):
                    resolved = self.qualname(value)
                    if resolved:
                        self.aliases[name] = resolved

    # -- references -------------------------------------------------------------------------

    def qualname(self, node: ast.expr, depth: int = 0) -> str | None:
        """The fully qualified name `node` refers to (e.g. "os.system"), or None when it is not a known name."""
        if self._qualname_cache is None or depth:
            return self._qualname(node, depth)
        key = id(node)
        if key not in self._qualname_cache:
            self._qualname_cache[key] = self._qualname(node, 0)
        return self._qualname_cache[key]

    def _qualname(self, node: ast.expr, depth: int = 0) -> str | None:
        if depth > 50:
            return None
        if isinstance(node, ast.Name):
            if self.is_parameter(node):
                return None  # whatever the caller passed: judged where it is passed
            if node.id in self.aliases:
                return self.aliases[node.id]
            if node.id == "__builtins__":
                return "builtins"
            if node.id in BUILTIN_NAMES:  # even where the file binds it too: scopes are not followed
                return f"builtins.{node.id}"
            if node.id not in self.bound_names:  # so it can only come from a star import
                for module in self.star_modules:
                    if classify(f"{module}.{node.id}"):
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
            if function in ("sys.modules.get", "pkgutil.resolve_name") and node.args:
                module = self.fold(node.args[0])
                return module.replace(":", ".") if isinstance(module, str) else None
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
            if isinstance(node.value, ast.Call) and self.qualname(node.value.func, depth + 1) in (
                    "builtins.globals", "builtins.vars", "builtins.locals"):
                return self.qualname(ast.Name(id=key, ctx=ast.Load()), depth + 1)
        return None

    def is_parameter(self, node: ast.Name) -> bool:
        """Whether `node` names a parameter of a function it is in (a default value is outside it)."""
        child, parent = node, self.parents.get(id(node))
        while parent is not None:
            if id(parent) in self.parameters and node.id in self.parameters[id(parent)]:
                return child not in (parent.args.defaults + [d for d in parent.args.kw_defaults if d]) \
                    and not (isinstance(parent, (ast.FunctionDef, ast.AsyncFunctionDef))
                             and (child in parent.decorator_list or child is parent.returns))
            child, parent = parent, self.parents.get(id(parent))
        return False

    # -- arguments --------------------------------------------------------------------------

    def argument(self, call: ast.Call, position: int, keyword: str) -> ast.expr | None:
        """The expression passed as `keyword` (or at `position`), HIDDEN when it may be inside `*args` or
        `**kwargs` the analysis cannot read, None when it is not passed."""
        for kw in call.keywords:
            if kw.arg == keyword:
                return kw.value
        for kw in call.keywords:
            if kw.arg is None:
                unpacked = self._literal_dict(kw.value)
                if unpacked is None:
                    return HIDDEN
                if keyword in unpacked:
                    return unpacked[keyword]
        for index, arg in enumerate(call.args[: position + 1]):
            if isinstance(arg, ast.Starred):
                return HIDDEN
            if index == position:
                return arg
        return None

    def _literal_dict(self, node: ast.expr, depth: int = 0) -> dict[str, ast.expr] | None:
        if isinstance(node, ast.Name) and node.id in self.bindings and depth < 5:
            return self._literal_dict(self.bindings[node.id], depth + 1)
        if isinstance(node, ast.Dict) and None not in node.keys:
            keys = [self.fold(key) for key in node.keys]
            if all(isinstance(key, str) for key in keys):
                return dict(zip(keys, node.values))
        if isinstance(node, ast.Call) and self.builtin(node.func) == "builtins.dict" and not node.args \
                and all(kw.arg for kw in node.keywords):
            return {kw.arg: kw.value for kw in node.keywords}
        return None

    # -- constants --------------------------------------------------------------------------

    def fold(self, node: ast.expr | None, depth: int = 0) -> str | bytes | None:
        """The constant str/bytes value of `node` when it can be computed without running anything."""
        if node is None or node is HIDDEN or depth > 20:
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
            return concat([self.fold(part, depth + 1) for part in add_chain(node)[0]])
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
            template, value = self.fold(node.left, depth + 1), node.right
            values = value.elts if isinstance(value, ast.Tuple) else [value]
            folded = [self.fold(item, depth + 1) for item in values]
            if isinstance(template, str) and all(isinstance(v, str) for v in folded) and not WIDE_PERCENT.search(template) \
                    and len(template) + sum(len(v) for v in folded) <= 2 * MAX_BYTES:
                try:
                    return template % tuple(folded)
                except (TypeError, ValueError, KeyError):
                    return None
            return None
        if isinstance(node, ast.JoinedStr):
            parts = []
            for part in node.values:
                if isinstance(part, ast.FormattedValue):
                    if part.conversion != -1 or part.format_spec is not None:
                        return None
                    part = part.value
                parts.append(self.fold(part, depth + 1))
            return concat(parts)
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Slice):
            value, bounds = self.fold(node.value, depth + 1), (node.slice.lower, node.slice.upper, node.slice.step)
            if value is None or any(b is not None and integer(b) is None for b in bounds) or integer(node.slice.step) == 0:
                return None
            return value[slice(*(None if b is None else integer(b) for b in bounds))]
        if isinstance(node, ast.Call) and not node.keywords:
            return self._fold_call(node, depth)
        return None

    def builtin(self, node: ast.expr) -> str | None:
        """`node`'s qualified name when it is surely the builtin: a file that binds `str` anywhere may mean its
        own, so a value computed through it is not trusted (references are still judged as the builtin)."""
        function = self.qualname(node)
        if function and function.startswith("builtins.") and function[9:] in self.bound_names:
            return None
        return function

    def _fold_call(self, node: ast.Call, depth: int) -> str | bytes | None:
        function = self.builtin(node.func)
        if isinstance(node.func, ast.Attribute):
            method = node.func.attr
            if method == "join" and len(node.args) == 1:
                separator, items = self.fold(node.func.value, depth + 1), self._sequence(node.args[0], depth + 1)
                if isinstance(separator, str) and items is not None and all(isinstance(p, str) for p in items):
                    return concat(items, separator) if items else ""
                return None
            if method in STRING_METHODS and len(node.args) <= STRING_METHODS[method] and self.qualname(node.func) is None:
                receiver = self.fold(node.func.value, depth + 1)
                arguments = [self.fold(arg, depth + 1) for arg in node.args]
                if receiver is None or any(a is None for a in arguments) or len(receiver) > MAX_BYTES:
                    return None
                if not _bounded(method, receiver, arguments):
                    return None
                try:
                    result = getattr(receiver, method)(*arguments)
                except (TypeError, ValueError, LookupError, IndexError, KeyError, AttributeError):
                    return None
                return result if isinstance(result, (str, bytes)) and len(result) <= 2 * MAX_BYTES else None
        if function == "builtins.chr" and len(node.args) == 1:
            code = integer(node.args[0])
            return chr(code) if code is not None and 0 <= code < 0x110000 else None
        if function in ("builtins.str", "builtins.bytes") and len(node.args) == 1:
            value = self.fold(node.args[0], depth + 1)
            if value is not None and type(value) is (str if function == "builtins.str" else bytes):
                return value
            if function == "builtins.bytes":
                items = self._integers(node.args[0])
                return bytes(items) if items is not None else None
        return None

    def _sequence(self, node: ast.expr, depth: int) -> list | None:
        """The constant items of a list/tuple/str, also reversed(...) or a comprehension over chr(...)."""
        if isinstance(node, (ast.List, ast.Tuple)):
            return [self.fold(item, depth + 1) for item in node.elts]
        if isinstance(node, ast.Call) and self.builtin(node.func) in ("builtins.reversed", "builtins.list",
                                                                      "builtins.tuple") and len(node.args) == 1:
            items = self._sequence(node.args[0], depth + 1)
            if items is None:
                return None
            return items[::-1] if self.builtin(node.func) == "builtins.reversed" else items
        value = self.fold(node, depth + 1)
        if isinstance(value, str):
            return list(value)
        if isinstance(node, (ast.GeneratorExp, ast.ListComp)) and len(node.generators) == 1:
            loop = node.generators[0]
            numbers = self._integers(loop.iter)
            element = node.elt
            if numbers is not None and not loop.ifs and isinstance(loop.target, ast.Name) \
                    and isinstance(element, ast.Call) and self.builtin(element.func) == "builtins.chr" \
                    and len(element.args) == 1 and isinstance(element.args[0], ast.Name) \
                    and element.args[0].id == loop.target.id:
                return [chr(n) for n in numbers if 0 <= n < 0x110000]
        return None

    def _integers(self, node: ast.expr) -> list[int] | None:
        if isinstance(node, ast.Name) and node.id in self.bindings:
            node = self.bindings[node.id]
        if isinstance(node, (ast.List, ast.Tuple)) and len(node.elts) <= MAX_BYTES:
            numbers = [integer(item) for item in node.elts]
            return numbers if all(n is not None and 0 <= n < 256 for n in numbers) else None
        return None

    # -- paths ------------------------------------------------------------------------------

    def path(self, node: ast.expr | None, depth: int = 0) -> str:
        """A path expression as text, with UNKNOWN for the parts only known at run time."""
        if node is None or node is HIDDEN or depth > 20:
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
        if isinstance(node, ast.Name) and node.id == "__file__" and "__file__" not in self.bound_names:
            return "./Client.py"  # the script itself, where the participant saved it
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            return join_paths([self.path(node.left, depth + 1), self.path(node.right, depth + 1)])
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            return "".join(self.path(part, depth + 1) for part in add_chain(node)[0])
        if isinstance(node, ast.JoinedStr):
            return "".join(self.path(p.value if isinstance(p, ast.FormattedValue) else p, depth + 1) for p in node.values)
        if isinstance(node, ast.Subscript) and self.qualname(node.value) == "os.environ" and self.fold(node.slice) == "HOME":
            return "~"
        if isinstance(node, ast.Attribute) and node.attr == "parent":
            return self.path(node.value, depth + 1)
        if not isinstance(node, ast.Call):
            return UNKNOWN
        function = self.builtin(node.func)
        if function in ("tempfile.mkdtemp", "tempfile.gettempdir", "tempfile.TemporaryDirectory"):
            return TEMPORARY
        if function in ("io.BytesIO", "io.StringIO"):
            return "in-memory-buffer"  # not a file at all
        if function == "pathlib.Path.home":
            return "~"
        if function in ("pathlib.Path.cwd", "os.getcwd"):
            return "."
        if function in ("os.getenv", "os.environ.get") and self.fold(self.argument(node, 0, "key")) == "HOME":
            return "~"
        if function in PATH_JOINS:
            return join_paths([self.path(arg, depth + 1) for arg in node.args]) if node.args else "."
        if function in PATH_SAME and node.args:
            return self.path(node.args[0], depth + 1)
        if isinstance(node.func, ast.Attribute):
            if node.func.attr == "joinpath":
                return join_paths([self.path(node.func.value, depth + 1)] + [self.path(a, depth + 1) for a in node.args])
            if node.func.attr in PATH_PRESERVING_METHODS:
                return self.path(node.func.value, depth + 1)
        return UNKNOWN

    def is_path_object(self, node: ast.expr, depth: int = 0) -> bool:
        """Whether `node` is visibly a pathlib path (Path(...), Path.home() / "x", a name bound to one...)."""
        if depth > 20:
            return False
        if isinstance(node, ast.Name):
            return node.id in self.bindings and self.is_path_object(self.bindings[node.id], depth + 1)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            return self.is_path_object(node.left, depth + 1)
        if isinstance(node, ast.Attribute) and node.attr == "parent":
            return self.is_path_object(node.value, depth + 1)
        if isinstance(node, ast.Call):
            function = self.qualname(node.func) or ""
            if function in PATH_TYPES or function in ("pathlib.Path.home", "pathlib.Path.cwd"):
                return True
            if isinstance(node.func, ast.Attribute) and node.func.attr in PATH_PRESERVING_METHODS | {"joinpath"}:
                return self.is_path_object(node.func.value, depth + 1)
        return False


def path_problem(path: str) -> str | None:
    """'outside' (absolute, ~, .., $VAR), 'dynamic' (built at run time) or None (a plain relative path)."""
    path = path.removeprefix(TEMPORARY + "/") if path.startswith(TEMPORARY + "/") else path
    if TEMPORARY in path:
        return "dynamic"
    if path.startswith(("/", "\\", "~", "$")) or re.match(r"[A-Za-z]:", path) or ".." in re.split(r"[/\\]", path):
        return "outside"
    return "dynamic" if UNKNOWN in path else None
