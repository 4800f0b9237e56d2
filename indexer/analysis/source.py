"""From bytes to a syntax tree: size, encoding and syntax checks, and characters that hide code."""

from __future__ import annotations

import ast
import re

from .report import MAX_BYTES, Finding, Report, finding, invalid

HIDING_CHARACTERS = re.compile("[\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\u115f\u1160\u3164\uffa0]")
CODING_COOKIE = re.compile(r"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)")


def parse(content: bytes) -> tuple[str, ast.Module] | Report:
    """The text and tree of `content`, or the report that says why it is not UTF-8 Python."""
    if len(content) > MAX_BYTES:
        return invalid("F2F-FILE-001", 0, f"{len(content)} bytes")
    if b"\x00" in content:
        return invalid("F2F-FILE-002", _line_at(content, content.index(b"\x00")), "NUL byte")
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as error:
        return invalid("F2F-FILE-003", _line_at(content, error.start), f"byte 0x{content[error.start]:02x} at offset {error.start}")
    text = text.removeprefix("\ufeff")
    for number, line in enumerate(text.split("\n", 2)[:2], start=1):  # PEP 263: a cookie on line 1 or 2
        cookie = CODING_COOKIE.match(line)
        codec = cookie.group(1).lower().replace("_", "-") if cookie else "utf-8"
        if codec not in ("utf-8", "utf8", "ascii", "us-ascii") and not codec.startswith("utf-8-"):
            return invalid("F2F-FILE-005", number, f"coding: {cookie.group(1)}")
    try:
        tree = ast.parse(text, filename="Client.py")
    except SyntaxError as error:
        return invalid("F2F-FILE-004", error.lineno or 0, f"{error.msg} (line {error.lineno or '?'})")
    except ValueError as error:
        return invalid("F2F-FILE-004", 0, str(error))
    except (RecursionError, MemoryError, SystemError):  # SystemError: CPython 3.11 after a deep-nesting bomb
        return invalid("F2F-LIMIT-001", 0, "the file is too deeply nested to parse")
    return text, tree


def hidden_characters(text: str) -> list[Finding]:
    """OBF-004 for every line (numbered as Python numbers them) that holds an invisible or bidi character."""
    found = []
    for number, line in enumerate(re.split(r"\r\n|\r|\n", text), start=1):
        hidden = HIDING_CHARACTERS.search(line)
        if hidden:
            found.append(finding("F2F-OBF-004", number, f"U+{ord(hidden.group()):04X}"))
    return found


def _line_at(content: bytes, offset: int) -> int:
    return content.count(b"\n", 0, offset) + 1
