"""What the analysis says: the rule catalogue, a finding, a report and its JSON form."""

from __future__ import annotations

from dataclasses import dataclass

MAX_BYTES = 256 * 1024
MAX_FINDINGS = 500  # past this, the rest are summarised in one F2F-LIMIT-002 finding
MAX_DETAIL_CHARS = 160  # a finding's message quotes at most this much of the file

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
    "F2F-ADDR-002": "the server address is computed at run time, so the analysis cannot show that it is the declared federation server",
    "F2F-DEP-001": "imports a module that is neither in this file nor a reviewed package: participants who download only "
                   "Client.py cannot run it, and its code is not checked",
    "F2F-UNREV-001": "imports a standard-library module outside the set reviewed for Flower clients",
    "F2F-UNREV-002": "uses a name outside the set reviewed for Flower clients",
    "F2F-UNREV-003": "handles a module or a dangerous-looking method as a value, so what runs through it cannot be followed",
    "F2F-EXEC-001": "runs a shell command",
    "F2F-EXEC-002": "replaces or forks the current process",
    "F2F-EXEC-003": "starts external programs or other Python processes",
    "F2F-DYN-001": "runs code built at run time",
    "F2F-DYN-002": "compiles code at run time",
    "F2F-DYN-003": "imports a module chosen at run time",
    "F2F-DYN-004": "imports or runs modules dynamically",
    "F2F-DYN-005": "reads, changes or replaces an attribute chosen at run time, or replaces a module's attribute",
    "F2F-DYN-006": "reaches into builtins, globals or module namespaces",
    "F2F-DYN-007": "builds functions, classes or code objects by hand",
    "F2F-DYN-008": "reaches interpreter internals (frames, code objects, unusual dunder attributes)",
    "F2F-DESER-001": "deserializes data in a way that can run arbitrary code",
    "F2F-DESER-002": "loads a file with pickle, which can run arbitrary code",
    "F2F-DESER-003": "numpy.load with allow_pickle can run arbitrary code",
    "F2F-DESER-004": "yaml.load without a safe loader can run arbitrary code",
    "F2F-DESER-005": "loads or builds a model in a way that can run code it carries (unsafe Keras loading, Lambda layers, "
                     "saved graphs, remote code)",
    "F2F-NET-001": "opens raw network sockets, listening servers or name look-ups",
    "F2F-NET-002": "makes HTTP or other network requests",
    "F2F-NET-003": "contacts a host other than the federation server",
    "F2F-FFI-001": "loads native code",
    "F2F-FS-001": "writes or deletes files outside the working directory",
    "F2F-FS-002": "writes or deletes files at a path computed at run time",
    "F2F-FS-003": "refers to a sensitive file (keys, credentials, shell start-up files)",
    "F2F-FS-004": "extracts an archive, whose entries can be written outside the target directory",
    "F2F-OBF-001": "embeds a long encoded blob that hides its content from a reader",
    "F2F-OBF-002": "decodes an embedded constant at run time",
    "F2F-OBF-003": "runs code that is decoded at run time",
    "F2F-OBF-004": "contains invisible or bidirectional control characters that hide code from a reader",
}


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


def finding(rule: str, line: int, detail: str) -> Finding:
    if len(detail) > MAX_DETAIL_CHARS:
        detail = detail[: MAX_DETAIL_CHARS - 1] + "…"
    return Finding(rule, line, f"{detail}: {RULES[rule]}" if detail else RULES[rule])


def invalid(rule: str, line: int, detail: str) -> Report:
    return Report("invalid", (finding(rule, line, detail),), ())


def conclude(errors: list[Finding], findings: list[Finding]) -> Report:
    """The verdict from what was found: sorted, deduplicated, capped at MAX_FINDINGS."""
    findings = sorted(set(findings), key=lambda f: (f.line, f.rule))
    if len(findings) > MAX_FINDINGS:
        rest = len(findings) - MAX_FINDINGS
        findings = [finding("F2F-LIMIT-002", 0, f"{rest} more not listed")] + findings[:MAX_FINDINGS]
    errors = sorted(set(errors), key=lambda f: (f.line, f.rule))
    verdict = "invalid" if errors else "findings" if findings else "clean"
    return Report(verdict, tuple(errors), tuple(findings))
