"""Static checks of an uploaded Flower ``Client.py``: the script is parsed, never imported or run.

``analyze(content, declared_server_address=...)`` returns a :class:`Report`:

* ``"invalid"``: the file is rejected automatically; ``errors`` says why (too big, not UTF-8, not Python,
  not a Flower client, a server address other than the declared one, ...).
* ``"findings"``: the file is a Flower client, but ``findings`` lists what a human reviewer must look at.
* ``"clean"``: no known-dangerous pattern was found, and every name the script uses was shown to be ordinary.

The analysis reports what it cannot show to be ordinary, not only what it recognises as dangerous: every
import and every reference is resolved (through aliases, ``getattr`` with constant names, ``sys.modules``,
folded string constants) and judged against :mod:`.policy`; a name chosen at run time, a module handled as
a value, an unusual dunder, a server address computed at run time all become findings. It is pure standard
library and never imports Django: run it through :func:`indexer.sandbox.analyze_in_child` to bound its CPU
time and memory. Modules: :mod:`.report` (rules and verdicts), :mod:`.source` (bytes to tree),
:mod:`.policy` (what is dangerous and what is ordinary), :mod:`.names` (what names and expressions stand
for) and :mod:`.checks` (the rules applied to the tree).
"""

from __future__ import annotations

from .checks import Checker
from .report import MAX_BYTES, MAX_FINDINGS, RULES, Finding, Report, conclude, invalid
from .source import hidden_characters, parse

__all__ = ["MAX_BYTES", "MAX_FINDINGS", "RULES", "Finding", "Report", "analyze"]


def analyze(content: bytes, *, declared_server_address: str) -> Report:
    """Check a Client.py's bytes against every rule in :data:`RULES`. Never imports or executes `content`."""
    parsed = parse(content)
    if isinstance(parsed, Report):
        return parsed
    text, tree = parsed
    try:
        errors, findings = Checker(tree, declared_server_address).run()
    except (RecursionError, MemoryError):
        return invalid("F2F-LIMIT-001", 0, "the file is too deeply nested to analyze")
    return conclude(errors, findings + hidden_characters(text))
