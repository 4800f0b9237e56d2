"""How the Client.py analyzer judges real Flower clients (run on demand; nothing from Flower is committed).

    .venv/bin/python bench/real_clients.py /tmp/flower/examples
    .venv/bin/python bench/real_clients.py --git-dir /work/.mirror/adap+flower/repo --ref v1.8.0 [--under examples]

Finds the client scripts under a directory (or in one commit of a Flower clone, read blob by blob, since
a partial mirror may lack the large files that ``git archive`` needs): Python files that import flwr and
define a client (a NumPyClient/Client subclass or a ClientApp). Each one goes through
``indexer.analysis.analyze`` as if a candidate had uploaded it as its federation's Client.py, declaring the
server address the file itself uses: the literal it passes to start_client/start_numpy_client, else the
string default of the argparse option it passes there, else 127.0.0.1:8080. Prints one line per file
(verdict and rules), then the verdict counts and, per rule, how many files and which.

Most real clients are split over several files (client_app.py imports its task.py), so a real example is
not expected to be "clean": the table shows which rules real code trips, to tell the analyzer's false
positives (ordinary code it cannot show to be ordinary) from what a single-file upload cannot be.
"""

from __future__ import annotations

import argparse
import ast
import re
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from indexer.analysis import analyze  # noqa: E402

FALLBACK_ADDRESS = "127.0.0.1:8080"
ENTRY_POINTS = {"start_client", "start_numpy_client"}
CLIENT_BASES = {"NumPyClient", "Client"}
# For files that do not parse (Python 2, templates): enough to count them as clients, so they show up as invalid.
LOOKS_LIKE_CLIENT = re.compile(r"\b(NumPyClient|ClientApp|start_client|start_numpy_client)\b")
IMPORTS_FLWR = re.compile(r"^\s*(import\s+flwr|from\s+flwr[\s.])", re.MULTILINE)


def last_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else None


def is_client_script(tree: ast.Module) -> bool:
    imports_flwr = defines_client = False
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imports_flwr |= any(alias.name.split(".")[0] == "flwr" for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imports_flwr |= node.level == 0 and (node.module or "").split(".")[0] == "flwr"
        elif isinstance(node, ast.ClassDef):
            defines_client |= any(last_name(base) in CLIENT_BASES for base in node.bases)
        elif isinstance(node, ast.Call):
            defines_client |= last_name(node.func) == "ClientApp"
    return imports_flwr and defines_client


def declared_address(tree: ast.Module) -> tuple[str, str]:
    """The address a candidate would declare for this file, and where it was found."""
    defaults: dict[str, str] = {}
    calls: list[ast.Call] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        if last_name(node.func) == "add_argument":
            keywords = {kw.arg: kw.value for kw in node.keywords if kw.arg}
            default, dest = keywords.get("default"), keywords.get("dest")
            options = [arg.value for arg in node.args if isinstance(arg, ast.Constant) and isinstance(arg.value, str)]
            if isinstance(dest, ast.Constant) and isinstance(dest.value, str):
                options.insert(0, "--" + dest.value)
            chosen = next((o for o in options if o.startswith("--")), options[0] if options else None)
            if chosen and isinstance(default, ast.Constant) and isinstance(default.value, str):
                defaults[chosen.lstrip("-").replace("-", "_")] = default.value  # argparse's dest for the option
        elif last_name(node.func) in ENTRY_POINTS:
            calls.append(node)
    for call in calls:
        positional = call.args[0] if call.args else None
        address = next((kw.value for kw in call.keywords if kw.arg == "server_address"), positional)
        if isinstance(address, ast.Constant) and isinstance(address.value, str):
            return address.value, "literal"
        if isinstance(address, ast.Attribute) and address.attr in defaults:
            return defaults[address.attr], "argparse default"
    return FALLBACK_ADDRESS, "fallback"


def candidates_in_directory(root: Path):
    for path in sorted(root.rglob("*.py")):
        yield str(path.relative_to(root)), path.read_bytes()


def candidates_in_git(git_dir: str, ref: str, under: list[str]):
    """(path, bytes) of every .py blob of `ref`, skipping blobs a partial mirror does not have."""
    listing = subprocess.run(
        ["git", f"--git-dir={git_dir}", "ls-tree", "-r", "--format=%(objectname) %(path)", ref, "--", *under],
        check=True, capture_output=True, text=True,
    ).stdout
    for line in listing.splitlines():
        blob, path = line.split(" ", 1)
        if not path.endswith(".py"):
            continue
        shown = subprocess.run(["git", f"--git-dir={git_dir}", "cat-file", "blob", blob], capture_output=True)
        if shown.returncode == 0:
            yield path, shown.stdout


def measure(files) -> list[tuple[str, str, str, list[str]]]:
    """(path, verdict, where the declared address came from, rule ids) for every client script in `files`."""
    rows = []
    for path, content in files:
        text = content.decode("utf-8", errors="replace")
        try:
            tree = ast.parse(text)
        except (SyntaxError, ValueError):
            if not (IMPORTS_FLWR.search(text) and LOOKS_LIKE_CLIENT.search(text)):
                continue
            address, origin = FALLBACK_ADDRESS, "fallback"
        else:
            if not is_client_script(tree):
                continue
            address, origin = declared_address(tree)
        report = analyze(content, declared_server_address=address)
        rules = sorted({finding.rule for finding in report.errors + report.findings})
        rows.append((path, report.verdict, origin, rules))
    return rows


def print_table(rows) -> None:
    width = max((len(path) for path, *_ in rows), default=10)
    print(f"{'file':{width}}  {'verdict':8}  rules")
    for path, verdict, _, rules in rows:
        print(f"{path:{width}}  {verdict:8}  {' '.join(rules) or '-'}")
    verdicts = Counter(verdict for _, verdict, _, _ in rows)
    print(f"\n{len(rows)} client scripts: " + ", ".join(f"{verdicts[v]} {v}" for v in ("clean", "findings", "invalid")))
    origins = Counter(origin for _, _, origin, _ in rows)
    print("declared address taken from: " + ", ".join(f"{origin} {count}" for origin, count in origins.most_common()))
    files_per_rule: dict[str, list[str]] = defaultdict(list)
    for path, _, _, rules in rows:
        for rule in rules:
            files_per_rule[rule].append(path)
    print("\nrule            files")
    for rule, paths in sorted(files_per_rule.items(), key=lambda item: (-len(item[1]), item[0])):
        print(f"{rule:14}  {len(paths):5}")
    for rule, paths in sorted(files_per_rule.items()):
        print(f"\n{rule} ({len(paths)}):")
        for path in paths:
            print(f"  {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", nargs="?", type=Path, help="a Flower checkout or its examples/ directory")
    parser.add_argument("--git-dir", help="read a commit of this Flower clone instead of a directory")
    parser.add_argument("--ref", default="HEAD", help="with --git-dir: the commit or tag to read")
    parser.add_argument("--under", action="append", help="with --git-dir: only these folders (repeatable)")
    args = parser.parse_args()
    if bool(args.directory) == bool(args.git_dir):
        parser.error("give either a directory or --git-dir")
    if args.git_dir:
        files = candidates_in_git(args.git_dir, args.ref, args.under or [])
        print(f"# {args.git_dir} at {args.ref} {' '.join(args.under or [])}".rstrip())
    else:
        files = candidates_in_directory(args.directory)
        print(f"# {args.directory}")
    print_table(measure(files))


if __name__ == "__main__":
    main()
