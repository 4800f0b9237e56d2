"""The analyzer keeps passing ordinary Flower clients.

tests/corpus/real/*.txt are self-contained clients written for this project after the API usage of Flower's
examples and docs (PyTorch, TensorFlow/Keras, scikit-learn, JAX/Flax, MLX, Hugging Face, XGBoost, CatBoost,
pandas, Opacus, legacy ``start_client``/``start_numpy_client`` scripts, ``ClientApp``s with ``client_fn`` and
with the Message API). They are stored as text so that nothing imports them. Each starts with:

    # expect: clean | findings RULE...   what the analysis must say
    # declared: host:port                the federation server the candidate declares
    # source: ...                        which Flower example or doc page the sample follows

"findings F2F-DEP-001" marks a ClientApp that imports its own project package (``from mlapp.task import
Net``): it is ordinary code, but a participant who downloads only Client.py cannot run it.
"""

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

from indexer.analysis import analyze

REAL = Path(__file__).parent / "corpus" / "real"
HEADERS = ("expect", "declared", "source")
MIN_CLEAN_SAMPLES = 50
MIN_OWN_PACKAGE_SAMPLES = 8
MIN_CLEAN_SHARE = 0.9


@dataclass(frozen=True)
class Sample:
    path: Path
    verdict: str
    rules: tuple[str, ...]
    declared: str

    def analyze(self):
        return analyze(self.path.read_bytes(), declared_server_address=self.declared)


def read_sample(path: Path) -> Sample:
    lines = path.read_text(encoding="utf-8").splitlines()[: len(HEADERS)]
    values = {}
    for name, line in zip(HEADERS, lines):
        prefix = f"# {name}: "
        assert line.startswith(prefix) and line.removeprefix(prefix).strip(), f"{path.name}: line must be '{prefix}...'"
        values[name] = line.removeprefix(prefix).strip()
    assert len(values) == len(HEADERS), f"{path.name}: needs the headers {', '.join(HEADERS)}"
    verdict, *rules = values["expect"].split()
    assert verdict in ("clean", "findings") and (verdict == "findings") == bool(rules), f"{path.name}: bad expect"
    return Sample(path, verdict, tuple(rules), values["declared"])


SAMPLES = [read_sample(path) for path in sorted(REAL.glob("*.txt"))]


def test_the_corpus_holds_enough_samples_of_each_kind():
    clean = [s for s in SAMPLES if s.verdict == "clean"]
    own_package = [s for s in SAMPLES if "F2F-DEP-001" in s.rules]
    assert len(clean) >= MIN_CLEAN_SAMPLES, len(clean)
    assert len(own_package) >= MIN_OWN_PACKAGE_SAMPLES, len(own_package)


@pytest.mark.parametrize("sample", SAMPLES, ids=[s.path.stem for s in SAMPLES])
def test_a_sample_is_python_3_11(sample):
    ast.parse(sample.path.read_text(encoding="utf-8"), filename=sample.path.name, feature_version=(3, 11))


@pytest.mark.parametrize("sample", SAMPLES, ids=[s.path.stem for s in SAMPLES])
def test_a_real_client_is_never_invalid_and_gets_its_expected_verdict(sample):
    report = sample.analyze()
    assert report.verdict != "invalid", report.errors
    found = {finding.rule for finding in report.findings}
    assert report.verdict == sample.verdict, report.findings
    assert set(sample.rules) <= found, report.findings


def test_nine_in_ten_ordinary_clients_are_clean():
    ordinary = [s for s in SAMPLES if s.verdict == "clean"]
    flagged = [s.path.name for s in ordinary if s.analyze().verdict != "clean"]
    assert 1 - len(flagged) / len(ordinary) >= MIN_CLEAN_SHARE, flagged
