"""Live pushes: one message per write, one hub per process, every page ending on the latest state."""

import asyncio
import json
import logging
import os

import pytest
import socketio
from asgiref.sync import sync_to_async
from websockets.sync.client import connect as websocket

from conftest import database_url, start_portal, stop
from federations import live, services


class Page(live.Watcher):
    def __init__(self, ids, *, rounds=False):
        self.federation_ids, self.wants_rounds = frozenset(ids), rounds
        self.delivered, self.resyncs = [], 0

    async def deliver(self, states, rounds, listed=()):
        self.delivered.append(({state["id"]: state["live_version"] for state in states}, rounds))

    async def resync(self, states):
        self.resyncs += 1
        self.resent = states


def state(federation_id, version):
    return {"id": federation_id, "live_version": version}


def message(seq, states, rounds=(), source="writer-a"):
    return {"type": live.MESSAGE_TYPE, "source": source, "seq": seq, "federations": states, "rounds": list(rounds)}


async def settled():
    await asyncio.sleep(live.TICK_SECONDS * 4)


async def test_a_tick_reaches_each_page_once_with_only_what_it_shows():
    hub = await live.hub()
    catalog, page, elsewhere = Page({1, 2}), Page({1}, rounds=True), Page({9})
    for watcher in (catalog, page, elsewhere):
        hub.watch(watcher)
    hub.receive(message(1, [state(1, 1), state(2, 1)], rounds=[{"federation": 1, "round": 1}]))
    hub.receive(message(2, [state(1, 2), state(3, 1)], rounds=[{"federation": 1, "round": 2}]))
    await settled()
    assert catalog.delivered == [({1: 2, 2: 1}, [])]  # coalesced: the latest state of each, in one message
    assert page.delivered == [({1: 2}, [{"federation": 1, "round": 1}, {"federation": 1, "round": 2}])]
    assert elsewhere.delivered == []


async def test_an_older_state_never_replaces_a_newer_one():
    hub = await live.hub()
    page = Page({1})
    hub.watch(page)
    hub.receive(message(1, [state(1, 5)], source="writer-a"))
    hub.receive(message(1, [state(1, 4)], source="writer-b"))  # another process's push, overtaken on its way
    await settled()
    assert page.delivered == [({1: 5}, [])]


@pytest.mark.django_db(transaction=True)
async def test_a_lost_message_is_reported_and_every_page_resent_the_truth(caplog, make_federation):
    shown = await sync_to_async(make_federation)()
    hub = await live.hub()
    pages = [Page({shown.pk}), Page({shown.pk + 1000})]
    for page in pages:
        hub.watch(page)
    hub.receive(message(1, [state(1, 1)]))
    with caplog.at_level(logging.WARNING, logger="federations.live"):
        hub.receive(message(4, [state(2, 3)]))
        hub.receive(message(7, [state(2, 4)]))  # more losses before the resync: still one resync
    await settled()
    await settled()
    assert [page.resyncs for page in pages] == [1, 1] and hub.missed == 4
    assert [state["id"] for state in pages[0].resent] == [shown.pk] and pages[1].resent == []
    assert "2 message(s) from writer-a were lost" in caplog.text


async def test_a_message_the_hub_cannot_read_is_dropped_and_the_next_ones_arrive(caplog):
    hub = await live.hub()
    page = Page({1})
    hub.watch(page)
    await live.get_channel_layer().group_send(live.LIVE_GROUP, {"type": live.MESSAGE_TYPE, "unexpected": True})
    await sync_to_async(live.push, thread_sensitive=False)(states=[state(1, 1)])
    for _ in range(100):
        if page.delivered:
            break
        await asyncio.sleep(0.05)
    assert page.delivered == [({1: 1}, [])] and "dropped a message" in caplog.text


async def test_a_page_that_left_hears_nothing_more():
    hub = await live.hub()
    page = Page({1})
    hub.watch(page)
    hub.unwatch(page)
    hub.receive(message(1, [state(1, 1)]))
    await settled()
    assert page.delivered == [] and 1 not in hub.watchers


async def test_a_push_from_a_thread_reaches_the_hub_through_the_channel_layer():
    hub = await live.hub()
    page = Page({7})
    hub.watch(page)
    await sync_to_async(live.push, thread_sensitive=False)(states=[state(7, 1), state(8, 1)])
    for _ in range(100):
        if page.delivered:
            break
        await asyncio.sleep(0.05)
    assert page.delivered == [({7: 1}, [])]


def test_a_sweep_of_thousands_goes_in_a_few_messages():
    messages = live._messages([state(n, 1) for n in range(2500)], [{"federation": 1, "round": 1}])
    assert [len(m["federations"]) for m in messages] == [1000, 1000, 500]
    assert [len(m["rounds"]) for m in messages] == [1, 0, 0]


@pytest.mark.services
def test_an_event_ingested_by_one_portal_reaches_a_page_open_on_another(transactional_db, tmp_path, federation):
    if not os.environ.get("REDIS_URL"):
        pytest.skip("set REDIS_URL (and DATABASE_URL) to test the services mode")
    token = services.reporting_token_issue(federation=federation)
    ingesting, serving = (start_portal(tmp_path, {"DATABASE_URL": database_url()}) for _ in range(2))
    try:
        page_url = serving.url.replace("http://", "ws://") + f"/ws/federations/{federation.pk}/"
        with websocket(page_url, origin=serving.url, open_timeout=10) as page:
            assert json.loads(page.recv(timeout=10))["federations"][0]["current_round"] == 0
            reporter = socketio.Client(reconnection=False)
            reporter.connect(ingesting.url, auth={"federation": federation.pk, "token": token},
                             transports=["websocket"], wait_timeout=10)
            try:
                for number in (1, 2, 3):
                    event = {"v": 2, "run": "r1", "started": 1_750_000_000_000, "round": number, "duration": 1.0,
                             "loss": 0.5, "metrics": {}, "num_clients": 2, "num_examples": 10}
                    assert reporter.call("round", event, timeout=10) == {"ok": True}
            finally:
                reporter.disconnect()
            seen, points = [], []
            while not seen or seen[-1] != 3:
                pushed = json.loads(page.recv(timeout=10))
                seen += [state["current_round"] for state in pushed["federations"]]
                points += [point["round"] for point in pushed["rounds"]]
            assert seen == sorted(seen) and sorted(points) == [1, 2, 3]
    finally:
        stop(ingesting.process)
        stop(serving.process)


@pytest.mark.django_db(transaction=True)
async def test_a_page_whose_connection_fails_midway_leaves_the_hub(federation, monkeypatch):
    from channels.testing import WebsocketCommunicator

    from f2f_site.asgi import application
    from federations import consumers

    async def broken(*args, **kwargs):
        raise ConnectionError("the database restarted")

    monkeypatch.setattr(consumers, "_current", broken)
    page = WebsocketCommunicator(application, f"/ws/federations/{federation.pk}/",
                                 headers=[(b"origin", b"http://127.0.0.1")])
    try:
        await page.connect()
    except ConnectionError:
        pass
    hub = await live.hub()
    assert hub.watchers == {}
