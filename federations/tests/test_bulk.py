"""The writer's set-based statements and its answers to a database that refuses a batch."""

import asyncio
import threading

import pytest
from asgiref.sync import sync_to_async
from django.db import DatabaseError, OperationalError, connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from federations import bulk, ingest, protocol, services
from federations.models import LiveState, ReportingToken, TrainingRun

STATE = {"v": 2, "run": "r1", "started": 1_750_000_000_000, "phase": "training", "round": 3, "total_rounds": 5,
         "connected_clients": 2, "min_clients": 2, "fraction_fit": 1.0}


def test_a_statement_that_fails_in_one_round_trip_raises_djangos_error(db):
    with pytest.raises(DatabaseError) as raised, transaction.atomic():
        bulk.together(("SELECT 1", []), ("SELECT * FROM no_such_table", []))
    assert type(raised.value).__module__.startswith("django.db")  # wrapped, so that a broken connection is closed
    assert connection.errors_occurred


def test_rows_read_in_any_order_of_fields_fill_the_right_fields(make_federation):
    federation = make_federation()
    run = TrainingRun.objects.create(federation=federation, name="r1", started=1, rounds_stored=2)
    sql, params = bulk.select(TrainingRun, ["name", "id", "rounds_stored", "federation"], where=["id"], keys=[(run.pk,)])
    [rows] = bulk.together((sql, params))
    [read] = bulk.instances(TrainingRun, ["name", "id", "rounds_stored", "federation"], rows)
    assert (read.pk, read.name, read.rounds_stored, read.federation_id) == (run.pk, "r1", 2, federation.pk)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("failure", [OperationalError("server closed the connection unexpectedly"),
                                     RuntimeError("the database refused the batch")])
async def test_a_batch_that_fails_is_written_before_the_batch_behind_it(monkeypatch, make_federation, failure):
    """With two batches in flight, the first failing once (its connection dropped, or the database refused it):
    it is written again in place, so the later event of the same federation is the one its state ends on."""
    federation, other = await sync_to_async(make_federation)(), await sync_to_async(make_federation)()
    tokens = {}
    for each in (federation, other):
        await sync_to_async(services.reporting_token_issue)(federation=each)
        tokens[each.pk] = await sync_to_async(lambda f=each: ReportingToken.objects.get(federation=f).pk)()
    apply, release, written = services.federations_apply_reports, threading.Event(), []

    def failing_once(*, reports):
        written.append([report.event.connected_clients for report in reports])
        if len(written) == 1:
            release.wait(10)
            raise failure
        return apply(reports=reports)

    monkeypatch.setattr(services, "federations_apply_reports", failing_once)
    commit = ingest.group_commit()

    def submit(each, **changes):
        event = protocol.parse_state({**STATE, **changes})
        return asyncio.ensure_future(commit.submit(services.Report(each.pk, tokens[each.pk], event)))

    try:
        first = [submit(other, connected_clients=1), submit(federation, connected_clients=2)]
        await asyncio.sleep(0.1)  # the first batch is being written
        second = submit(federation, phase="evaluating", connected_clients=5)
        await asyncio.sleep(0.1)  # the second is handed to the writer too
        release.set()
        assert await asyncio.gather(*first, second) == [{"ok": True}] * 3
        live = await sync_to_async(LiveState.objects.get)(pk=federation.pk)
        assert (live.phase, live.connected_clients) == ("evaluating", 5)
        assert written[0] == [1, 2] and written[-1] == [5]
    finally:  # the threads' connections, so that the test database can be dropped
        await sync_to_async(connections.close_all, thread_sensitive=False, executor=ingest._thread_writer.executor)()
        await sync_to_async(connections.close_all)()


def test_a_database_out_of_reach_costs_two_attempts_not_one_per_event(monkeypatch):
    from federations import writer

    attempts = []

    def unreachable(*, reports):
        attempts.append(len(reports))
        raise OperationalError("connection refused")

    monkeypatch.setattr(services, "federations_apply_reports", unreachable)
    monkeypatch.setattr("django.db.close_old_connections", lambda: None)
    assert writer.write(["a", "b", "c"]) == [None, None, None]
    assert attempts == [3, 3]


def test_a_refused_batch_is_written_event_by_event_and_only_the_refused_one_fails(monkeypatch):
    from federations import writer

    attempts = []

    def refusing(*, reports):
        attempts.append(list(reports))
        if "bad" in reports:
            raise RuntimeError("refused")
        return [services.Outcome.APPLIED] * len(reports)

    monkeypatch.setattr(services, "federations_apply_reports", refusing)
    monkeypatch.setattr("django.db.close_old_connections", lambda: None)
    assert writer.write(["a", "bad", "c"]) == [services.Outcome.APPLIED, None, services.Outcome.APPLIED]
    assert attempts == [["a", "bad", "c"], ["a"], ["bad"], ["c"]]


def test_statements_none_of_which_is_to_run_return_no_rows(db):
    assert bulk.together(None, None) == [[], []]
    assert bulk.together(("SELECT 1", []), None) == [[(1,)], []]


def test_one_statement_alone_returns_its_rows_and_fails_as_djangos_error(make_federation):
    federation = make_federation()
    TrainingRun.objects.create(federation=federation, name="r1", started=1)
    assert bulk.together(("SELECT name FROM federations_trainingrun WHERE federation_id = %s", [federation.pk])) == [
        [("r1",)]]
    assert bulk.together(("UPDATE federations_trainingrun SET rounds_stored = 4", [])) == [[]]  # no rows: none
    assert TrainingRun.objects.get(federation=federation).rounds_stored == 4
    with pytest.raises(DatabaseError) as raised, transaction.atomic():
        bulk.together(("SELECT * FROM no_such_table", []))
    assert type(raised.value).__module__.startswith("django.db")


def test_a_batch_reads_each_live_state_once_and_writes_when_it_was_heard_of(make_federation):
    # The batch does not read when each state was last heard of or is due offline (it writes both anew): one
    # read of the live states, even for a state it does not touch (a revoked token's), and never a second one.
    heard, revoked = make_federation(), make_federation()
    tokens = {}
    for federation in (heard, revoked):
        raw = services.reporting_token_issue(federation=federation)
        tokens[federation.pk] = services.reporting_token_authenticate(federation_id=federation.pk, token=raw)
    ReportingToken.objects.filter(federation=revoked).update(revoked_at="2026-01-01T00:00:00Z")
    before = LiveState.objects.get(pk=heard.pk).last_update
    event = protocol.parse_state(STATE)
    reports = [services.Report(heard.pk, tokens[heard.pk], event), services.Report(revoked.pk, tokens[revoked.pk], event)]

    with CaptureQueriesContext(connection) as queries:
        assert services.federations_apply_reports(reports=reports) == [services.Outcome.APPLIED,
                                                                        services.Outcome.REVOKED]
    state_reads = [query["sql"] for query in queries
                   if query["sql"].startswith("SELECT") and "FROM \"federations_livestate\"" in query["sql"]]
    assert len(state_reads) == 1 and "last_update" not in state_reads[0].split(" FROM ")[0]
    heard_state = LiveState.objects.get(pk=heard.pk)
    assert heard_state.last_update is not None and heard_state.last_update != before
    assert heard_state.offline_after > heard_state.last_update
    assert LiveState.objects.get(pk=revoked.pk).last_update is None
