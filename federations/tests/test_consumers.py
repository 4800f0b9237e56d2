import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from f2f_site.asgi import application
from federations import consumers, services
from federations.models import LiveState
from federations.protocol import RoundEvent

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = [(b"origin", b"http://127.0.0.1")]


async def connected(path, headers=ORIGIN):
    communicator = WebsocketCommunicator(application, path, headers=headers)
    accepted, code = await communicator.connect()
    return communicator, accepted, code


@pytest.fixture
def reporting(federation):
    raw = services.reporting_token_issue(federation=federation)
    token_id = services.reporting_token_authenticate(federation_id=federation.pk, token=raw)
    return database_sync_to_async(
        lambda event: services.federation_apply_event(federation_id=federation.pk, token_id=token_id, event=event))


async def test_the_federation_page_gets_the_current_state_and_curves_on_connect(federation, reporting):
    await reporting(RoundEvent("r1", 1, 1, 10.0, 0.5, {"accuracy": 0.8}, 2, 100))
    page, accepted, _ = await connected(f"/ws/federations/{federation.pk}/")
    try:
        assert accepted
        first = await page.receive_json_from()
        assert [state["completed_rounds"] for state in first["federations"]] == [1]
        assert [point["round"] for point in first["history"]] == [1]
    finally:
        await page.disconnect()


async def test_pages_receive_the_updates_of_the_federations_they_show(make_federation, federation, reporting):
    other = await database_sync_to_async(make_federation)()
    catalog, _, _ = await connected(f"/ws/catalog/?ids={federation.pk},{other.pk}")
    elsewhere, _, _ = await connected(f"/ws/catalog/?ids={other.pk}")
    page, _, _ = await connected(f"/ws/federations/{federation.pk}/")
    try:
        for communicator in (catalog, elsewhere, page):
            await communicator.receive_json_from()  # the state on connect
        await reporting(RoundEvent("r1", 1, 1, 10.0, 0.5, {}, 2, 100))
        on_catalog = await catalog.receive_json_from(timeout=5)
        assert [state["id"] for state in on_catalog["federations"]] == [federation.pk]
        assert on_catalog["rounds"] == []  # the catalog draws no curves
        on_page = await page.receive_json_from(timeout=5)
        assert on_page["federations"][0]["current_round"] == 1 and on_page["rounds"][0]["round"] == 1
        assert await elsewhere.receive_nothing(timeout=0.5)  # a page showing other federations hears nothing
    finally:
        for communicator in (catalog, elsewhere, page):
            await communicator.disconnect()


async def test_a_page_ends_on_the_latest_state_of_a_burst(federation, reporting):
    page, _, _ = await connected(f"/ws/federations/{federation.pk}/")
    try:
        await page.receive_json_from()
        for number in range(1, 21):
            await reporting(RoundEvent("r1", 1, number, 1.0, 0.5, {}, 2, 100))
        states, points = [], []
        while not states or states[-1]["current_round"] != 20:
            message = await page.receive_json_from(timeout=5)
            states += message["federations"]
            points += [point["round"] for point in message["rounds"]]
        versions = [state["live_version"] for state in states]
        assert versions == sorted(set(versions))  # never an older state after a newer one
        assert sorted(points) == list(range(1, 21))  # every point of the curves arrives
    finally:
        await page.disconnect()


@pytest.mark.parametrize("query", ["?ids=1,x", "?ids=" + ",".join(["1"] * (consumers.MAX_WATCHED + 1)),
                                   "?ids=1" + "0" * 19, "?ids=1&since=soon", "?ids=1&since=" + "9" * 16,
                                   "?ids=1&since=" + "9" * 15])
async def test_a_catalog_socket_names_what_it_shows_or_is_closed(db, query):
    _, accepted, code = await connected("/ws/catalog/" + query)
    assert not accepted and code == 4400


async def test_what_a_browser_sends_changes_nothing(federation):
    page, _, _ = await connected(f"/ws/federations/{federation.pk}/")
    try:
        await page.receive_json_from()
        await page.send_json_to({"federations": [{"id": federation.pk, "status": "online", "live_version": 99}]})
        await page.send_to(text_data="not json at all")
        assert await page.receive_nothing(timeout=0.3)
    finally:
        await page.disconnect()
    status = await database_sync_to_async(lambda: LiveState.objects.get(pk=federation.pk).status)()
    assert status == "offline"


