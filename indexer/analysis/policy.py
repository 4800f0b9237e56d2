"""What the analysis knows: the names that are dangerous, and the names reviewed as ordinary for a Flower client.

Every reference in a script resolves to a qualified name ("os.path.join", "numpy.load", "builtins.eval").
:func:`judge` gives the rule it falls under: a specific rule for a known-dangerous name; ``F2F-UNREV-002``
for any name outside :data:`REVIEWED`; ``None`` only for a name shown to be ordinary. Adding a module here
is a security decision: a whole-module entry accepts everything in it except what :data:`DANGEROUS` lists,
private names, unusual dunders and other modules reached through it.
"""

from __future__ import annotations

import builtins
import sys

WHOLE = None  # a REVIEWED entry that accepts every public name in the module (see judge())

# Fully qualified names (after alias resolution) -> rule, matching the longest prefix. A module entry covers
# everything in it, except "builtins", which only matches an explicit reference to the builtins module itself.
DANGEROUS: dict[str, str] = {
    **dict.fromkeys(["os.system", "os.popen", "os.startfile", "posix.system", "nt.system", "platform.popen"], "F2F-EXEC-001"),
    **dict.fromkeys(["os.fork", "os.forkpty", "posix.fork", "posix", "nt", "_posixsubprocess"], "F2F-EXEC-002"),
    **dict.fromkeys(["subprocess", "pty", "commands", "popen2", "pexpect", "sh", "plumbum", "multiprocessing",
                     "concurrent.futures.ProcessPoolExecutor", "concurrent.futures.process", "torch.multiprocessing",
                     "asyncio.create_subprocess_exec", "asyncio.create_subprocess_shell", "asyncio.subprocess",
                     "pydoc", "webbrowser", "os.kill", "os.killpg", "numpy.f2py", "numpy.distutils",
                     "torch.utils.cpp_extension", "pip", "setuptools", "distutils", "ensurepip"], "F2F-EXEC-003"),
    **dict.fromkeys(["builtins.eval", "builtins.exec", "timeit", "cProfile", "profile", "pdb", "bdb", "doctest",
                     "trace", "idlelib", "builtins.breakpoint", "sys.breakpointhook", "pandas.eval",
                     "logging.config"], "F2F-DYN-001"),
    **dict.fromkeys(["builtins.compile", "codeop", "py_compile", "compileall"], "F2F-DYN-002"),
    **dict.fromkeys(["builtins.__import__", "pkgutil.resolve_name"], "F2F-DYN-003"),
    **dict.fromkeys(["importlib", "imp", "runpy", "zipimport", "code", "pkgutil", "sys.meta_path", "sys.path_hooks",
                     "sys.path_importer_cache"], "F2F-DYN-004"),
    **dict.fromkeys(["operator.attrgetter", "operator.methodcaller"], "F2F-DYN-005"),
    **dict.fromkeys(["builtins", "builtins.globals", "builtins.locals", "sys.modules",
                     "__main__"], "F2F-DYN-006"),
    **dict.fromkeys(["types.FunctionType", "types.CodeType", "types.LambdaType", "types.MethodType",
                     "types.ModuleType", "types.new_class"], "F2F-DYN-007"),
    **dict.fromkeys(["sys._getframe", "sys.settrace", "sys.setprofile", "sys.excepthook", "sys.addaudithook",
                     "sys.displayhook", "inspect", "gc.get_referrers", "gc.get_referents", "gc.get_objects",
                     "ctypes.pythonapi", "atexit", "threading.settrace", "threading.setprofile"], "F2F-DYN-008"),
    **dict.fromkeys(["pickle", "cPickle", "_pickle", "dill", "cloudpickle", "marshal", "shelve", "jsonpickle",
                     "copyreg", "multiprocessing.reduction", "torch.serialization", "torch.package",
                     "torch.jit.load"], "F2F-DESER-001"),
    **dict.fromkeys(["joblib", "pandas.read_pickle", "pandas.to_pickle", "sklearn.externals.joblib"], "F2F-DESER-002"),
    **dict.fromkeys(["yaml.unsafe_load", "yaml.unsafe_load_all", "yaml.UnsafeLoader", "yaml.Loader", "yaml.FullLoader",
                     "yaml.full_load", "yaml.full_load_all"], "F2F-DESER-004"),
    **dict.fromkeys(["keras.layers.Lambda", "tensorflow.keras.layers.Lambda", "keras.config.enable_unsafe_deserialization",
                     "tensorflow.keras.config.enable_unsafe_deserialization", "tensorflow.saved_model.load",
                     "tensorflow.keras.layers.TFSMLayer", "keras.layers.TFSMLayer", "tensorflow.saved_model.loader",
                     "torch.hub.load", "tensorflow.py_func"], "F2F-DESER-005"),
    **dict.fromkeys(["socket", "_socket", "socketserver", "http.server", "xmlrpc.server", "ssl", "select", "selectors",
                     "asyncio.open_connection", "asyncio.start_server", "asyncio.open_unix_connection",
                     "asyncio.start_unix_server", "torch.distributed", "logging.handlers", "dns"], "F2F-NET-001"),
    **dict.fromkeys(["urllib.request", "urllib2", "http.client", "httplib", "requests", "httpx", "aiohttp", "urllib3",
                     "ftplib", "smtplib", "telnetlib", "poplib", "imaplib", "nntplib", "xmlrpc.client", "paramiko",
                     "websocket", "websockets", "pycurl", "grpc", "wget", "socketio", "torch.hub",
                     "tensorflow.keras.utils.get_file", "keras.utils.get_file", "huggingface_hub"], "F2F-NET-002"),
    **dict.fromkeys(["ctypes", "_ctypes", "cffi", "numpy.ctypeslib", "tensorflow.load_op_library",
                     "tensorflow.load_library", "torch.ops.load_library", "torch.classes.load_library"], "F2F-FFI-001"),
    **dict.fromkeys(["tarfile", "zipfile", "shutil.unpack_archive", "torchvision.datasets.utils"], "F2F-FS-004"),
    **dict.fromkeys(["contextlib.chdir", "os.chdir", "os.fchdir"], "F2F-FS-001"),
    **dict.fromkeys(["typing.get_type_hints", "typing.ForwardRef", "typing._eval_type", "annotationlib",
                     "flwr.common.object_ref"], "F2F-DYN-001"),
    "flwr.common.grpc": "F2F-NET-002",
    "flwr.common.logger.configure": "F2F-NET-002",  # sends Flower's log to a host, or writes it anywhere
    "tensorflow.distribute.Server": "F2F-NET-001",
    **dict.fromkeys(["functools.singledispatch", "functools.singledispatchmethod"], "F2F-DYN-001"),
    # Frameworks' internal packages: not their public API, and full of re-exported standard-library modules.
    **dict.fromkeys(["keras.src", "tensorflow.python", "tensorflow.core", "tf_keras.src", "torch.testing",
                     "torch.utils.collect_env", "matplotlib.testing", "transformers.dynamic_module_utils",
                     "transformers.utils.hub", "numpy.testing", "flwr.client.grpc_client", "flwr.client.grpc_rere_client",
                     "flwr.client.rest_client", "flwr.client.grpc_adapter_client"], "F2F-UNREV-002"),
}
# Words that betray a dangerous capability wherever they appear in a name, resolved or not ("ForkingPickler",
# "subprocess_run_for_testing", "loop.subprocess_shell", "python_multiprocessing"), matched case-insensitively.
DANGEROUS_WORDS: dict[str, str] = {
    "pickl": "F2F-DESER-001", "marshal": "F2F-DESER-001", "subprocess": "F2F-EXEC-003",
    "multiprocessing": "F2F-EXEC-003", "popen": "F2F-EXEC-001", "spawn": "F2F-EXEC-002", "collect_env": "F2F-EXEC-003",
    "urlopen": "F2F-NET-002", "urlretrieve": "F2F-NET-002", "load_url": "F2F-NET-002", "from_url": "F2F-NET-002", "remotemonitor": "F2F-NET-002", "tracking_uri": "F2F-NET-002",
    "create_channel": "F2F-NET-002", "create_connection": "F2F-NET-001", "open_connection": "F2F-NET-001",
    "create_server": "F2F-NET-001", "start_server": "F2F-NET-001", "datagram_endpoint": "F2F-NET-001",
    "sock_connect": "F2F-NET-001", "getaddrinfo": "F2F-NET-001", "gethostbyname": "F2F-NET-001",
    "dynamic_module": "F2F-DESER-005", "remote_code": "F2F-DESER-005", "func_load": "F2F-DESER-005",
    "unsafe_deserial": "F2F-DESER-005", "safemodescope": "F2F-DESER-005", "extract_archive": "F2F-FS-004",
    "extractall": "F2F-FS-004", "load_library": "F2F-FFI-001", "load_op_library": "F2F-FFI-001", "dlopen": "F2F-FFI-001",
    "ctypes": "F2F-FFI-001", "object_ref": "F2F-DYN-004", "load_app": "F2F-DYN-004", "get_type_hints": "F2F-DYN-001",
    "get_field": "F2F-DYN-005", "chdir": "F2F-FS-001", "_getframe": "F2F-DYN-008", "import_module": "F2F-DYN-004",
    "load_delegate": "F2F-FFI-001", "externals": "F2F-UNREV-002", "_vendor": "F2F-UNREV-002",
    "array_api_compat": "F2F-UNREV-002",
}
DANGEROUS_PREFIXES: dict[str, str] = {"os.exec": "F2F-EXEC-002", "os.spawn": "F2F-EXEC-002", "os.posix_spawn": "F2F-EXEC-002"}

