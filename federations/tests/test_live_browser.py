"""A person watching: pages follow a real training without reloading, and see a dead server go offline."""

import pytest

from federations import services
from flower_integration.tests.harness import Federation as FlowerFederation

pytestmark = pytest.mark.browser


def reporter_args(portal, federation, token):
    return ["--indexer", portal.url, "--federation", federation.pk, "--token", token]


def field(page, name):
    return page.locator(f'[data-field="{name}"]').first.inner_text()


def test_the_pages_follow_a_training_live(browser, make_federation, live_portal, tmp_path):
    federation = make_federation(name="Digits softmax")
    token = services.reporting_token_issue(federation=federation)
    detail = browser.new_page()
    detail.goto(live_portal.url + federation.get_absolute_url())
    catalog = browser.new_page()
    catalog.goto(live_portal.url + "/")
    for page in (detail, catalog):
        page.evaluate("window.loadedOnce = true")  # a reload would erase it
        page.wait_for_function("document.body.dataset.live === 'connected'")
    assert field(detail, "current_round") == "0" and field(detail, "status") == "Offline"
    assert detail.locator("[data-curves]").is_hidden()

    training = FlowerFederation(tmp_path, rounds=4, client_delay=0.4,
                                server_args=reporter_args(live_portal, federation, token))
    detail.wait_for_function("document.querySelector('[data-field=current_round]').textContent === '2'")
    assert field(detail, "status") == "Online"
    points_midway = int(detail.locator("[data-curves-grid]").get_attribute("data-points") or 0)
    training.wait()

    detail.wait_for_function("document.querySelector('[data-curves-grid]').dataset.points === '4'")
    assert points_midway < 4
    assert field(detail, "phase") == "Finished" and field(detail, "completed_rounds") == "4"
    assert detail.locator("[data-field=progress]").first.get_attribute("style") == "width: 100%;"
    assert detail.evaluate("Chart.getChart(document.querySelector('canvas[data-chart=loss]')).data.labels") == [
        1, 2, 3, 4]
    assert "accuracy" in detail.evaluate(
        "Chart.getChart(document.querySelector('canvas[data-chart=metrics]')).data.datasets.map(d => d.label)")
    row = catalog.locator(f'tr[data-federation="{federation.pk}"]')
    catalog.wait_for_function(
        f"document.querySelector('tr[data-federation=\"{federation.pk}\"] [data-field=completed_rounds]')"
        ".textContent === '4'")
    assert row.locator("[data-field=status]").inner_text() == "Finished"  # not "Online" for ten more rounds
    assert detail.evaluate("window.loadedOnce") and catalog.evaluate("window.loadedOnce")

    detail.reload()  # a finished federation shows its history from the page itself
    assert detail.evaluate("Chart.getChart(document.querySelector('canvas[data-chart=loss]')).data.labels") == [
        1, 2, 3, 4]


def test_a_server_that_dies_turns_offline_on_the_open_page(browser, make_federation, heartbeat_portal, tmp_path):
    federation = make_federation(name="Doomed federation")
    token = services.reporting_token_issue(federation=federation)
    page = browser.new_page()
    page.goto(heartbeat_portal.url + federation.get_absolute_url())
    page.evaluate("window.loadedOnce = true")

    training = FlowerFederation(tmp_path, rounds=200, client_delay=0.1,
                                server_args=reporter_args(heartbeat_portal, federation, token))
    try:
        page.wait_for_function("document.querySelector('[data-field=status]').textContent === 'Online'", timeout=30000)
        page.wait_for_function("Number(document.querySelector('[data-field=current_round]').textContent) >= 2",
                               timeout=30000)
        training.kill_server()
        page.wait_for_function("document.querySelector('[data-field=status]').textContent === 'Offline'",
                               timeout=30000)
    finally:
        training.stop()
    assert page.evaluate("window.loadedOnce")
    # It says the training stopped and when it was last heard from, and counts no clients as connected now.
    assert page.is_visible("[data-testid=stopped]")
    assert page.text_content("[data-field=phase]") == "Stopped"
    assert page.text_content("[data-field=clients_label]") == "—"


@pytest.mark.skipif(not __import__("os").environ.get("REDIS_URL"),
                    reason="the test process reaches the portal's pages through Redis (services mode)")
def test_an_open_catalog_is_told_of_a_federation_listed_after_it_was_opened(browser, make_federation, live_portal):
    from django.conf import settings

    make_federation(name="Already there")
    catalog = browser.new_page()
    catalog.goto(live_portal.url + "/")
    catalog.evaluate("window.loadedOnce = true")
    catalog.wait_for_function("document.body.dataset.live === 'connected'")
    assert catalog.locator("[data-testid=listed]").is_hidden()

    content = (settings.BASE_DIR / "flower_integration" / "examples" / "digits" / "Client.py").read_bytes()
    services.federation_create(
        client_content=content, name="Listed while you looked", category="tabular", application="Finance",
        description="-", model_name="-", data_expected="-", flower_version="1.42.0", flower_api="legacy",
        compute_needs="-", license="MIT", owner_contact="a@example.org", server_address="fl.example.org:8080")
    catalog.wait_for_selector("[data-testid=listed]:not([hidden])", timeout=10000)
    assert catalog.inner_text("[data-testid=listed]").startswith("1 federation listed since this page was opened.")
    assert catalog.evaluate("window.loadedOnce")  # told without a reload
    catalog.click("[data-testid=listed-show]")
    catalog.wait_for_selector("text=Listed while you looked")
    assert catalog.locator("[data-testid=listed]").is_hidden()
