from django.urls import reverse

from indexer import services
from indexer.models import Candidacy, Decision
from indexer.tests.conftest import corpus_file

CHANGELIST = reverse("admin:indexer_candidacy_changelist")


def awaiting(card, content=None):
    candidacy = services.candidacy_submit(card=card, num_rounds=5, min_clients=2, client_filename="Client.py",
                                          client_content=content or corpus_file("clean_legacy.txt"))
    services.candidacy_validate(candidacy_id=candidacy.pk)
    return candidacy


def test_operators_see_status_verdict_and_findings(admin_client, card):
    awaiting({**card, "name": "Shell user"}, corpus_file("os_system.txt"))
    page = admin_client.get(CHANGELIST, {"verdict": "findings"}).content.decode()
    assert "Shell user" in page and "Has findings" in page and "Awaiting review" in page


def test_the_report_shows_the_code_around_each_finding(admin_client, card):
    candidacy = awaiting(card, corpus_file("os_system.txt"))
    finding = candidacy.__class__.objects.get(pk=candidacy.pk).report["findings"][0]
    page = admin_client.get(reverse("admin:indexer_candidacy_change", args=[candidacy.pk])).content.decode()
    assert finding["rule"] in page and f"line {finding['line']}" in page
    marked = page.split("<mark>")[1].split("</mark>")[0]
    assert marked.startswith(f"{finding['line']:>5}  ") and "os.system" in marked


def test_the_excerpt_numbers_lines_as_python_does(admin_client, card):
    # A form feed or U+2028 in a comment must not shift the excerpt away from the flagged line.
    source = corpus_file("os_system.txt").replace(b"import argparse", b"# \x0c \xe2\x80\xa8 note\nimport argparse", 1)
    candidacy = awaiting(card, source)
    page = admin_client.get(reverse("admin:indexer_candidacy_change", args=[candidacy.pk])).content.decode()
    assert "os.system" in page.split("<mark>")[1].split("</mark>")[0]


def test_staff_who_may_only_view_cannot_decide(client, django_user_model, card):
    from django.contrib.auth.models import Permission

    viewer = django_user_model.objects.create_user("viewer", password="x", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_candidacy"))
    client.force_login(viewer)
    candidacy = awaiting(card)
    client.post(CHANGELIST, {"action": "approve", "_selected_action": [candidacy.pk], "apply": "1", "reason": "x"})
    assert Candidacy.objects.get(pk=candidacy.pk).status == "awaiting_review"


def test_approving_asks_for_a_reason_then_lists_the_federation(admin_client, admin_user, card):
    candidacy = awaiting(card)
    ask = admin_client.post(CHANGELIST, {"action": "approve", "_selected_action": [candidacy.pk]})
    assert ask.status_code == 200 and "Confirm: approved" in ask.content.decode()
    assert Candidacy.objects.get(pk=candidacy.pk).status == "awaiting_review"

    admin_client.post(CHANGELIST, {"action": "approve", "_selected_action": [candidacy.pk], "apply": "1",
                                   "reason": "Reviewed: clean."})
    candidacy.refresh_from_db()
    assert candidacy.status == "approved" and candidacy.federation is not None
    decision = Decision.objects.get()
    assert (decision.actor, decision.reason) == (admin_user, "Reviewed: clean.")
    page = admin_client.get(reverse("admin:indexer_candidacy_change", args=[candidacy.pk])).content.decode()
    assert "Reviewed: clean." in page  # the decision is visible in the admin


def test_an_empty_reason_decides_nothing(admin_client, card):
    candidacy = awaiting(card)
    response = admin_client.post(CHANGELIST, {"action": "decline", "_selected_action": [candidacy.pk], "apply": "1",
                                              "reason": ""})
    assert response.status_code == 200 and "This field is required." in response.content.decode()
    assert Candidacy.objects.get(pk=candidacy.pk).status == "awaiting_review"


def test_deciding_a_rejected_candidacy_reports_an_error(admin_client, card):
    candidacy = awaiting(card, corpus_file("syntax_error.txt"))
    response = admin_client.post(CHANGELIST, {"action": "approve", "_selected_action": [candidacy.pk], "apply": "1",
                                              "reason": "ok"}, follow=True)
    assert "Only a candidacy awaiting review can be decided" in response.content.decode()
    assert Candidacy.objects.get(pk=candidacy.pk).status == "rejected"