# Names reviewed as ordinary. A module maps to WHOLE (every public name in it) or to the set of its names that
# are ordinary (deeper attributes of those are accepted: "os.environ.get" through "environ").
REVIEWED: dict[str, frozenset[str] | None] = {
    # Flower and the machine-learning stack a client ordinarily uses.
    # Flower: the client-side API only (its transports, CLI and loaders are not a client's business).
    "flwr": frozenset({"client", "clientapp", "app", "common", "__version__"}),
    **dict.fromkeys([
        "flwr_datasets", "numpy", "torch", "torchvision", "torchaudio", "torchmetrics", "tensorflow", "keras",
        "tf_keras", "sklearn", "scipy", "pandas", "jax", "jaxlib", "flax", "optax", "haiku", "chex", "transformers",
        "datasets", "evaluate", "peft", "accelerate", "tokenizers", "sentencepiece", "tqdm", "PIL", "matplotlib",
        "seaborn", "xgboost", "lightgbm", "catboost", "opacus", "mlx", "timm", "monai", "medmnist", "albumentations",
        "lightning", "pytorch_lightning", "einops", "safetensors", "h5py", "tensorflow_datasets", "tensorflow_privacy",
        "statsmodels", "openml", "pyarrow", "polars", "omegaconf", "hydra", "wandb", "mlflow", "tensorboard",
        "torch_geometric", "dgl", "onnx", "onnxruntime", "sympy", "numba", "cv2", "skimage", "librosa",
        "soundfile", "nltk", "spacy", "gensim", "fastai", "mxnet", "trl", "bitsandbytes", "flwr_baselines",
    ], WHOLE),
    # Standard-library modules with nothing dangerous in them.
    **dict.fromkeys([
        "typing", "typing_extensions", "collections", "dataclasses", "enum", "abc", "math", "cmath", "statistics",
        "random", "functools", "itertools", "copy", "time", "datetime", "calendar", "decimal", "fractions", "numbers",
        "string", "textwrap", "re", "json", "csv", "warnings", "contextlib", "heapq", "bisect", "uuid", "hashlib",
        "hmac", "secrets", "struct", "array", "queue", "pprint", "argparse", "glob", "fnmatch", "base64", "binascii",
        "zlib", "gzip", "bz2", "lzma", "os.path", "posixpath", "ntpath", "traceback", "getpass", "locale", "unicodedata",
        "difflib", "weakref", "operator", "timeit.default_timer", "logging.handlers.RotatingFileHandler", "__future__",
    ], WHOLE),
    # Standard-library modules of which only some names are ordinary.
    "os": frozenset({
        "path", "environ", "getenv", "makedirs", "mkdir", "listdir", "scandir", "walk", "getcwd", "cpu_count",
        "getpid", "sep", "linesep", "pathsep", "curdir", "pardir", "name", "stat", "remove", "unlink", "rename",
        "replace", "rmdir", "removedirs", "urandom", "devnull", "fspath", "get_terminal_size", "sched_getaffinity",
        "PathLike", "error", "open", "O_RDONLY", "O_WRONLY", "O_CREAT", "O_TRUNC", "O_APPEND",
    }),
    "sys": frozenset({
        "argv", "exit", "version", "version_info", "platform", "stdout", "stderr", "stdin", "maxsize", "float_info",
        "byteorder", "executable", "getsizeof", "getrecursionlimit", "setrecursionlimit", "implementation",
    }),
    "logging": frozenset({
        "getLogger", "basicConfig", "Logger", "LoggerAdapter", "StreamHandler", "FileHandler", "Formatter", "Handler",
        "NullHandler", "Filter", "LogRecord", "captureWarnings", "disable", "log", "debug", "info", "warning", "warn",
        "error", "exception", "critical", "DEBUG", "INFO", "WARNING", "WARN", "ERROR", "CRITICAL", "NOTSET",
        "root", "getLevelName",
    }),
    "pathlib": frozenset({"Path", "PurePath", "PosixPath", "PurePosixPath", "WindowsPath", "PureWindowsPath"}),
    "io": frozenset({"BytesIO", "StringIO", "open", "FileIO", "TextIOWrapper", "BufferedReader", "IOBase",
                     "DEFAULT_BUFFER_SIZE"}),
    "shutil": frozenset({"rmtree", "copy", "copy2", "copyfile", "copytree", "move", "disk_usage", "which",
                         "get_terminal_size", "make_archive"}),
    "tempfile": frozenset({"TemporaryDirectory", "mkdtemp", "mkstemp", "NamedTemporaryFile", "TemporaryFile",
                           "gettempdir", "SpooledTemporaryFile"}),
    "threading": frozenset({"Thread", "Lock", "RLock", "Event", "Condition", "Semaphore", "BoundedSemaphore", "Timer",
                            "current_thread", "get_ident", "local", "Barrier", "active_count"}),
    "concurrent": frozenset({"futures"}),
    "concurrent.futures": frozenset({"ThreadPoolExecutor", "as_completed", "wait", "Future", "TimeoutError",
                                     "FIRST_COMPLETED", "ALL_COMPLETED"}),
    "platform": frozenset({"system", "machine", "python_version", "processor", "release", "node", "platform",
                           "architecture", "uname", "mac_ver"}),
    "gc": frozenset({"collect", "disable", "enable"}),
    "signal": frozenset({"signal", "SIGINT", "SIGTERM", "SIG_DFL", "SIG_IGN"}),
    "types": frozenset({"SimpleNamespace", "MappingProxyType", "GeneratorType"}),
    "asyncio": frozenset({"run", "sleep", "gather", "get_event_loop", "new_event_loop", "set_event_loop", "Queue",
                          "wait_for", "TimeoutError", "Event", "Lock", "create_task"}),
    "urllib": frozenset({"parse"}),
    "urllib.parse": WHOLE,
    "collections.abc": WHOLE,
    "yaml": frozenset({"load", "load_all", "safe_load", "safe_load_all", "safe_dump", "safe_dump_all", "dump", "SafeLoader",
                       "CSafeLoader", "YAMLError"}),
}

