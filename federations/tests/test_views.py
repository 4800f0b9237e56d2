import hashlib
import re

import pytest
from django.urls import reverse

from federations.models import Federation, LiveState, Status
from federations.selectors import PAGE_SIZE


def catalog(client, **params):
    return client.get(reverse("federations:catalog"), params)


def test_the_catalog_lists_federations_as_a_tracker_does(client, make_federation):
    federation = make_federation(name="Rio Chest X-ray triage", status=Status.ONLINE)
    Federation.objects.filter(pk=federation.pk).update(download_count=1234)
    LiveState.objects.filter(pk=federation.pk).update(completed_rounds=7, avg_round_duration=12.34)

    page = catalog(client).content.decode()

    assert "Rio Chest X-ray triage" in page
    assert "Online" in page and "Image classification" in page and "Healthcare" in page
    assert "1,234" in page and "12.3 s" in page
    assert federation.get_absolute_url() in page


def test_the_catalog_searches_and_filters(client, make_federation):
    make_federation(name="Lisbon Fraud detection", category="tabular", application="Finance")
    make_federation(name="Rio Chest X-ray triage")

    page = catalog(client, q="fraud").content.decode()
    assert "Lisbon Fraud detection" in page and "Rio Chest" not in page

    page = catalog(client, category="image-classification").content.decode()
    assert "Rio Chest" in page and "Lisbon Fraud" not in page

    page = catalog(client, application="Finance").content.decode()
    assert "Lisbon Fraud" in page and "Rio Chest" not in page


def test_an_empty_result_says_so_and_offers_to_clear_filters(client, federation):
    response = catalog(client, q="nothing-matches-this")
    page = response.content.decode()
    assert "No federation matches." in page
    assert "clear the search and filters" in page


def test_the_catalog_pages_forward_and_back_and_keeps_the_query_in_page_links(client, make_federation):
    for n in range(PAGE_SIZE + 3):
        make_federation(name=f"Energy load {n}", application="Energy")

    first = catalog(client, q="energy").content.decode()
    next_link = re.search(r'href="\?q=energy&amp;after=([0-9.-]+)"', first)
    second = catalog(client, q="energy", after=next_link[1]).content.decode()
    previous_link = re.search(r'href="\?q=energy&amp;before=([0-9.-]+)"', second)
    back = catalog(client, q="energy", before=previous_link[1]).content.decode()

    assert first.count("<tr data-federation") == PAGE_SIZE and "before=" not in first
    assert second.count("<tr data-federation") == 3 and "after=" not in second
    assert re.findall(r'<tr data-federation="(\d+)"', back) == re.findall(r'<tr data-federation="(\d+)"', first)
    assert "28 federations" in first and "28 federations" in second


@pytest.mark.parametrize("params", [
    {"page": "nope"}, {"page": "99"}, {"category": "<script>"}, {"sort": "drop table"}, {"after": "nope"},
    {"after": "1.2.3"}, {"before": "-5.0"}, {"after": "99999999999999999999.1"}, {"after": "9223372036854775807.1"},
    {"before": "-9223372036854775807.1"}, {"after": "1.1", "before": "2.2"}, {"after": "\x00"},
])
def test_bad_query_parameters_never_fail_the_catalog(client, federation, params):
    response = catalog(client, **params)
    assert response.status_code == 200
    assert federation.name in response.content.decode()


def test_hostile_text_is_shown_escaped(client, make_federation):
    federation = make_federation(
        name="<script>alert(1)</script>", description="<img src=x onerror=alert(2)>", tags="<b>bold</b>"
    )
    for page in (catalog(client).content.decode(), client.get(federation.get_absolute_url()).content.decode()):
        assert "<script>alert(1)</script>" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img src=x" not in page and "<b>bold</b>" not in page


def test_the_federation_page_shows_its_card_state_and_join_box(client, make_federation):
    federation = make_federation(name="Osaka keyword spotting", server_address="fl.osaka.example.org:9092")
    LiveState.objects.filter(pk=federation.pk).update(current_round=3, total_rounds=10, connected_clients=4, min_clients=2)

    page = client.get(federation.get_absolute_url()).content.decode()

    assert "MobileNetV2" in page and "Secure aggregation" in page and "Apache-2.0" in page
    assert "round <span data-field=\"current_round\">3</span> of <span data-field=\"total_rounds\">10</span>" in page
    assert federation.client_file.sha256 in page
    assert f"python {federation.slug}-Client.py --server-address fl.osaka.example.org:9092" in page
    assert f"echo &#x27;{federation.client_file.sha256}  {federation.slug}-Client.py&#x27; | sha256sum --check" in page


