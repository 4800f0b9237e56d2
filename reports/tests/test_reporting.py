"""Reporting a problem: the form, its errors, hostile text, and the automatic review flag."""

import pytest
from django.urls import reverse

from federations.models import Federation
from reports import services
from reports.models import Action, FaultReport, ModerationAction, ReportStatus


def report(client, federation_key, *, address="203.0.113.7", **fields):
    data = {"federation": federation_key, "category": "connection-failure", "priority": "high",
            "description": "The server refuses every client since this morning.", "contact": "", **fields}
    return client.post(reverse("reports:new"), data, REMOTE_ADDR=address)


def test_it_files_a_report_from_the_federation_page(client, federation):
    page = client.get(federation.get_absolute_url()).content.decode()
    link = reverse("reports:new") + f"?federation={federation.slug}"
    assert f'href="{link}"' in page

    form = client.get(link).content.decode()
    assert f'value="{federation.slug}"' in form  # pre-filled from its page

    response = report(client, federation.slug, contact="alice@example.org")
    assert response.status_code == 302 and response["Location"] == reverse("reports:sent")
    filed = FaultReport.objects.get()
    assert (filed.federation, filed.category, filed.priority, filed.status, filed.contact) == (
        federation, "connection-failure", "high", ReportStatus.PENDING, "alice@example.org")
    assert filed.reporter == services.reporter_of("203.0.113.7") and "203.0.113.7" not in filed.reporter
    assert "reached the operators" in client.get(response["Location"]).content.decode()


@pytest.mark.parametrize("key", ["{pk}", "http://portal.example/federations/{slug}/", "/federations/{slug}/client.py"])
def test_it_finds_the_federation_by_number_or_page_address(client, federation, key):
    assert report(client, key.format(pk=federation.pk, slug=federation.slug)).status_code == 302
    assert FaultReport.objects.get().federation == federation


def test_an_address_it_cannot_read_is_a_field_error_not_a_crash(client, federation):
    response = report(client, "http://[/federations/x/")
    assert response.status_code == 400 and "No federation has that name or number." in response.content.decode()


def test_it_gives_clear_field_errors_and_saves_nothing(client, federation):
    response = report(client, "no-such-federation", category="aliens", description="bad", priority="")
    page = response.content.decode()
    assert response.status_code == 400
    assert "No federation has that name or number." in page
    assert "Select a valid choice. aliens is not one of the available choices." in page
    assert "Describe the problem in a sentence or more." in page
    assert "This field is required." in page
    assert not FaultReport.objects.exists()


def test_hostile_text_is_stored_as_sent_and_shown_inert(client, admin_client, federation):
    hostile = '<script>alert("x")</script><img src=x onerror=alert(1)> {{ 7*7 }} \u202eevil'
    assert report(client, federation.slug, description=hostile, contact="<b>me</b>").status_code == 302
    filed = FaultReport.objects.get()
    assert filed.description == hostile and filed.contact == "<b>me</b>"

    page = admin_client.get(reverse("admin:reports_faultreport_change", args=[filed.pk])).content.decode()
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "<script>alert" not in page and "<img src=x" not in page and "<b>me</b>" not in page
    assert "{{ 7*7 }}" in page  # not evaluated as a template


def test_reports_from_several_people_put_a_federation_under_review(client, settings, federation, make_federation):
    settings.F2F_REVIEW_REPORTERS = 3
    other = make_federation()
    for _ in range(3):  # one person, three times: not several people
        report(client, federation.slug, address="198.51.100.1")
    report(client, other.slug, address="198.51.100.2")
    federation.refresh_from_db()
    assert federation.under_review_since is None

    report(client, federation.slug, address="198.51.100.2")
    federation.refresh_from_db()
    assert federation.under_review_since is None
    report(client, federation.slug, address="198.51.100.3")
    federation.refresh_from_db()
    assert federation.under_review_since is not None
    flag = ModerationAction.objects.get(federation=federation)
    assert (flag.action, flag.actor) == (Action.FLAGGED, None)
    assert "3 different people within 24 hours" in flag.reason

    report(client, federation.slug, address="198.51.100.4")  # flagged once, not again
    assert ModerationAction.objects.filter(federation=federation).count() == 1
    catalog = client.get(reverse("federations:catalog")).content.decode()
    row = catalog.split(f'data-federation="{federation.pk}"')[1].split("</tr>")[0]
    assert 'data-testid="under-review"' in row and "6 open reports" in row
    other_row = catalog.split(f'data-federation="{other.pk}"')[1].split("</tr>")[0]
    assert 'data-testid="under-review"' not in other_row and "1 open report<" in other_row
    assert 'data-testid="under-review"' in client.get(federation.get_absolute_url()).content.decode()


def test_dismissed_and_old_reports_do_not_count_toward_the_flag(client, settings, federation):
    from datetime import timedelta

    from django.utils import timezone

    settings.F2F_REVIEW_REPORTERS = 2
    report(client, federation.slug, address="198.51.100.1")
    services.reports_move(report_ids=[FaultReport.objects.get().pk], status=ReportStatus.DISMISSED, note="spam")
    report(client, federation.slug, address="198.51.100.2")
    FaultReport.objects.filter(status=ReportStatus.PENDING).update(created_at=timezone.now() - timedelta(hours=25))
    report(client, federation.slug, address="198.51.100.3")
    assert Federation.objects.get(pk=federation.pk).under_review_since is None
    report(client, federation.slug, address="198.51.100.4")
    assert Federation.objects.get(pk=federation.pk).under_review_since is not None


def test_report_statuses_only_move_forward_and_closing_needs_a_note(federation, admin_user):
    from django.core.exceptions import ValidationError

    filed = services.report_file(federation=federation, reporter="r", category="bug", description="It crashes.")
    with pytest.raises(ValidationError) as error:
        services.reports_move(report_ids=[filed.pk], status=ReportStatus.RESOLVED, note="  ")
    assert error.value.code == "note_required"

    assert services.reports_move(report_ids=[filed.pk], status=ReportStatus.REVIEWING, actor=admin_user) == 1
    assert services.reports_move(report_ids=[filed.pk], status=ReportStatus.RESOLVED, note="Fixed in 1.2",
                                 actor=admin_user) == 1
    assert services.reports_move(report_ids=[filed.pk], status=ReportStatus.REVIEWING) == 0  # final
    filed.refresh_from_db()
    assert (filed.status, filed.note, filed.handled_by) == (ReportStatus.RESOLVED, "Fixed in 1.2", admin_user)
    assert filed.handled_at is not None


def test_a_cleared_review_stays_cleared_until_new_people_report(client, settings, admin_user, federation):
    settings.F2F_REVIEW_REPORTERS = 2
    for address in ("198.51.100.1", "198.51.100.2"):
        report(client, federation.slug, address=address)
    assert services.federation_moderate(federation=federation, action=Action.CLEARED, reason="Looked: fine.",
                                        actor=admin_user)
    report(client, federation.slug, address="198.51.100.1")  # the same people again: not a new alarm
    assert Federation.objects.get(pk=federation.pk).under_review_since is None
    report(client, federation.slug, address="198.51.100.3")  # two people since the clearing
    assert Federation.objects.get(pk=federation.pk).under_review_since is not None
