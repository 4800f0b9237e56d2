"""Be a Server end to end: a real browser, daphne, a Celery worker, the admin, the catalog and a reporter."""

import hashlib

import pytest
from django.contrib.auth import get_user_model

from federations.models import RoundRecord
from flower_integration import Reporter
from indexer.models import Candidacy
from indexer.tests.conftest import DECLARED, corpus_file

pytestmark = pytest.mark.browser


def test_a_candidate_is_validated_approved_listed_downloaded_and_reports(browser, worker_portal, card, tmp_path):
    get_user_model().objects.create_superuser("op", "op@example.org", "op-password")
    client_py = tmp_path / "Client.py"
    client_py.write_bytes(corpus_file("clean_legacy.txt"))
    url = worker_portal.url

    candidate = browser.new_page()
    candidate.goto(url + "/be-a-server/")
    for field in ("name", "application", "description", "tags", "model_name", "data_expected", "flower_version",
                  "privacy_measures", "compute_needs", "license", "owner_contact", "server_address"):
        candidate.fill(f"#id_{field}", card[field])
    candidate.select_option("#id_category", card["category"])
    candidate.select_option("#id_flower_api", card["flower_api"])
    candidate.fill("#id_num_rounds", "3")
    candidate.fill("#id_min_clients", "2")
    candidate.set_input_files("#id_client_file", str(client_py))
    candidate.click("button[type=submit]")
    candidate.wait_for_url("**/be-a-server/*/")
    status_url = candidate.url
    # The Celery worker validates it; the status page refreshes itself until then.
    candidate.wait_for_function(
        "document.querySelector('[data-testid=candidacy-status]').textContent === 'Awaiting review'", timeout=60000)
    assert candidate.get_by_test_id("clean").is_visible()

    operator = browser.new_page()
    operator.goto(url + "/admin/login/?next=/admin/indexer/candidacy/")
    operator.fill("#id_username", "op")
    operator.fill("#id_password", "op-password")
    operator.click("input[type=submit]")
    operator.check("input[name=_selected_action]")
    operator.select_option("select[name=action]", "approve")
    operator.click("button[name=index]")
    operator.fill("#id_reason", "Clean script, address checked.")
    operator.click("input[type=submit][value='Confirm: approved']")
    assert "approved" in operator.locator(".messagelist").inner_text()

    candidate.goto(status_url)
    candidate.get_by_test_id("reveal-token").click()
    token = candidate.get_by_test_id("token").inner_text().strip()
    federation_id = int(candidate.get_by_test_id("federation-id").inner_text())
    assert "Clean script, address checked." in candidate.get_by_test_id("decision-reason").inner_text()
    candidate.goto(status_url)
    assert candidate.get_by_test_id("token").count() == 0 and candidate.get_by_test_id("reveal-token").count() == 0

    visitor = browser.new_page(accept_downloads=True)
    visitor.goto(url + "/?q=lesions")
    visitor.locator("tr[data-federation] a", has_text="See training").click()
    assert visitor.get_by_test_id("server-address").inner_text() == DECLARED
    with visitor.expect_download() as download:
        visitor.get_by_test_id("download").click()
    path = tmp_path / "downloaded.py"
    download.value.save_as(path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert digest == visitor.get_by_test_id("sha256").inner_text() == Candidacy.objects.get().client_sha256

    reporter = Reporter(url, federation_id=federation_id, token=token)
    reporter.round_finished(round=1, duration=3.0, loss=0.4, metrics={"accuracy": 0.81}, num_clients=2,
                            num_examples=50)
    assert reporter.close(timeout=20) is True
    assert RoundRecord.objects.get(federation_id=federation_id).metrics == {"accuracy": 0.81}