def test_the_federation_page_is_reachable_by_id(client, federation):
    assert client.get(f"/federations/{federation.pk}/").status_code == 200


@pytest.mark.parametrize("path", ["/federations/nope/", "/federations/424242/", "/federations/nope/client.py",
                                  "/federations/4242424242424242424242/client.py"])
def test_unknown_federations_are_404(client, db, path):
    assert client.get(path).status_code == 404


def test_the_download_is_the_client_file_as_an_attachment_and_is_counted(client, federation):
    response = client.get(reverse("federations:download", args=[federation.slug]))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/x-python; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="{federation.slug}-Client.py"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert hashlib.sha256(response.content).hexdigest() == federation.client_file.sha256
    federation.refresh_from_db()
    assert federation.download_count == 1


def test_pages_only_answer_get(client, federation):
    assert client.post(reverse("federations:download", args=[federation.slug])).status_code == 405
    federation.refresh_from_db()
    assert federation.download_count == 0


def review_line(client, federation) -> str:
    page = client.get(federation.get_absolute_url()).content.decode()
    return page.split('data-testid="review">')[1].split("</p>")[0]


def test_a_federation_added_by_the_operator_claims_no_check_and_no_review(client, federation):
    line = review_line(client, federation)
    assert "added by the portal operator" in line and "not submitted through Be a Server" in line
    assert "checked automatically" not in line and "reviewed by" not in line and "approved" not in line


def test_a_candidacy_without_an_approval_on_record_is_not_called_reviewed(client, federation):
    from indexer.models import Candidacy

    card = {field: getattr(federation, field) for field in Candidacy.CARD_FIELDS}
    Candidacy.objects.create(**card, num_rounds=1, min_clients=1, client_content=b"x", client_sha256="0" * 64,
                             client_filename="Client.py", status="approved", federation=federation)
    line = review_line(client, federation)
    assert "No operator's approval" in line
    assert "reviewed by" not in line and "added by the portal operator" not in line


def test_the_federation_page_adds_one_small_query_for_each_trust_signal(client, federation,
                                                                       django_assert_num_queries):
    from datetime import timedelta

    from django.utils import timezone

    from federations.models import Federation

    Federation.objects.filter(pk=federation.pk).update(created_at=timezone.now() - timedelta(days=3))
    # The federation, its candidacies with their approvals, its open reports with the id of the last moderation
    # action (none here), its spells of uptime (both windows); its round history: none (no round in its run).
    with django_assert_num_queries(4):
        client.get(federation.get_absolute_url())


def test_a_federation_page_remembers_what_seldom_changes_for_seconds_and_forgets_it_when_it_changes(
        client, federation, django_capture_on_commit_callbacks):
    """Trust signals, provenance and spells of uptime are read once per ``f2f_site.memo.SECONDS``; a report
    filed or moved shows on the next view all the same."""
    from datetime import timedelta

    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from federations.models import Federation
    from reports import services as reports

    Federation.objects.filter(pk=federation.pk).update(created_at=timezone.now() - timedelta(days=3))
    client.get(federation.get_absolute_url())
    with CaptureQueriesContext(connection) as queries:
        page = client.get(federation.get_absolute_url()).content.decode()
    tables = " ".join(query["sql"] for query in queries)
    assert len(queries) == 1, tables  # the federation with its live state; its round history: none (no rounds)
    for table in ("reports_", "indexer_", "federations_onlinespell", "federations_roundrecord"):
        assert table not in tables
    assert "0 waiting for the operators" in page

    with django_capture_on_commit_callbacks(execute=True):  # forgotten once the report is committed
        report = reports.report_file(federation=federation, reporter="r1", category="bug", description="It crashes.")
    assert "1 waiting for the operators" in client.get(federation.get_absolute_url()).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        reports.reports_move(report_ids=[report.pk], status="dismissed", note="Not reproducible.")
    assert "0 waiting for the operators" in client.get(federation.get_absolute_url()).content.decode()