# Ordinary builtins are every builtin except these (which have their own rule or none at all).
UNREVIEWED_BUILTINS = {"help", "__build_class__", "__loader__", "__spec__", "memoryview", "copyright", "credits",
                       "license"}
BUILTIN_NAMES = frozenset(dir(builtins))

# Dunders an ordinary client uses; any other attribute or name spelled __x__ is reported.
ORDINARY_DUNDER_ATTRIBUTES = {"__name__", "__init__", "__doc__", "__version__", "__qualname__", "__len__",
                              "__call__", "__enter__", "__exit__", "__getitem__", "__iter__", "__next__", "__repr__",
                              "__str__", "__eq__", "__hash__", "__annotations__", "__dataclass_fields__"}
ORDINARY_DUNDER_NAMES = {"__name__", "__file__", "__doc__", "__version__", "__all__", "__author__", "__annotations__"}
# Attributes of frames, code objects, generators and tracebacks: the way into the interpreter from any object.
INTERNAL_ATTRIBUTES = {
    "f_builtins", "f_globals", "f_locals", "f_back", "f_code", "f_trace", "gi_frame", "gi_code", "cr_frame",
    "cr_code", "ag_frame", "ag_code", "tb_frame", "tb_next", "co_code", "co_consts", "co_names", "func_globals",
    "func_code", "im_func", "mro",
}
# Method names that run programs, load libraries or resolve names: reported on any receiver, even one the
# analysis cannot follow (a module passed in as an argument, an object from a call).
SUSPICIOUS_METHODS = {
    "system", "popen", "Popen", "check_output", "check_call", "getoutput", "getstatusoutput", "execv", "execve",
    "execl", "execle", "execlp", "execlpe", "execvp", "execvpe", "spawnv", "spawnve", "spawnl", "spawnlp",
    "posix_spawn", "posix_spawnp", "fork", "forkpty", "load_library", "LoadLibrary", "dlopen", "CDLL", "PyDLL",
    "WinDLL", "cdll", "import_module", "resolve_name", "run_path", "run_module", "attrgetter", "methodcaller",
    "create_subprocess_shell", "create_subprocess_exec", "pipepager", "runctx", "runcall", "runsource",
    "runcode", "interact", "exec_module", "load_module", "find_spec", "loads", "Unpickler", "_getframe",
    "getattr_static", "unsafe_load",
}
# Modules an attacker reaches through another one ("shutil.os", "logging.handlers.socket"): a path that goes
# through one of these names is judged as that module, and is never ordinary inside a reviewed module.
REACHABLE_MODULES = {
    "os", "sys", "subprocess", "builtins", "importlib", "ctypes", "_ctypes", "pickle", "_pickle", "socket", "_socket",
    "shutil", "marshal", "runpy", "pty", "posix", "nt", "_posixsubprocess", "multiprocessing", "asyncio", "pdb",
    "timeit", "cProfile", "pydoc", "webbrowser", "http", "urllib", "urllib3", "ftplib", "smtplib", "ssl", "tempfile",
    "pkgutil", "zipimport", "shelve", "dill", "cloudpickle", "joblib", "requests", "tarfile", "zipfile", "codeop",
    "gc", "inspect", "copyreg", "io", "pathlib", "threading", "signal", "atexit", "types",
    "socketserver", "xmlrpc", "telnetlib", "imp", "code", "yaml", "sqlite3", "platform",
}
# ... except where a framework names its own submodule like one of them ("tensorflow.io", "torch.types").
FRAMEWORK_SUBMODULES = {"io", "types", "signal", "platform", "code"}
STDLIB_MODULES = frozenset(sys.stdlib_module_names)


