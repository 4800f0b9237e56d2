"""The sandboxed runner: the same report as in process, and a limit report whatever happens to the child."""

import sys
import time
from pathlib import Path

import pytest

from indexer.analysis import MAX_BYTES, Report, analyze
from indexer.sandbox import analyze_in_child

CORPUS = Path(__file__).parent / "corpus"
DECLARED = "fl.example.org:8080"
LIMIT_RULES = {"F2F-LIMIT-001", "F2F-FILE-004"}


def in_child(content: bytes, **limits) -> Report:
    return analyze_in_child(content, declared_server_address=DECLARED, **limits)


def assert_limit_report(report: Report) -> None:
    assert report.verdict == "invalid"
    assert [error.rule for error in report.errors] == ["F2F-LIMIT-001"]
    assert "exceeded its limits" in report.errors[0].message


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.txt")), ids=lambda path: path.stem)
def test_a_corpus_file_gets_the_same_report_in_a_child_as_in_process(path):
    content = path.read_bytes()
    assert in_child(content) == analyze(content, declared_server_address=DECLARED)


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"(" * 100_000, id="nested-parentheses"),
        pytest.param(b"x = " + b"[" * 50_000 + b"]" * 50_000, id="nested-lists"),
        pytest.param(b"1" + b"+1" * 120_000, id="long-sum-within-the-size-limit"),
        pytest.param(b"-" * 200_000 + b"1", id="unary-chain"),
        pytest.param(b"x = " + b"a." * 100_000 + b"b", id="attribute-chain"),
        pytest.param(b"x = " + b"lambda: " * 30_000 + b"1", id="nested-lambdas"),
        pytest.param(b"x = " + b"not " * 60_000 + b"x", id="not-chain"),
        pytest.param(b"x = " + b"a if b else " * 20_000 + b"c", id="conditional-chain"),
    ],
)
def test_a_parser_bomb_is_invalid_within_the_wall_limit(content):
    started = time.monotonic()
    report = in_child(content, wall_seconds=10)
    assert time.monotonic() - started < 10
    assert report.verdict == "invalid"
    assert {error.rule for error in report.errors} & LIMIT_RULES, report


def test_a_million_term_expression_is_rejected_by_size_before_parsing():
    report = in_child(b"1" + b"+1" * 1_000_000)
    assert [error.rule for error in report.errors] == ["F2F-FILE-001"]


def test_a_huge_upload_is_not_piped_whole_to_the_child():
    started = time.monotonic()
    report = in_child(b"#" * (64 * MAX_BYTES))
    assert [error.rule for error in report.errors] == ["F2F-FILE-001"]
    assert time.monotonic() - started < 5


def test_a_child_that_runs_out_of_memory_gives_a_limit_report():
    # 240 KB whose syntax tree needs far more than 16 MB: the limit, not the file, ends the analysis.
    big = ("import flwr\nx = [" + "1.5," * 60_000 + "]\n").encode()
    assert_limit_report(in_child(big, memory_bytes=16 * 1024 * 1024))


def test_a_child_that_outlives_the_wall_clock_limit_is_killed():
    started = time.monotonic()
    assert_limit_report(in_child((CORPUS / "clean_legacy.txt").read_bytes(), wall_seconds=0.01))
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("executable", ["/nonexistent/python", "/bin/false", "/bin/echo"])
def test_a_child_that_cannot_start_fails_or_answers_garbage_gives_a_limit_report(monkeypatch, executable):
    monkeypatch.setattr(sys, "executable", executable)
    assert_limit_report(in_child(b"import flwr\n"))


def test_the_file_is_never_executed(tmp_path):
    marker = tmp_path / "marker"
    content = f'''import os
import flwr as fl

open({str(marker)!r}, "w").write("ran at import")
os.system("touch {marker}")
__import__("subprocess").run(["touch", "{marker}"])


class Client(fl.client.NumPyClient):
    def __init__(self):
        open({str(marker)!r}, "w").write("ran")


fl.client.start_client(server_address="{DECLARED}", client=Client().to_client())
'''.encode()
    for report in (analyze(content, declared_server_address=DECLARED), in_child(content)):
        assert report.verdict == "findings"
        assert {"F2F-EXEC-001", "F2F-EXEC-003", "F2F-FS-001"} <= {f.rule for f in report.findings}
    assert not marker.exists()


def test_a_report_from_the_child_round_trips_through_a_dict():
    report = in_child((CORPUS / "hex_fromhex.txt").read_bytes())
    assert report.verdict == "findings" and report.findings
    assert Report.from_dict(report.to_dict()) == report
