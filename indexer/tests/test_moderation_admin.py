import hashlib

from django.urls import reverse
from django.utils.html import escape

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


def change_page(client, candidacy) -> str:
    return client.get(reverse("admin:indexer_candidacy_change", args=[candidacy.pk])).content.decode()


def source_row(page: str, number: int) -> str:
    return page.split(f'<tr id="L{number}"')[1].split("</tr>")[0]


def test_every_finding_links_to_its_line_in_the_whole_numbered_source(admin_client, card):
    candidacy = awaiting(card, corpus_file("os_system.txt"))
    finding = Candidacy.objects.get(pk=candidacy.pk).report["findings"][0]
    page = change_page(admin_client, candidacy)
    assert f'<a href="#L{finding["line"]}">line {finding["line"]}</a>' in page
    flagged = source_row(page, finding["line"])
    assert "os.system" in flagged and finding["rule"] in flagged and "#fff3cd" in flagged
    total = len(corpus_file("os_system.txt").decode().split("\n"))
    assert all(f'<tr id="L{n}"' in page for n in range(1, total + 1))


def test_a_candidacy_with_no_findings_still_shows_its_whole_source(admin_client, card):
    candidacy = awaiting(card)
    assert Candidacy.objects.get(pk=candidacy.pk).verdict == "clean"
    page = change_page(admin_client, candidacy)
    assert "No known-dangerous pattern found" in page and "Clean" not in page
    lines = corpus_file("clean_legacy.txt").decode().split("\n")
    number, text = next((n, line) for n, line in enumerate(lines, start=1) if "flwr" in line)
    assert escape(text) in source_row(page, number)


def test_the_source_numbers_lines_as_python_does(admin_client, card):
    # A form feed or U+2028 in a comment must not shift the numbering away from the flagged line.
    source = corpus_file("os_system.txt").replace(b"import argparse", b"# \x0c \xe2\x80\xa8 note\nimport argparse", 1)
    candidacy = awaiting(card, source)
    finding = Candidacy.objects.get(pk=candidacy.pk).report["findings"][0]
    assert "os.system" in source_row(change_page(admin_client, candidacy), finding["line"])


def test_hostile_text_in_the_source_is_shown_inert(admin_client, card):
    trap = b'BANNER = "</textarea></td></table><script>alert(1)</script>"  # \xe2\x80\xae reversed\n' + b"x" * 5000 + b" = 1\n"
    candidacy = awaiting(card, corpus_file("clean_legacy.txt") + trap)
    page = change_page(admin_client, candidacy)
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert page.count('<tr id="L') == len((corpus_file("clean_legacy.txt") + trap).decode().split("\n"))


def test_the_approval_page_repeats_the_hash_and_size_that_will_be_served(admin_client, card):
    candidacy = awaiting(card, corpus_file("os_system.txt"))
    page = admin_client.post(CHANGELIST, {"action": "approve", "_selected_action": [candidacy.pk]}).content.decode()
    content = corpus_file("os_system.txt")
    assert hashlib.sha256(content).hexdigest() in page and f"{len(content)} bytes" in page
    assert "Has findings" in page and "Read the source" in page


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


def test_the_public_page_says_when_the_script_was_checked_and_reviewed(admin_client, client, card):
    candidacy = awaiting(card)
    admin_client.post(CHANGELIST, {"action": "approve", "_selected_action": [candidacy.pk], "apply": "1",
                                   "reason": "Read it."})
    candidacy.refresh_from_db()
    decision = Decision.objects.get()
    page = client.get(candidacy.federation.get_absolute_url()).content.decode()
    review = page.split('data-testid="review">')[1].split("</p>")[0]
    assert "checked automatically" in review and "reviewed by an operator" in review
    assert decision.at.strftime("%Y-%m-%d") in review and candidacy.created_at.strftime("%Y-%m-%d") in review
    assert "safe" not in review.lower() and "clean" not in review.lower()


def test_the_public_page_claims_no_review_for_a_federation_added_by_the_operator(client, make_federation):
    federation = make_federation()
    review = client.get(federation.get_absolute_url()).content.decode().split('data-testid="review">')[1].split("</p>")[0]
    assert "not submitted through Be a Server" in review and "reviewed" not in review


def test_the_public_page_does_not_vouch_for_a_file_replaced_after_approval(admin_client, client, card):
    from federations.models import ClientFile

    candidacy = awaiting(card)
    admin_client.post(CHANGELIST, {"action": "approve", "_selected_action": [candidacy.pk], "apply": "1",
                                   "reason": "Read it."})
    federation = Candidacy.objects.get(pk=candidacy.pk).federation
    content = corpus_file("os_system.txt")
    federation.client_file = ClientFile.objects.create(sha256=hashlib.sha256(content).hexdigest(), content=content,
                                                       size=len(content))
    federation.save()
    review = client.get(federation.get_absolute_url()).content.decode().split('data-testid="review">')[1].split("</p>")[0]
    assert "replaced afterwards and not checked" in review and "reviewed by an operator" not in review
