"""Run :func:`indexer.analysis.analyze` in a child process with CPU-time and memory limits.

A hostile file can make the parser or the analyzer use a lot of memory, recurse deeply or take
long. ``analyze_in_child`` runs ``python -m indexer.sandbox`` (content on stdin, report JSON on
stdout), sets ``RLIMIT_CPU`` and ``RLIMIT_AS`` in the child before parsing and kills it at the
wall-clock limit. Whatever happens to the child, the caller gets a :class:`Report`: one the
child could not produce is "invalid" with rule ``F2F-LIMIT-001``.
"""

from __future__ import annotations

import json
import logging
import resource
import subprocess
import sys
from pathlib import Path

from indexer.analysis import MAX_BYTES, RULES, Finding, Report, analyze

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent  # the directory that holds the indexer package


def analyze_in_child(
    content: bytes,
    *,
    declared_server_address: str,
    cpu_seconds: int = 5,
    memory_bytes: int = 512 * 1024 * 1024,
    wall_seconds: float = 15,
) -> Report:
    """``analyze(content, ...)`` in a fresh, resource-limited child process; never raises for a bad file."""
    command = [
        sys.executable, "-E", "-s", "-S",  # no PYTHON* variables, no site-packages: the analyzer is pure stdlib
        "-m", "indexer.sandbox", declared_server_address, str(int(cpu_seconds)), str(int(memory_bytes)),
    ]
    try:
        child = subprocess.Popen(
            command, cwd=ROOT, env={}, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
    except (OSError, ValueError) as error:  # ValueError: a NUL byte in an argument
        logger.error("could not start the analysis child: %s", error)
        return _limit_report("the analysis process could not start")
    try:
        # More than MAX_BYTES is rejected by size anyway: no need to pipe the rest.
        output, errors = child.communicate(content[: MAX_BYTES + 1], timeout=wall_seconds)
    except subprocess.TimeoutExpired:
        child.kill()
        child.communicate()
        return _limit_report(f"it took longer than {wall_seconds} s")
    if child.returncode != 0:
        logger.warning("analysis child exited with %s: %s", child.returncode, errors[-2000:].decode(errors="replace"))
        return _limit_report(f"the analysis process stopped (exit status {child.returncode})")
    try:
        return Report.from_dict(json.loads(output))
    except ValueError as error:  # json.JSONDecodeError and malformed reports are ValueErrors
        logger.warning("analysis child returned an unreadable report: %s", error)
        return _limit_report("the analysis process returned no report")


def _limit_report(detail: str) -> Report:
    return Report("invalid", (Finding("F2F-LIMIT-001", 0, f"{detail}: {RULES['F2F-LIMIT-001']}"),), ())


def _set_limit(kind: int, value: int, slack: int = 0) -> None:
    """Lower a resource limit to `value` (soft) and `value + slack` (hard), never above the current hard limit."""
    _, hard = resource.getrlimit(kind)
    ceiling = hard if hard != resource.RLIM_INFINITY else value + slack
    resource.setrlimit(kind, (min(value, ceiling), min(value + slack, ceiling)))


def _child_main(argv: list[str]) -> int:
    """The child: limit itself, read the content from stdin, write the report JSON to stdout."""
    declared_server_address, cpu_seconds, memory_bytes = argv[0], int(argv[1]), int(argv[2])
    _set_limit(resource.RLIMIT_CPU, cpu_seconds, slack=1)  # SIGXCPU at the soft limit, SIGKILL a second later
    _set_limit(resource.RLIMIT_AS, memory_bytes)
    _set_limit(resource.RLIMIT_CORE, 0)
    _set_limit(resource.RLIMIT_FSIZE, 0)  # the analyzer writes no files (stdout is a pipe)
    content = sys.stdin.buffer.read(MAX_BYTES + 1)
    report = analyze(content, declared_server_address=declared_server_address)
    sys.stdout.buffer.write(json.dumps(report.to_dict()).encode())
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(_child_main(sys.argv[1:]))
