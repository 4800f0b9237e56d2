"""Search gives the same answers on PostgreSQL (full-text) and SQLite (LIKE); the suite runs on both."""

import pytest

from federations import search, selectors


def test_tokens_are_casefolded_runs_of_letters_and_digits():
    assert search.tokens("Chest X-ray_triage, CIFAR10 (v2) Ünïcode") == [
        "chest", "x", "ray", "triage", "cifar10", "v2", "ünïcode"
    ]


def test_search_document_is_padded_so_every_token_has_a_leading_space():
    assert search.search_document("Skin lesions", "", "Healthcare") == " skin lesions healthcare "
    assert search.search_document("", "!!") == ""


@pytest.fixture
def corpus(make_federation):
    return {
        "xray": make_federation(name="Rio Chest X-ray triage", application="Healthcare", tags="keras, cross-silo"),
        "fraud": make_federation(name="Lisbon Fraud detection", category="tabular", application="Finance",
                                 description="Card fraud across banks.", tags="fedprox"),
        "keyboard": make_federation(name="Osaka Next-word prediction", category="language",
                                    application="Mobile keyboards", description="Typing suggestions.", tags="edge"),
        "unicode": make_federation(name="Café Ünïcode détection", category="other", application="Retail",
                                   description="Prix des cafés.", tags=""),
    }


def found(query):
    return set(selectors.catalog(query=query).values_list("name", flat=True))


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("fraud", {"Lisbon Fraud detection"}),
        ("FRAUD", {"Lisbon Fraud detection"}),
        ("fra", {"Lisbon Fraud detection"}),  # every term is a prefix
        ("detection", {"Lisbon Fraud detection"}),
        ("x-ray", {"Rio Chest X-ray triage"}),
        ("chest triage", {"Rio Chest X-ray triage"}),  # all terms must match
        ("chest fraud", set()),
        ("healthcare", {"Rio Chest X-ray triage"}),  # application
        ("banks", {"Lisbon Fraud detection"}),  # description
        ("fedprox", {"Lisbon Fraud detection"}),  # tags
        ("tabular", {"Lisbon Fraud detection"}),  # category value
        ("natural language", {"Osaka Next-word prediction"}),  # category label
        ("ünïcode", {"Café Ünïcode détection"}),
        ("café", {"Café Ünïcode détection"}),
        ("ection", set()),  # not a prefix of any word
        ("rio & ! :* |", {"Rio Chest X-ray triage"}),  # tsquery syntax is never passed through
        ("", {"Rio Chest X-ray triage", "Lisbon Fraud detection", "Osaka Next-word prediction",
              "Café Ünïcode détection"}),
    ],
)
def test_search_matches_words_by_prefix_the_same_on_every_database(corpus, query, expected):
    assert found(query) == expected


def test_search_follows_edits_to_a_federation(corpus):
    federation = corpus["fraud"]
    federation.name = "Lisbon Churn prediction"
    federation.save()
    assert found("churn") == {"Lisbon Churn prediction"}
    assert found("fraud") == {"Lisbon Churn prediction"}  # still in its description


def test_search_uses_the_full_text_index(corpus):
    from django.db import connection

    queryset = selectors.catalog(query="fraud")
    if connection.vendor == "postgresql":
        # On a few rows a plain scan costs least, whatever the statistics say: with only bitmap scans left, the
        # search condition must find an index of its own.
        with connection.cursor() as cursor:
            cursor.execute("SET enable_seqscan = off; SET enable_indexscan = off")
            plan = queryset.explain()
            cursor.execute("SET enable_seqscan = on; SET enable_indexscan = on")
        assert "federation_search_vector" in plan
    else:
        assert "VIRTUAL TABLE INDEX" in queryset.explain() and search.SQLITE_INDEX in str(queryset.query)


def test_search_follows_any_write_of_the_document_and_ignores_live_updates(corpus):
    """The index is kept by the database (triggers), so bulk writes that skip save() are searched too."""
    from federations.models import Federation, LiveState

    federation = corpus["fraud"]
    LiveState.objects.filter(pk=federation.pk).update(completed_rounds=3, status="online")
    Federation.objects.filter(pk=federation.pk).update(download_count=3)
    assert found("fraud") == {"Lisbon Fraud detection"}
    Federation.objects.filter(pk=federation.pk).update(search_document=" zebrafish ")
    assert found("zebrafish") == {"Lisbon Fraud detection"} and found("fraud") == set()
    Federation.objects.filter(pk=federation.pk).delete()
    assert found("zebrafish") == set()
