from datetime import timedelta

import pytest
from django.utils import timezone

from federations import live, services
from federations.models import Federation, LiveState, Phase, ReportingToken, RoundRecord, Status
from federations.protocol import FinalEvent, RoundEvent, StateEvent


@pytest.fixture
def token(federation):
    raw = services.reporting_token_issue(federation=federation)
    return services.reporting_token_authenticate(federation_id=federation.pk, token=raw)


def apply(federation, token, event):
    services.federation_apply_event(federation_id=federation.pk, token_id=token, event=event)
    federation.refresh_from_db()


STARTED = 1_750_000_000_000


def round_event(number, duration, run="r1", loss=0.5, started=STARTED):
    return RoundEvent(run, started, number, duration, loss, {"accuracy": 0.8}, 2, 100)


def test_a_state_event_updates_the_training_state_and_marks_the_server_online(federation, token, settings):
    settings.F2F_OFFLINE_AFTER = 600
    apply(federation, token, StateEvent("r1", STARTED, "training", 3, 10, 4, 2, 0.5))
    assert (federation.live.status, federation.live.phase, federation.live.current_round, federation.live.total_rounds) == (
        Status.ONLINE, Phase.TRAINING, 3, 10)
    assert (federation.live.connected_clients, federation.live.min_clients, federation.live.fraction_fit) == (4, 2, 0.5)
    assert federation.live.current_run == "r1"
    assert timezone.now() - federation.live.last_update < timedelta(seconds=5)
    assert federation.live.offline_after == federation.live.last_update + timedelta(seconds=600)


def test_rounds_count_by_increment_and_average_as_a_running_mean(federation, token):
    apply(federation, token, round_event(1, 10.0))
    apply(federation, token, round_event(2, 20.0))
    apply(federation, token, round_event(3, 60.0))
    assert federation.live.completed_rounds == 3
    assert federation.live.avg_round_duration == pytest.approx(30.0)
    assert list(RoundRecord.objects.values_list("number", "duration", "loss", "metrics")) == [
        (1, 10.0, 0.5, {"accuracy": 0.8}), (2, 20.0, 0.5, {"accuracy": 0.8}), (3, 60.0, 0.5, {"accuracy": 0.8})]


def test_a_repeated_or_late_round_never_counts_twice(federation, token):
    apply(federation, token, round_event(1, 10.0))
    apply(federation, token, round_event(2, 20.0))
    apply(federation, token, round_event(1, 99.0, loss=9.9))  # resent after a lost acknowledgement
    assert federation.live.completed_rounds == 2
    assert federation.live.avg_round_duration == pytest.approx(15.0)
    assert RoundRecord.objects.get(number=1).loss == 0.5


def test_a_new_run_keeps_its_own_rounds(federation, token):
    apply(federation, token, round_event(1, 10.0, run="first"))
    apply(federation, token, round_event(1, 30.0, run="second"))
    assert federation.live.completed_rounds == 2
    assert RoundRecord.objects.filter(federation=federation).count() == 2


def test_slow_rounds_push_the_offline_deadline_to_ten_rounds(federation, token, settings):
    settings.F2F_OFFLINE_AFTER = 60
    apply(federation, token, round_event(1, 30.0))
    assert federation.live.offline_after == federation.live.last_update + timedelta(seconds=300)


def test_the_final_event_finishes_the_training(federation, token):
    apply(federation, token, FinalEvent("r1", STARTED, 10))
    assert federation.live.phase == Phase.FINISHED


def test_a_finished_round_says_the_run_trains_on_at_that_round(federation, token):
    # What the reporter relies on to send no state after a round (flower_integration.tracker).
    apply(federation, token, StateEvent("r1", STARTED, "evaluating", 3, 10, 4, 2, 1.0))
    apply(federation, token, round_event(3, 10.0))
    live = federation.live
    assert (live.phase, live.current_round, live.total_rounds, live.connected_clients) == (Phase.TRAINING, 3, 10, 4)


def test_a_revoked_token_writes_nothing(federation, token):
    services.reporting_token_revoke(federation=federation)
    with pytest.raises(services.TokenRevoked):
        apply(federation, token, round_event(1, 10.0))
    assert federation.live.completed_rounds == 0 and not RoundRecord.objects.exists()


def test_tokens_are_stored_hashed_rotated_and_bound_to_their_federation(make_federation):
    first, second = make_federation(), make_federation()
    raw = services.reporting_token_issue(federation=first)
    stored = ReportingToken.objects.get(federation=first)
    assert raw not in stored.token_hash and len(stored.token_hash) == 64
    assert services.reporting_token_authenticate(federation_id=first.pk, token=raw) == stored.pk
    assert services.reporting_token_authenticate(federation_id=second.pk, token=raw) is None
    assert services.reporting_token_authenticate(federation_id=first.pk, token=raw + "x") is None
    assert services.reporting_token_authenticate(federation_id=str(first.pk), token=raw) is None

    rotated = services.reporting_token_issue(federation=first)
    assert services.reporting_token_authenticate(federation_id=first.pk, token=raw) is None
    assert services.reporting_token_authenticate(federation_id=first.pk, token=rotated) is not None


def test_applied_events_are_pushed_to_open_pages_after_commit(
    federation, token, live_pushes, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        apply(federation, token, round_event(1, 10.0))
    assert live_pushes == []  # nothing leaves before the commit
    for callback in callbacks:
        callback()

    [push] = live_pushes
    [state] = push["states"]
    assert state["id"] == federation.pk and state["completed_rounds"] == 1 and state["status_label"] == "Online"
    assert state["live_version"] == 1
    [point] = push["rounds"]
    assert point["federation"] == federation.pk and point["round"] == 1 and point["metrics"] == {"accuracy": 0.8}


def test_every_write_to_the_live_state_counts_a_version(federation, token):
    apply(federation, token, round_event(1, 10.0))
    apply(federation, token, round_event(1, 10.0))  # a replay changes nothing but the liveness: still a write
    services.federation_count_download(federation_id=federation.pk)
    federation.refresh_from_db()
    assert federation.live.live_version == 3


def test_the_heartbeat_pushes_the_federations_it_turned_offline(
    make_federation, live_pushes, django_capture_on_commit_callbacks
):
    silent = [make_federation() for _ in range(3)]
    LiveState.objects.filter(pk__in=[f.pk for f in silent]).update(
        status=Status.ONLINE, offline_after=timezone.now() - timedelta(seconds=1))

    with django_capture_on_commit_callbacks(execute=True):
        services.federations_mark_silent_offline()

    [push] = live_pushes  # one push for the whole sweep
    assert sorted(state["id"] for state in push["states"]) == sorted(f.pk for f in silent)
    assert {(state["status"], state["live_version"]) for state in push["states"]} == {(Status.OFFLINE, 1)}


def test_a_failing_push_is_logged_and_never_raised(federation, monkeypatch, caplog):
    class DownLayer:
        async def group_send(self, group, message):
            raise ConnectionError("redis is down")

    monkeypatch.setattr(live, "get_channel_layer", DownLayer)
    live.push(federation_ids=[federation.pk])
    assert "Live push" in caplog.text and "redis is down" in caplog.text