async def test_an_unknown_federation_page_is_closed(db):
    _, accepted, code = await connected("/ws/federations/424242/")
    assert not accepted and code == 4404


async def test_websockets_from_foreign_origins_are_refused(federation):
    _, accepted, _ = await connected(f"/ws/catalog/?ids={federation.pk}", headers=[(b"origin", b"https://evil.example")])
    assert not accepted


async def test_a_catalog_page_is_told_of_federations_listed_since_it_was_made(make_federation):
    import time

    from django.conf import settings

    shown = await database_sync_to_async(make_federation)(name="Shown")
    made = int(time.time() * 1000)
    await database_sync_to_async(time.sleep)(0.01)
    meanwhile = await database_sync_to_async(make_federation)(name="Listed meanwhile")
    catalog, accepted, _ = await connected(f"/ws/catalog/?ids={shown.pk}&since={made}")
    empty, empty_accepted, _ = await connected(f"/ws/catalog/?ids=&since={made}")  # a page that lists none
    try:
        assert accepted and empty_accepted
        first = await catalog.receive_json_from()
        assert [state["id"] for state in first["federations"]] == [shown.pk]
        assert first["listed"] == [meanwhile.pk]  # listed between the page's query and its socket
        assert (await empty.receive_json_from())["listed"] == [meanwhile.pk]

        content = (settings.BASE_DIR / "flower_integration" / "examples" / "digits" / "Client.py").read_bytes()
        added = await database_sync_to_async(services.federation_create)(
            client_content=content, name="Added while open", category="tabular", application="Finance",
            description="-", model_name="-", data_expected="-", flower_version="1.42.0", flower_api="legacy",
            compute_needs="-", license="MIT", owner_contact="a@example.org", server_address="fl.example.org:8080")
        for page in (catalog, empty):
            message = await page.receive_json_from(timeout=5)
            assert message["listed"] == [added.pk] and message["federations"] == []
    finally:
        await catalog.disconnect()
        await empty.disconnect()


async def test_a_federation_page_is_not_told_of_listings(federation, make_federation):
    page, _, _ = await connected(f"/ws/federations/{federation.pk}/")
    try:
        assert "listed" not in await page.receive_json_from()
        await database_sync_to_async(services.federation_create)(
            client_content=b"import flwr\n", name="Another", category="tabular", application="Finance",
            description="-", model_name="-", data_expected="-", flower_version="1.42.0", flower_api="legacy",
            compute_needs="-", license="MIT", owner_contact="a@example.org", server_address="fl.example.org:8080")
        assert await page.receive_nothing(timeout=0.5)
    finally:
        await page.disconnect()


async def test_a_catalog_page_is_told_only_of_listings_its_search_and_filters_would_show(make_federation):
    import time

    from django.conf import settings

    made = int(time.time() * 1000)
    await database_sync_to_async(time.sleep)(0.01)
    mnist = await database_sync_to_async(make_federation)(name="Mnist meanwhile", category="tabular")
    other = await database_sync_to_async(make_federation)(name="Speech meanwhile", category="tabular")
    page, accepted, _ = await connected(f"/ws/catalog/?ids=&since={made}&q=mnist&category=tabular&after=1.2")
    try:
        assert accepted
        first = await page.receive_json_from()
        assert first["listed"] == [mnist.pk] and other.pk not in first["listed"]
        content = (settings.BASE_DIR / "flower_integration" / "examples" / "digits" / "Client.py").read_bytes()
        card = dict(category="tabular", application="Finance", description="-", model_name="-", data_expected="-",
                    flower_version="1.42.0", flower_api="legacy", compute_needs="-", license="MIT",
                    owner_contact="a@example.org", server_address="fl.example.org:8080")
        await database_sync_to_async(services.federation_create)(client_content=content, name="Speech again", **card)
        assert await page.receive_nothing(timeout=0.5)  # not one the page's search would show
        added = await database_sync_to_async(services.federation_create)(client_content=content,
                                                                          name="MNIST again", **card)
        assert (await page.receive_json_from(timeout=5))["listed"] == [added.pk]
    finally:
        await page.disconnect()
