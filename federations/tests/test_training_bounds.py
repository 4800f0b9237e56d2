"""What is kept of a federation's training is bounded: its latest runs, the latest rounds of each."""

import pytest

from federations import services
from federations.models import Federation, LiveState, RoundRecord, TrainingRun
from federations.protocol import RoundEvent

START = 1_750_000_000_000


@pytest.fixture
def report(federation):
    raw = services.reporting_token_issue(federation=federation)
    token = services.reporting_token_authenticate(federation_id=federation.pk, token=raw)
    return lambda event: services.federation_apply_event(federation_id=federation.pk, token_id=token, event=event)


def finished(number, *, run, started, duration=5.0):
    return RoundEvent(run, started, number, duration, 0.5, {}, 2, 100)


def stored(federation):
    return sorted(RoundRecord.objects.filter(federation=federation).values_list("run", "number"))


def test_a_flood_of_new_runs_keeps_only_the_latest(federation, report, settings):
    settings.F2F_RUNS_KEPT = 3
    for n in range(50):
        report(finished(1, run=f"run{n:02d}", started=START + n))
    assert stored(federation) == [("run47", 1), ("run48", 1), ("run49", 1)]
    assert list(TrainingRun.objects.filter(federation=federation).values_list("name", flat=True)) == [
        "run49", "run48", "run47"]


def test_a_replayed_round_of_a_dropped_run_is_neither_stored_nor_counted(federation, report, settings):
    settings.F2F_RUNS_KEPT = 2
    for n in range(3):
        report(finished(1, run=f"run{n}", started=START + n))
    before = LiveState.objects.get(pk=federation.pk).completed_rounds
    assert report(finished(1, run="run0", started=START)) is False
    assert report(finished(2, run="run0", started=START)) is False
    assert stored(federation) == [("run1", 1), ("run2", 1)]
    assert LiveState.objects.get(pk=federation.pk).completed_rounds == before == 3


def test_a_long_run_keeps_its_latest_rounds(federation, report, settings):
    settings.F2F_ROUNDS_KEPT = 5
    for number in range(1, 21):
        report(finished(number, run="long", started=START, duration=float(number)))
    assert stored(federation) == [("long", n) for n in range(16, 21)]
    federation.refresh_from_db()
    assert federation.live.completed_rounds == 20
    # A running mean over every round completed, pruned ones included: never recomputed from stored rows.
    assert federation.live.avg_round_duration == pytest.approx(10.5)

    assert report(finished(3, run="long", started=START)) is False  # older than what the run keeps
    assert stored(federation) == [("long", n) for n in range(16, 21)]
    assert LiveState.objects.get(pk=federation.pk).completed_rounds == 20


def test_lowering_a_bound_prunes_down_to_it_on_the_next_write(federation, report, settings):
    for number in range(1, 11):
        report(finished(number, run="a", started=START))
    settings.F2F_ROUNDS_KEPT = 4
    report(finished(11, run="a", started=START))
    assert stored(federation) == [("a", n) for n in range(8, 12)]


def test_bounds_are_per_federation(make_federation, settings):
    settings.F2F_RUNS_KEPT = 1
    first, second = make_federation(), make_federation()
    for federation, run in [(first, "a"), (second, "b"), (first, "c")]:
        raw = services.reporting_token_issue(federation=federation)
        token = services.reporting_token_authenticate(federation_id=federation.pk, token=raw)
        services.federation_apply_event(federation_id=federation.pk, token_id=token,
                                        event=finished(1, run=run, started=START + ord(run)))
    assert stored(first) == [("c", 1)] and stored(second) == [("b", 1)]