def canonical(name: str) -> str:
    """One spelling for the frameworks' aliases: tf.compat.v2.x and tf.x, tensorflow.keras / tf_keras and keras."""
    for alias, target in (("tensorflow.compat.v1.", "tensorflow."), ("tensorflow.compat.v2.", "tensorflow."),
                          ("tensorflow.keras.", "keras."), ("tf_keras.", "keras."), ("keras.api.", "keras."),
                          ("keras._tf_keras.keras.", "keras.")):
        if name.startswith(alias):
            name = target + name[len(alias):]
    return name


def dangerous_word(name: str) -> str | None:
    """The rule of a dangerous word inside `name` (see DANGEROUS_WORDS)."""
    lowered = name.lower()
    return next((rule for word, rule in DANGEROUS_WORDS.items() if word in lowered), None)


def classify(name: str) -> str | None:
    """The known-dangerous rule `name` falls under, matching the longest known prefix, also when it is reached
    through another module ("shutil.os.system" is "os.system", "numpy.ctypeslib.ctypes" is "ctypes")."""
    name = canonical(name)
    parts = name.split(".")
    for start in range(len(parts)):
        if start == 0 or parts[start] in REACHABLE_MODULES:
            rule = _classify(parts[start:])
            if rule:
                return dangerous_word(name) or rule if rule == "F2F-UNREV-002" else rule
    return dangerous_word(name)


