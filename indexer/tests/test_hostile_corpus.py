"""The analyzer never calls a hostile Client.py clean, and it points at the line that does the harm.

tests/corpus/hostile/<family>-<name>.txt are complete Flower clients (they import flwr, define a client and
start it, against fl.example.org:8080 where they name a server), each hiding one hostile trick where an
attacker would hide it: in fit(), at import time, in a helper, in the data loader. They are written for this
project, stored as text so that nothing imports them, and harmless if run by accident (203.0.113.7 is a
documentation address, attacker.invalid cannot resolve, the commands are `id` or write to /tmp). Each starts
with

    # family: N what the trick is

and each line where the hostile operation happens ends with `# trick`: the call that runs, loads, writes or
connects, and the statement that obtains the dangerous capability when that is a separate line. A finding
elsewhere (at an import, on an unrelated line) does not show that the trick was seen, so one must be anchored
on a trick line. Family 8 hides where the client connects: there an address finding (F2F-ADDR-*) is required,
wherever it is anchored.

tests/corpus/hostile_controls/*.txt use the same modules innocently and start with `# expect: clean`, so that
the analysis cannot pass this file by flagging keywords; a control may instead say `# expect: findings RULE`
where the analysis is strict on purpose (a write to a path computed at run time), and then gets exactly that.
"""

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

from indexer.analysis import analyze

CORPUS = Path(__file__).parent / "corpus"
DECLARED = "fl.example.org:8080"
FAMILIES = {
    1: "reach",  # a dangerous module reached through another one, a container, an argument
    2: "names",  # names and keywords built at run time
    3: "internals",  # frames, dunders, hooks and code objects
    4: "runners",  # library functions that run a string or a process
    5: "loaders",  # loaders that run the code they load
    6: "writes",  # writes through other openers, to paths shaped at run time
    7: "network",  # traffic beside the federation server
    8: "address",  # a server address that cannot be read statically
}
MIN_PER_FAMILY = 12
MIN_SAMPLES = 100
MIN_CONTROLS = 10
TRICK = "# trick"
ENTRY_POINTS = {"start_client", "start_numpy_client"}


@dataclass(frozen=True)
class Hostile:
    path: Path
    family: int
    trick: str
    trick_lines: frozenset[int]

    def analyze(self):
        return analyze(self.path.read_bytes(), declared_server_address=DECLARED)


def read_hostile(path: Path) -> Hostile:
    lines = path.read_text(encoding="utf-8").splitlines()
    prefix = "# family: "
    assert lines and lines[0].startswith(prefix), f"{path.name}: the first line must be '{prefix}N what the trick is'"
    number, _, trick = lines[0].removeprefix(prefix).partition(" ")
    assert number.isdigit() and int(number) in FAMILIES and trick.strip(), f"{path.name}: bad family line"
    trick_lines = frozenset(n for n, line in enumerate(lines, start=1) if line.rstrip().endswith(TRICK))
    return Hostile(path, int(number), trick.strip(), trick_lines)


HOSTILE = [read_hostile(path) for path in sorted((CORPUS / "hostile").glob("*.txt"))]
CONTROLS = sorted((CORPUS / "hostile_controls").glob("*.txt"))


def last_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    return node.attr if isinstance(node, ast.Attribute) else None


def flower_shape(tree: ast.Module) -> dict[str, bool]:
    """What makes a file a Flower client, judged from its syntax alone (not by the analyzer under test)."""
    calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call)]
    module_level_app = any(
        isinstance(statement, ast.Assign) and isinstance(statement.value, ast.Call)
        and last_name(statement.value.func) == "ClientApp"
        for statement in tree.body
    )
    return {
        "imports flwr": any(
            isinstance(node, ast.Import) and any(a.name.split(".")[0] == "flwr" for a in node.names)
            or isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "flwr"
            for node in ast.walk(tree)
        ),
        "defines a client": any(
            isinstance(node, ast.ClassDef) and any(last_name(base) in ("NumPyClient", "Client") for base in node.bases)
            for node in ast.walk(tree)
        ) or any(last_name(call.func) == "ClientApp" for call in calls),
        "has an entry point": module_level_app or any(last_name(call.func) in ENTRY_POINTS for call in calls),
    }


def describe(report) -> str:
    return "\n".join(f"  {f.line:4} {f.rule} {f.message}" for f in report.errors + report.findings) or "  (nothing)"


def test_every_family_keeps_its_samples():
    for number, slug in FAMILIES.items():
        members = [s.path.name for s in HOSTILE if s.family == number]
        assert len(members) >= MIN_PER_FAMILY, f"family {number} ({slug}) has {len(members)} samples"
    assert len(HOSTILE) >= MIN_SAMPLES, len(HOSTILE)
    assert len(CONTROLS) >= MIN_CONTROLS, len(CONTROLS)


@pytest.mark.parametrize("path", [s.path for s in HOSTILE] + CONTROLS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_a_sample_is_python_3_11(path):
    ast.parse(path.read_text(encoding="utf-8"), filename=path.name, feature_version=(3, 11))


@pytest.mark.parametrize("sample", HOSTILE, ids=[s.path.stem for s in HOSTILE])
def test_a_hostile_sample_is_a_complete_flower_client_with_its_trick_marked(sample):
    assert sample.path.name.startswith(FAMILIES[sample.family] + "-"), f"family {sample.family} files are named {FAMILIES[sample.family]}-*.txt"
    assert sample.trick_lines, f"no line ends with '{TRICK}'"
    shape = flower_shape(ast.parse(sample.path.read_text(encoding="utf-8")))
    assert all(shape.values()), shape


@pytest.mark.parametrize("path", CONTROLS, ids=[p.stem for p in CONTROLS])
def test_a_control_is_a_complete_flower_client(path):
    text = path.read_text(encoding="utf-8")
    assert text.startswith(("# expect: clean\n", "# expect: findings F2F-"))
    assert TRICK not in text
    shape = flower_shape(ast.parse(text))
    assert all(shape.values()), shape


@pytest.mark.parametrize("sample", HOSTILE, ids=[s.path.stem for s in HOSTILE])
def test_no_hostile_sample_is_called_clean(sample):
    report = sample.analyze()
    assert report.verdict != "clean", f"{sample.path.name} ({sample.trick}) passes as clean"


@pytest.mark.parametrize("sample", HOSTILE, ids=[s.path.stem for s in HOSTILE])
def test_the_analysis_points_at_the_trick(sample):
    report = sample.analyze()
    found = report.errors + report.findings
    if sample.family == 8:
        assert any(f.rule.startswith("F2F-ADDR") for f in found), f"no F2F-ADDR finding:\n{describe(report)}"
    else:
        anchored = [f for f in found if f.line in sample.trick_lines]
        assert anchored, f"nothing on trick lines {sorted(sample.trick_lines)}:\n{describe(report)}"


@pytest.mark.parametrize("path", CONTROLS, ids=[p.stem for p in CONTROLS])
def test_a_lookalike_control_is_clean_or_gets_exactly_its_strict_finding(path):
    report = analyze(path.read_bytes(), declared_server_address=DECLARED)
    verdict, *expected = path.read_text(encoding="utf-8").split("\n", 1)[0].removeprefix("# expect: ").split()
    assert report.verdict == verdict, describe(report)
    assert {f.rule for f in report.findings} == set(expected), describe(report)


def test_most_lookalike_controls_are_clean():
    clean = [p for p in CONTROLS if p.read_text(encoding="utf-8").startswith("# expect: clean\n")]
    assert len(clean) >= 0.9 * len(CONTROLS)
