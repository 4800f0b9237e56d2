import pytest
from channels.testing import WebsocketCommunicator

from f2f_site.asgi import application
from federations import live, services
from federations.protocol import RoundEvent

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = [(b"origin", b"http://127.0.0.1")]


async def connected(path, headers=ORIGIN):
    communicator = WebsocketCommunicator(application, path, headers=headers)
    accepted, _ = await communicator.connect()
    return communicator, accepted


@pytest.fixture
def reporting(federation):
    raw = services.reporting_token_issue(federation=federation)
    token_id = services.reporting_token_authenticate(federation_id=federation.pk, token=raw)
    return lambda event: services.federation_apply_event(federation_id=federation.pk, token_id=token_id, event=event)


async def test_the_federation_page_gets_the_current_state_and_curves_on_connect(federation, reporting):
    from channels.db import database_sync_to_async

    await database_sync_to_async(reporting)(RoundEvent("r1", 1, 1, 10.0, 0.5, {"accuracy": 0.8}, 2, 100))
    page, accepted = await connected(f"/ws/federations/{federation.pk}/")
    try:
        assert accepted
        first = await page.receive_json_from()
        assert first["federation"]["completed_rounds"] == 1
        assert [point["round"] for point in first["history"]] == [1]
    finally:
        await page.disconnect()


async def test_pages_receive_pushed_updates(federation, reporting):
    from channels.db import database_sync_to_async

    catalog, _ = await connected("/ws/catalog/")
    page, _ = await connected(f"/ws/federations/{federation.pk}/")
    try:
        await page.receive_json_from()  # the state on connect
        await database_sync_to_async(reporting)(RoundEvent("r1", 1, 1, 10.0, 0.5, {}, 2, 100))
        for communicator in (catalog, page):
            update = await communicator.receive_json_from(timeout=5)
            assert update["federation"]["id"] == federation.pk and update["round"]["round"] == 1
    finally:
        await catalog.disconnect()
        await page.disconnect()


async def test_what_a_browser_sends_changes_nothing(federation):
    from channels.db import database_sync_to_async

    page, _ = await connected(f"/ws/federations/{federation.pk}/")
    try:
        await page.receive_json_from()
        await page.send_json_to({"type": "federation.update", "federation": {"id": federation.pk, "status": "online"}})
        await page.send_to(text_data="not json at all")
        assert await page.receive_nothing(timeout=0.3)
    finally:
        await page.disconnect()
    await database_sync_to_async(federation.refresh_from_db)()
    assert federation.status == "offline"


async def test_an_unknown_federation_page_is_closed(db):
    page, accepted = await connected("/ws/federations/424242/")
    assert not accepted


async def test_websockets_from_foreign_origins_are_refused(federation):
    _, accepted = await connected("/ws/catalog/", headers=[(b"origin", b"https://evil.example")])
    assert not accepted


def test_groups_are_named_per_federation():
    assert live.federation_group(7) == "federation.7" and live.CATALOG_GROUP == "catalog"