def _classify(parts: list[str]) -> str | None:
    for end in range(len(parts), 0, -1):
        prefix = ".".join(parts[:end])
        if prefix in DANGEROUS and (prefix != "builtins" or end == len(parts)):
            return DANGEROUS[prefix]
    name = ".".join(parts)
    for prefix, rule in DANGEROUS_PREFIXES.items():
        if name.startswith(prefix):
            return rule
    return None


def judge(name: str) -> str | None:
    """The rule a resolved name falls under, or None when it is shown to be ordinary.

    A reviewed entry more precise than a dangerous one wins ("timeit.default_timer" in "timeit")."""
    name = canonical(name)
    parts = name.split(".")
    reviewed_end = next((end for end in range(len(parts), 0, -1) if ".".join(parts[:end]) in REVIEWED), 0)
    dangerous_end = next((end for end in range(len(parts), 0, -1) if ".".join(parts[:end]) in DANGEROUS), 0)
    if any(name.startswith(prefix) for prefix in DANGEROUS_PREFIXES):
        dangerous_end = len(parts)
    rule = classify(name)
    if rule and not (reviewed_end > dangerous_end and _classify_reached(parts[reviewed_end:]) is None):
        return rule
    word = dangerous_word(name)
    if word and name not in REVIEWED:  # a dangerous word inside a reviewed package (torch's ForkingPickler)
        return word
    if parts[0] == "builtins":
        return "F2F-UNREV-002" if len(parts) > 1 and parts[1] in UNREVIEWED_BUILTINS else None
    if not reviewed_end:
        return "F2F-UNREV-002"
    allowed, rest = REVIEWED[".".join(parts[:reviewed_end])], parts[reviewed_end:]
    if allowed is not WHOLE and rest:
        if rest[0] not in allowed:
            return "F2F-UNREV-002"
        rest = rest[1:]
    return "F2F-UNREV-002" if any(_unreviewed_component(part) for part in rest) else None


def _classify_reached(parts: list[str]) -> str | None:
    """The rule of a module reached inside `parts` ("x.os.system" reaches "os.system")."""
    for start in range(len(parts)):
        if parts[start] in REACHABLE_MODULES:
            rule = _classify(parts[start:])
            if rule:
                return rule
    return None


def _unreviewed_component(part: str) -> bool:
    """A private name, an unusual dunder or another module reached through a reviewed one."""
    if part.startswith("__") and part.endswith("__"):
        return part not in ORDINARY_DUNDER_ATTRIBUTES
    if part.startswith("_"):
        return True
    return part in REACHABLE_MODULES and part not in FRAMEWORK_SUBMODULES


def is_known_module(top: str) -> bool:
    """Whether a top-level module is the standard library's or a package the policy knows (reviewed or not)."""
    return top in STDLIB_MODULES or any(key.split(".")[0] == top for key in (*REVIEWED, *DANGEROUS))
