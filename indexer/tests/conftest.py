from pathlib import Path

import pytest

CORPUS = Path(__file__).with_name("corpus")
DECLARED = "fl.example.org:8080"


def corpus_file(name: str) -> bytes:
    """A corpus sample without its leading '# expect:' line."""
    return CORPUS.joinpath(name).read_bytes().split(b"\n", 1)[1]


@pytest.fixture
def card():
    return {
        "name": "Rio skin lesions", "category": "image-classification", "application": "Healthcare",
        "description": "Skin lesion triage across clinics.", "tags": "keras, cross-silo",
        "model_name": "MobileNetV2", "data_expected": "224x224 dermoscopy images", "flower_version": "1.42.0",
        "flower_api": "legacy", "privacy_measures": "Secure aggregation", "compute_needs": "CPU, 4 GB RAM",
        "license": "Apache-2.0", "owner_contact": "owner@example.org", "server_address": DECLARED,
    }
