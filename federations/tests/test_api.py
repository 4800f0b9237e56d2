"""The scrape API: the catalog as JSON, a federation, many states at once, and its description."""

import hashlib
import os
import subprocess
import sys

from django.urls import reverse

from conftest import ROOT, CLIENT_SCRIPT
from federations.models import Federation, Status
from reports import services as moderation
from reports.models import Action


def test_it_lists_searches_and_pages_like_the_catalog(client, settings, make_federation):
    from federations import selectors

    settings.DEBUG = False
    for n in range(60):
        make_federation(name=f"Fraud detection {n}", status=Status.ONLINE if n % 2 else Status.OFFLINE)
    make_federation(name="Chest X-ray triage")
    first = client.get(reverse("federations:api-list"), {"q": "fraud", "online": "on"}).json()
    assert first["count"] == 30 and not first["count_is_lower_bound"]
    assert len(first["results"]) == selectors.PAGE_SIZE and first["previous"] is None
    assert all(row["state"]["status"] == "online" and "Fraud" in row["name"] for row in first["results"])
    second = client.get(first["next"]).json()
    assert {row["id"] for row in second["results"]}.isdisjoint(row["id"] for row in first["results"])
    assert len(first["results"]) + len(second["results"]) == 30 and second["next"] is None
    row = first["results"][0]
    federation = Federation.objects.get(pk=row["id"])
    assert row["client"]["sha256"] == federation.client_file.sha256
    assert row["client"]["url"].endswith(reverse("federations:download", args=[federation.slug]))


def test_it_says_which_parameters_it_cannot_read(client, db):
    response = client.get(reverse("federations:api-list"), {"sort": "random", "after": "x.y", "category": "fish"})
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert set(errors) == {"sort", "after", "category"}
    assert errors["after"] == ["This page link is not one the catalog wrote."]


def test_a_federation_with_its_client_state_join_commands_and_trust(client, admin_user, federation):
    card = client.get(reverse("federations:api-detail", args=[federation.slug])).json()
    assert card["id"] == federation.pk and card["description"] == federation.description
    assert card["client"]["sha256"] == hashlib.sha256(CLIENT_SCRIPT).hexdigest()
    assert card["join"]["run"].endswith(f"--server-address {federation.server_address}")
    assert card["trust"] == {"uptime": None, "open_reports": 0, "last_moderation": None}
    assert card["state"]["status"] == "offline" and card["suspended"] is False
    assert client.get(reverse("federations:api-detail", args=[federation.pk])).json()["id"] == federation.pk

    moderation.federation_moderate(federation=federation, action=Action.SUSPENDED, reason="Malware.", actor=admin_user)
    card = client.get(reverse("federations:api-detail", args=[federation.slug])).json()
    assert card["suspended"] is True and card["client"] is None
    assert card["trust"]["last_moderation"]["reason"] == "Malware."
    missing = client.get(reverse("federations:api-detail", args=["no-such-federation"]))
    assert missing.status_code == 404 and missing.json() == {"error": "No such federation."}


def test_scrape_gives_many_states_in_one_request(client, admin_user, make_federation):
    shown, other, suspended = make_federation(), make_federation(), make_federation()
    moderation.federation_moderate(federation=suspended, action=Action.SUSPENDED, reason="Spam.", actor=admin_user)
    answer = client.get(reverse("federations:api-scrape"), {"ids": f"{shown.pk},{other.pk},{suspended.pk},999999"})
    assert set(answer.json()["federations"]) == {str(shown.pk), str(other.pk)}
    for ids, message in (("", "Give ids"), ("1,x", "whole numbers"), (",".join(map(str, range(1, 202))), "At most 200")):
        response = client.get(reverse("federations:api-scrape"), {"ids": ids})
        assert response.status_code == 400 and message in response.json()["error"]


def as_json_schema(node):
    """An OpenAPI 3.0 schema as plain JSON Schema: ``nullable`` becomes a "null" type."""
    if isinstance(node, list):
        return [as_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: as_json_schema(value) for key, value in node.items() if key != "nullable"}
    if node.get("nullable") and "type" in node:
        converted["type"] = [node["type"], "null"]
    return converted


def test_the_schema_describes_what_the_api_answers(client, federation):
    import jsonschema_rs

    schema = client.get(reverse("federations:api-schema")).json()
    components = as_json_schema(schema["components"])

    def check(instance, ref):
        jsonschema_rs.validator_for({"$ref": f"#/components/schemas/{ref}", "components": components}).validate(instance)

    listing = client.get(reverse("federations:api-list")).json()
    assert listing["results"]
    for row in listing["results"]:
        check(row, "Summary")
    for state in client.get(reverse("federations:api-scrape"), {"ids": federation.pk}).json()["federations"].values():
        check(state, "State")
    check(client.get(reverse("federations:api-list"), {"sort": "random"}).json(), "Error")
    row = listing["results"][0]
    row["state"]["status"] = "asleep"
    with __import__("pytest").raises(jsonschema_rs.ValidationError):
        check(row, "Summary")  # the schema does check what it describes


def test_schemathesis_finds_no_server_error(live_portal, make_federation):
    for n in range(3):
        make_federation(name=f"Federation {n}")
    run = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "schemathesis"), "run", f"{live_portal.url}/api/openapi.json",
         "--url", live_portal.url, "--checks", "not_a_server_error", "--max-examples", "40", "--no-color"],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