@pytest.mark.django_db(transaction=True)  # the service's own transaction, not a test's savepoint
def test_pruning_is_undone_with_a_write_that_fails(federation, report, settings, monkeypatch):
    settings.F2F_RUNS_KEPT = 1
    report(finished(1, run="a", started=START))
    deadline = services.offline_deadline

    def broken(**kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(services, "offline_deadline", broken)  # fails after the prune, before the update
    with pytest.raises(RuntimeError):
        report(finished(1, run="b", started=START + 1))
    assert stored(federation) == [("a", 1)]
    assert list(TrainingRun.objects.values_list("name", flat=True)) == ["a"]

    monkeypatch.setattr(services, "offline_deadline", deadline)
    report(finished(1, run="b", started=START + 1))
    assert stored(federation) == [("b", 1)]


@pytest.fixture
def token(federation):
    raw = services.reporting_token_issue(federation=federation)
    return services.reporting_token_authenticate(federation_id=federation.pk, token=raw)


def test_a_batch_counts_as_if_its_rounds_had_come_one_by_one(federation, token, make_federation, settings):
    settings.F2F_ROUNDS_KEPT = 5
    order = [*range(1, 21), 2]  # a late replay of a round already pushed out
    outcomes = services.federations_apply_reports(reports=[
        services.Report(federation.pk, token, finished(n, run="long", started=START, duration=float(n)))
        for n in order])
    assert outcomes == [services.Outcome.APPLIED] * 20 + [services.Outcome.STALE]
    assert stored(federation) == [("long", n) for n in range(16, 21)]
    federation.refresh_from_db()
    assert federation.live.completed_rounds == 20 and federation.live.avg_round_duration == pytest.approx(10.5)
    assert TrainingRun.objects.get(federation=federation).rounds_stored == 5


def test_a_run_keeps_its_limit_whatever_state_came_between(federation, token, report, settings):
    from federations.protocol import StateEvent

    settings.F2F_ROUNDS_KEPT = 3
    for number in range(1, 6):
        report(finished(number, run="r", started=START))
    report(StateEvent("r", START, "finished", 0, 5, 0, 2, 1.0))  # moves the live round back to 0
    assert report(finished(1, run="r", started=START)) is False
    assert report(finished(2, run="r", started=START)) is False
    assert stored(federation) == [("r", 3), ("r", 4), ("r", 5)]
    assert LiveState.objects.get(pk=federation.pk).completed_rounds == 5


def test_each_report_of_a_mixed_batch_gets_its_own_outcome(federation, token, make_federation):
    other = make_federation()
    other_token = services.reporting_token_authenticate(
        federation_id=other.pk, token=services.reporting_token_issue(federation=other))
    revoked = make_federation()
    revoked_token = services.reporting_token_authenticate(
        federation_id=revoked.pk, token=services.reporting_token_issue(federation=revoked))
    services.reporting_token_revoke(federation=revoked)
    reports = [
        services.Report(federation.pk, token, finished(1, run="a", started=START)),
        services.Report(revoked.pk, revoked_token, finished(1, run="a", started=START)),
        services.Report(other.pk, token, finished(1, run="a", started=START)),  # another federation's token
        services.Report(federation.pk, token, finished(1, run="a", started=START)),  # the same round again
        services.Report(other.pk, other_token, finished(1, run="a", started=START)),
        services.Report(federation.pk, token, finished(2, run="a", started=START)),
    ]
    assert services.federations_apply_reports(reports=reports) == [
        services.Outcome.APPLIED, services.Outcome.REVOKED, services.Outcome.REVOKED, services.Outcome.STALE,
        services.Outcome.APPLIED, services.Outcome.APPLIED]
    assert stored(federation) == [("a", 1), ("a", 2)] and stored(other) == [("a", 1)] and stored(revoked) == []
    assert [f.live.completed_rounds for f in Federation.objects.filter(pk__in=[federation.pk, other.pk, revoked.pk])
            .order_by("pk")] == [2, 1, 0]


def test_saving_a_card_never_puts_back_the_live_state_it_loaded(federation, token):
    loaded = Federation.objects.get(pk=federation.pk)
    services.federation_apply_event(federation_id=federation.pk, token_id=token,
                                    event=finished(1, run="a", started=START))
    services.federation_count_download(federation_id=federation.pk)
    loaded.description = "A better description."
    loaded.save()
    federation.refresh_from_db()
    assert federation.description == "A better description."
    assert (federation.live.completed_rounds, federation.download_count, federation.live.live_version) == (1, 1, 2)


def test_federations_starting_runs_together_are_pruned_in_as_many_statements_as_one(make_federation, settings):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.F2F_RUNS_KEPT = 1

    def new_runs(federations, run, started):
        with CaptureQueriesContext(connection) as queries:
            services.federations_apply_reports(reports=[
                services.Report(f.pk, token, finished(n, run=run, started=started))
                for f, token in federations for n in (1, 2)])
        return len(queries)

    def reporting(count):
        federations = [make_federation() for _ in range(count)]
        return [(f, services.reporting_token_authenticate(
            federation_id=f.pk, token=services.reporting_token_issue(federation=f))) for f in federations]

    one, many = reporting(1), reporting(6)
    new_runs(one, "a", START), new_runs(many, "a", START)
    assert new_runs(one, "b", START + 1) == new_runs(many, "b", START + 1)
    for federation, _ in one + many:
        assert stored(federation) == [("b", 1), ("b", 2)]
        assert list(TrainingRun.objects.filter(federation=federation).values_list("name", flat=True)) == ["b"]
