"""The reviewer's view of a candidacy in a real browser: hostile source stays inert, findings lead to their lines."""

import os

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from playwright.sync_api import expect

from indexer.models import Candidacy
from indexer.tests.conftest import corpus_file
from indexer.tests.test_moderation_admin import HOSTILE, awaiting

pytestmark = pytest.mark.browser


def test_the_reviewer_reads_hostile_source_inert_and_follows_a_finding_to_its_line(browser, live_portal, card,
                                                                                   tmp_path):
    get_user_model().objects.create_superuser("op", "op@example.org", "op-password")
    payload = b"import subprocess\nsubprocess.run('id', shell=True)\n"
    content = corpus_file("os_system.txt") + HOSTILE + b"\n" * 3000 + payload
    candidacy = awaiting(card, content)
    last = Candidacy.objects.get(pk=candidacy.pk).report["findings"][-1]

    # F2F_COLOR_SCHEME=dark: look at the screenshot in the admin's dark theme.
    page = browser.new_page(viewport={"width": 1280, "height": 900},
                            color_scheme=os.environ.get("F2F_COLOR_SCHEME", "light"))
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    change_url = reverse("admin:indexer_candidacy_change", args=[candidacy.pk])
    page.goto(f"{live_portal.url}/admin/login/?next={change_url}")
    page.fill("#id_username", "op")
    page.fill("#id_password", "op-password")
    page.click("input[type=submit]")
    page.wait_for_selector(".f2f-source")

    assert page.locator("script", has_text="alert(1)").count() == 0 and not dialogs
    banner = page.locator(".f2f-source div", has_text="BANNER")
    banner.scroll_into_view_if_needed()
    # The row is drawn once the browser lays its section out (content-visibility): expect waits for that.
    expect(banner).to_contain_text("</textarea></span></div></section><script>alert(1)</script>", use_inner_text=True)
    assert banner.locator(".f2f-char", has_text="U+202E").is_visible()
    # Flagged lines are highlighted, and a finding's link scrolls the listing to its line, even far below.
    assert page.locator(".f2f-flagged").count() >= 2
    page.locator(".f2f-report a", has_text=f"line {last['line']}").first.click()
    row, box = page.locator(f"#L{last['line']}"), page.locator(".f2f-source").bounding_box()
    expect(row).to_contain_text("subprocess.run", use_inner_text=True)
    row_box = row.bounding_box()
    assert box["y"] <= row_box["y"] < box["y"] + box["height"] and last["rule"] in row.inner_text()

    page.set_viewport_size({"width": 1280, "height": 1500})
    page.goto(page.url.split("#")[0])
    page.locator("fieldset", has_text="Validation report").first.evaluate("e => e.scrollIntoView()")
    page.screenshot(path=str(tmp_path / "review.png"))  # kept with the test's files, for a human to look at
