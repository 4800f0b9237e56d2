import hashlib
from datetime import timedelta

import pytest
from django.utils import timezone

pytestmark = pytest.mark.browser


def test_a_newcomer_finds_a_federation_and_downloads_the_listed_client(browser, make_federation, live_portal, tmp_path):
    make_federation(name="Lisbon Fraud detection", category="tabular", description="Card fraud across banks.")
    wanted = make_federation(name="Rio Chest X-ray triage", server_address="fl.rio.example.org:8080")

    page = browser.new_page(accept_downloads=True)
    page.goto(live_portal.url + "/")
    page.fill("input[name=q]", "x-ray")
    page.click("button[type=submit]")
    page.wait_for_url("**/?q=x-ray*")
    rows = page.locator("tr[data-federation]")
    assert rows.count() == 1
    rows.first.get_by_role("link", name="See training").click()
    page.wait_for_url(f"**/federations/{wanted.slug}/")

    shown_sha256 = page.get_by_test_id("sha256").inner_text().strip()
    assert page.get_by_test_id("server-address").inner_text() == "fl.rio.example.org:8080"
    with page.expect_download() as download_info:
        page.get_by_test_id("download").click()
    download = download_info.value
    path = tmp_path / download.suggested_filename
    download.save_as(path)

    assert download.suggested_filename == f"{wanted.slug}-Client.py"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == shown_sha256 == wanted.client_file.sha256
    page.reload()
    assert page.locator("[data-field=download_count]").inner_text() == "1"


def test_pages_load_cleanly_and_the_catalog_fits_its_box(browser, make_federation, live_portal):
    """No failed request (the icon included) and no console error; at a common width the catalog's live
    columns fit without scrolling sideways."""
    from federations.models import Status

    for n in range(5):
        make_federation(name=f"Multi-site federated chest X-ray triage {n}", application="Healthcare and hospitals",
                        status=Status.ONLINE, connected_clients=1, min_clients=3, current_round=12, total_rounds=300,
                        completed_rounds=1234, avg_round_duration=95.5)
    for n in range(5):  # and finished ones, heard from days ago, as the demo seeds them
        make_federation(name=f"Tartu Speaker-independent digits {n}", category="recommendation",
                        application="Voice assistants", status=Status.OFFLINE, phase="finished", current_round=100,
                        total_rounds=100, completed_rounds=104, avg_round_duration=204.8, download_count=146,
                        last_update=timezone.now() - timedelta(days=12))
    federation = make_federation()
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    failures, errors = [], []
    page.on("response", lambda response: response.status >= 400 and failures.append(response.url))
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    for path in ("/", federation.get_absolute_url(), "/report/"):
        page.goto(live_portal.url + path)
        page.wait_for_load_state("networkidle")
    assert failures == [] and errors == []

    page.goto(live_portal.url + "/")
    table, box = page.evaluate("""() => {
        const table = document.querySelector("table.catalog");
        return [table.scrollWidth, table.parentElement.clientWidth];
    }""")
    assert table <= box, f"the catalog is {table} px wide in a {box} px box"
