"""Every write to the catalog goes through these functions."""

import collections
import hashlib
import heapq
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, Subquery, Window
from django.db.models.functions import RowNumber
from django.utils import timezone
from django.utils.text import slugify

from . import bulk, live, protocol, selectors
from .models import (
    ClientFile, Federation, LiveState, OnlineSpell, Phase, ReportingToken, RoundRecord, Status, TrainingRun,
)
from .protocol import AliveEvent, FinalEvent, RoundEvent, StateEvent

Event = StateEvent | RoundEvent | FinalEvent | AliveEvent


def client_file_store(*, content: bytes) -> ClientFile:
    """Store a client script once per content; the same bytes give back the same row."""
    if not content:
        raise ValidationError("The client file is empty.", code="empty")
    if len(content) > settings.F2F_CLIENT_FILE_MAX_BYTES:
        raise ValidationError(
            "The client file is larger than %(limit)d bytes.",
            code="too_large",
            params={"limit": settings.F2F_CLIENT_FILE_MAX_BYTES},
        )
    digest = hashlib.sha256(content).hexdigest()
    client_file, _ = ClientFile.objects.get_or_create(
        sha256=digest, defaults={"content": content, "size": len(content)}
    )
    return client_file


def unique_slug(name: str) -> str:
    """A slug for ``name`` that no federation has yet and that never reads as an id."""
    base = slugify(name)[:120] or "federation"
    if base.isdigit():
        base = f"federation-{base}"
    slug, n = base, 1
    while Federation.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


@transaction.atomic
def federation_create(*, client_content: bytes, total_rounds: int = 0, min_clients: int = 0, **card) -> Federation:
    """Add a federation to the catalog with its client script (``card``: the model's card fields).

    ``total_rounds`` and ``min_clients`` are what its live state shows until its server reports.
    """
    federation = Federation(client_file=client_file_store(content=client_content), **card)
    federation.slug = federation.slug or unique_slug(federation.name)
    federation.full_clean()
    federation.save()
    if total_rounds or min_clients:
        federation.live.total_rounds, federation.live.min_clients = total_rounds, min_clients
        federation.live.save(update_fields=["total_rounds", "min_clients"])
    live.push_after_commit(listed=[federation.pk])  # open catalog pages are told of it
    return federation


@transaction.atomic
def federation_count_download(*, federation_id: int) -> None:
    """Count one download in the database itself, so concurrent downloads never lose a count."""
    Federation.objects.filter(pk=federation_id).update(download_count=F("download_count") + 1)
    LiveState.objects.filter(pk=federation_id).update(live_version=F("live_version") + 1)
    live.push_after_commit(federation_ids=[federation_id])


def federation_set_standing(*, federation_id: int, suspended: bool | None = None,
                            under_review: bool | None = None) -> bool:
    """Suspend or reinstate a federation, flag it under review or clear the flag (None: leave that as it is).

    For ``reports.services``, which records who did it and why. A conditional UPDATE: False when the
    federation already stood so (two operators, or two automatic flags, at once: one of them changes it).
    """
    federation = Federation.objects.filter(pk=federation_id)
    changes = {}
    if suspended is not None:
        federation = federation.filter(suspended_at__isnull=suspended)
        changes["suspended_at"] = timezone.now() if suspended else None
    if under_review is not None:
        federation = federation.filter(under_review_since__isnull=under_review)
        changes["under_review_since"] = timezone.now() if under_review else None
    return bool(changes) and federation.update(**changes) == 1


def alive_every() -> int:
    """How often a reporter is asked to say it is alive when it has nothing else to send (protocol ``hello``):
    three times in the silence allowed, so that one or two lost signals are not taken for a dead server."""
    return max(1, settings.F2F_OFFLINE_AFTER // 3)


def offline_deadline(*, last_update: datetime, avg_round_duration: float | None, finished: bool = False,
                     signals_alive: bool = False) -> datetime:
    """When a server that reported at ``last_update`` counts as silent.

    The configured floor (``F2F_OFFLINE_AFTER``) when the server says it is alive between its events
    (``alive_every``), or has finished and has no round to wait for. A reporter that does not
    (before F2F 0.3) sends nothing during a round: for it the prototype's rule, ten average rounds
    when that is longer than the floor, so that slow rounds are not taken for a dead server.
    """
    allowed = float(settings.F2F_OFFLINE_AFTER)
    if avg_round_duration and not (finished or signals_alive):
        allowed = max(allowed, 10 * avg_round_duration)
    return last_update + timedelta(seconds=allowed)


def _download_counts_read(federation_ids: list[int]) -> tuple[str, list]:
    """The statement that reads the download counts of federations whose live rows this transaction has locked.

    A statement of its own, run after the locks were taken: read with the lock (a join, or a subquery
    of the locking statement), a count committed by a download while the lock was awaited would not
    be seen, and the state pushed with the higher version would carry the older count.
    """
    return bulk.select(Federation, ["id", "download_count"], where=["id"], keys=[(pk,) for pk in federation_ids])


def _download_counts(federation_ids: list[int]) -> dict[int, int]:
    [rows] = bulk.together(_download_counts_read(federation_ids))
    return dict(rows)


def federations_mark_silent_offline(*, now: datetime | None = None) -> list[int]:
    """Turn every online federation past its deadline offline; returns the ids it changed.

    One statement claims the silent rows (``SKIP LOCKED`` on PostgreSQL), turns them offline and
    returns their new states: running it twice, or in two workers at once, changes nothing more.
    The states are pushed to open pages in a few messages, not one per federation.
    """
    now = now or timezone.now()
    table, fields = LiveState._meta.db_table, selectors.SNAPSHOT_FIELDS
    skip_locked = " FOR UPDATE SKIP LOCKED" if connection.vendor == "postgresql" else ""
    sql = (f"UPDATE {table} SET status = %s, live_version = live_version + 1 WHERE federation_id IN "
           f"(SELECT federation_id FROM {table} WHERE status = %s AND offline_after < %s{skip_locked}) "
           f"RETURNING federation_id, {', '.join(fields)}")
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(sql, [Status.OFFLINE, Status.ONLINE, connection.ops.adapt_datetimefield_value(now)])
            rows = cursor.fetchall()
        # Their spells of uptime end with the last report before the silence (ids in chunks: SQLite takes
        # at most 32,766 parameters a statement).
        silent = [row[0] for row in rows]
        for start in range(0, len(silent), 5000):
            OnlineSpell.objects.filter(ended__isnull=True, federation_id__in=silent[start:start + 5000]).update(
                ended=Subquery(LiveState.objects.filter(pk=OuterRef("federation_id")).values("last_update")))
        OnlineSpell.objects.filter(ended__lt=now - timedelta(days=max(selectors.UPTIME_DAYS))).delete()
        columns = ["id", *fields]
        counts = _download_counts([row[0] for row in rows])
        sqlite = connection.vendor == "sqlite"
        states = []
        for row in rows:
            values = dict(zip(columns, row), download_count=counts[row[0]])
            if sqlite:  # its rows hold text where PostgreSQL's hold datetimes
                values["last_update"] = connection.ops.convert_datetimefield_value(values["last_update"], None, connection)
            states.append(selectors.state_of(values))
        live.push_after_commit(states=states)
    return [state["id"] for state in states]


def _token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@transaction.atomic
def reporting_token_issue(*, federation: Federation) -> str:
    """A new reporting token for ``federation``, revoking any earlier one (rotation).

    The raw token is returned once and never stored: show it to the owner now.
    """
    reporting_token_revoke(federation=federation)
    raw = f"f2f_{secrets.token_urlsafe(32)}"
    ReportingToken.objects.create(federation=federation, token_hash=_token_hash(raw))
    return raw


def reporting_token_revoke(*, federation: Federation) -> int:
    return ReportingToken.objects.filter(federation=federation, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )


def reporting_token_authenticate(*, federation_id, token) -> int | None:
    """The id of the active token when ``token`` is ``federation_id``'s and the federation is not suspended, else None."""
    if type(federation_id) is not int or not isinstance(token, str) or not 0 < len(token) <= 200:
        return None
    presented = _token_hash(token)
    match = None
    for token_id, stored in ReportingToken.objects.filter(
        federation_id=federation_id, revoked_at__isnull=True, federation__suspended_at__isnull=True
    ).values_list("id", "token_hash"):
        if hmac.compare_digest(stored, presented):
            match = token_id
    return match


class TokenRevoked(Exception):
    """The token a connection authenticated with has been revoked since, or its federation suspended."""


def _live_order(state: LiveState) -> tuple | None:
    """Where a federation's live state stands in its history; None before any ordered event."""
    if state.run_started is None:
        return None
    return protocol.order(started=state.run_started, run=state.current_run,
                          finished=state.phase == Phase.FINISHED, round=state.current_round)


def _live_changes(state: LiveState, event: Event) -> dict:
    """What ``event`` changes in a federation's live state: nothing when it is behind it.

    A state or final event at the live state's own place still applies (a new phase of the
    same round); a round event there only ends the round's evaluation (the run trains on: the
    reporter sends no state saying so), and otherwise moves the state when it is ahead. An alive
    event moves nothing: it only tells that the current run's server signals its liveness.
    """
    if isinstance(event, AliveEvent):
        same_run = (state.run_started, state.current_run) == (event.started, event.run)
        return {"signals_alive": True} if same_run and not state.signals_alive else {}
    current = _live_order(state)
    if isinstance(event, RoundEvent) and current == event.order:
        return {"phase": Phase.TRAINING} if state.phase == Phase.EVALUATING else {}
    ahead = current is None or event.order > current
    if not (ahead or (current == event.order and not isinstance(event, RoundEvent))):
        return {}
    changes = {"current_run": event.run, "run_started": event.started}
    same_run = (state.run_started, state.current_run) == (event.started, event.run)
    if not same_run:  # a new run: its own count of rounds, and its server has yet to signal
        changes.update(run_rounds=0, run_avg_duration=None, signals_alive=False)
    if isinstance(event, StateEvent):
        changes.update(
            phase=event.phase, current_round=event.round, total_rounds=event.total_rounds,
            connected_clients=event.connected_clients, min_clients=event.min_clients, fraction_fit=event.fraction_fit,
        )
    elif isinstance(event, RoundEvent):  # round k is over, the run is not: it trains on
        changes.update(phase=Phase.TRAINING, current_round=event.round)
    else:
        changes.update(phase=Phase.FINISHED,
                       current_round=max(event.rounds, state.current_round if same_run else 0))
    return changes


def _mean_with(count: int, mean: float | None, value: float) -> tuple[int, float]:
    """A running count and mean with one more value."""
    return count + 1, value if mean is None else (mean * count + value) / (count + 1)


@dataclass(frozen=True)
class Report:
    """One event as the ingest received it: from a connection bound to ``federation_id`` by ``token_id``."""

    federation_id: int
    token_id: int
    event: Event


class Outcome:
    """What applying a report did: APPLIED (kept), STALE (behind the live state: only shows the server is
    alive) or REVOKED (the connection's token is no longer active, or its federation is suspended)."""

    APPLIED, STALE, REVOKED = "applied", "stale", "revoked"


_RUN_AGGREGATES = ["rounds_stored", "rounds_completed", "duration_total", "last_round_at"]
_RUN_FIELDS = ["id", "federation", "name", *_RUN_AGGREGATES]
# What a batch reads of the live states: not when each was last heard of and is due offline, which every state
# the batch writes gets anew (reading the two timestamps was 7 % of the writer's time per event; not read, they
# are deferred, and a state the batch does not touch is neither written nor pushed).
_STATE_READ = ["federation", *[name for name in LiveState.FIELDS if name not in ("last_update", "offline_after")]]
# A token the ingest accepts: not revoked, and its federation not suspended (an anti-join on the few suspended
# ones, through their partial index).
_TOKEN_ACTIVE = (f"{ReportingToken._meta.db_table}.revoked_at IS NULL AND NOT EXISTS (SELECT 1 FROM "
                 f"{Federation._meta.db_table} suspended WHERE suspended.id = "
                 f"{ReportingToken._meta.db_table}.federation_id AND suspended.suspended_at IS NOT NULL)")


def _runs_keep(round_reports: list[Report], runs: dict, now: datetime) -> tuple[dict, set]:
    """Record the runs of these rounds (``runs``: those stored already, by (federation, run)); drop each
    federation's runs beyond the latest ``F2F_RUNS_KEPT``.

    Returns the kept runs by (federation, run), and the (federation, run) pairs that were dropped
    (their rounds are not to be stored).
    """
    wanted = {(r.federation_id, r.event.run): r.event.started for r in round_reports}
    new = [TrainingRun(federation_id=f, name=name, started=started, first_seen=now)
           for (f, name), started in wanted.items() if (f, name) not in runs]
    if not new:
        return runs, set()
    TrainingRun.objects.bulk_create(new)
    runs.update({(run.federation_id, run.name): run for run in new})
    # Set-based, whatever the number of federations starting a run in this batch: one read of the runs
    # beyond the limit, one delete of their rounds, one of the runs (a statement per federation made
    # a batch of 1,000 new runs stall for seconds).
    excess = list(TrainingRun.objects.filter(federation_id__in={run.federation_id for run in new}).annotate(
        rank=Window(RowNumber(), partition_by=F("federation_id"), order_by=[F("started").desc(), F("name").desc()])
    ).filter(rank__gt=settings.F2F_RUNS_KEPT).values_list("id", "federation_id", "name"))
    dropped = {(federation_id, name) for _, federation_id, name in excess}
    if excess:
        excess_ids = [run_id for run_id, _, _ in excess]
        RoundRecord.objects.filter(Exists(TrainingRun.objects.filter(
            pk__in=excess_ids, federation_id=OuterRef("federation_id"), name=OuterRef("run")))).delete()
        TrainingRun.objects.filter(pk__in=excess_ids).delete()
    return {key: run for key, run in runs.items() if key not in dropped}, dropped


def _window_keep(run: TrainingRun, arrivals: list[RoundRecord]) -> set[int]:
    """The ids of ``arrivals`` (new rounds of one run, in arrival order) that count as stored; prunes the run.

    As if they had come one by one: each is stored on arrival unless ``F2F_ROUNDS_KEPT`` later rounds
    are kept already, and pushes the oldest kept round out once there are more. Rounds pushed out by a
    later arrival of the same batch still counted when they came.
    """
    kept = settings.F2F_ROUNDS_KEPT
    if run.rounds_stored + len(arrivals) <= kept:  # the common case: nothing to read
        run.rounds_stored += len(arrivals)
        return {id(record) for record in arrivals}
    run_rounds = RoundRecord.objects.filter(federation_id=run.federation_id, run=run.name)
    window = list(run_rounds.exclude(pk__in=[record.pk for record in arrivals])
                  .order_by("-number").values_list("number", flat=True)[:kept])
    heapq.heapify(window)
    counted = set()
    for record in arrivals:
        if len(window) < kept:
            heapq.heappush(window, record.number)
        elif record.number > window[0]:
            heapq.heapreplace(window, record.number)
        else:
            continue  # older than every kept round: as if refused on arrival
        counted.add(id(record))
    run_rounds.filter(number__lt=window[0]).delete()
    run.rounds_stored = len(window)
    return counted


_ROUND_FIELDS = ["federation", "run", "number", "duration", "loss", "metrics", "num_clients", "num_examples",
                 "finished_at"]


def _rounds_store(round_reports: list[Report], runs: dict, now: datetime) -> tuple[dict[int, RoundRecord], list]:
    """Store the finished rounds that are new, keeping the latest ``F2F_ROUNDS_KEPT`` of each run
    (``runs``: the runs of these rounds stored already, by (federation, run)).

    Returns the records that count as stored, by the index of their report, and the runs whose
    count of stored rounds is to be saved. A round stored already, in a run that is not kept, or
    older than what its run keeps is not counted (so a replayed round that was dropped is not
    counted again).
    """
    runs, dropped = _runs_keep(round_reports, runs, now)
    candidates = {}
    for index, report in enumerate(round_reports):
        event = report.event
        if (report.federation_id, event.run) not in dropped:
            candidates[index] = RoundRecord(
                federation_id=report.federation_id, run=event.run, number=event.round, duration=event.duration,
                loss=event.loss, metrics=event.metrics, num_clients=event.num_clients,
                num_examples=event.num_examples, finished_at=now)
    inserted = {id(record) for record in bulk.insert_new(RoundRecord, list(candidates.values()), _ROUND_FIELDS,
                                                         key=["federation", "run", "number"])}
    records = {index: record for index, record in candidates.items() if id(record) in inserted}
    per_run = collections.defaultdict(list)
    for record in records.values():
        per_run[(record.federation_id, record.run)].append(record)
    counted = set()
    for key, arrivals in per_run.items():
        run, kept = runs[key], _window_keep(runs[key], arrivals)
        for record in arrivals:
            if id(record) in kept:
                run.rounds_completed += 1
                run.duration_total += record.duration
                run.last_round_at = now
        counted |= kept
    return {index: record for index, record in records.items() if id(record) in counted}, [runs[key] for key in per_run]


@transaction.atomic
def federations_apply_reports(*, reports: list[Report]) -> list[str]:
    """Apply reported events, in the order given, to the federations their connections are bound to.

    The only writer of the federations' training state, and the ingest's group commit: a whole
    batch is one transaction, with the rounds inserted in bulk and one update per federation.
    Events are ordered (``protocol.order``): one that is behind its federation's live state (an
    older run, an older round) leaves that state as it is and only shows the server is alive. A
    finished round is stored once, if its run is among the latest kept; older runs and rounds are
    pruned here, in the same transaction. The completed rounds and the average round duration are
    running aggregates over every round stored. Returns an ``Outcome`` per report; the new states
    are pushed to open pages once the transaction commits.
    """
    rounds = [index for index, r in enumerate(reports) if isinstance(r.event, RoundEvent)]
    # One round trip reads what the batch needs: the live states, locked in id order (two portal processes
    # writing overlapping batches never deadlock), the connections' tokens still active, and the runs its
    # rounds belong to. Only the narrow live states are written.
    state_rows, token_rows, run_rows = bulk.together(
        bulk.select(LiveState, _STATE_READ, where=["federation"],
                    keys=[(federation_id,) for federation_id in {r.federation_id for r in reports}], lock=True),
        bulk.select(ReportingToken, ["id", "federation"], where=["id"], keys=[(r.token_id,) for r in reports],
                    also=_TOKEN_ACTIVE),
        bulk.select(TrainingRun, _RUN_FIELDS, where=["federation", "name"],
                    keys=list({(reports[i].federation_id, reports[i].event.run) for i in rounds})) if rounds else None,
    )
    states = {state.pk: state for state in bulk.instances(LiveState, _STATE_READ, state_rows)}
    active = set(token_rows)
    valid = [index for index, r in enumerate(reports)
             if r.federation_id in states and (r.token_id, r.federation_id) in active]
    now = timezone.now()
    valid_rounds = [index for index in valid if isinstance(reports[index].event, RoundEvent)]
    runs = {(run.federation_id, run.name): run for run in bulk.instances(TrainingRun, _RUN_FIELDS, run_rows)}
    stored, counted_runs = _rounds_store([reports[i] for i in valid_rounds], runs, now)
    records = {valid_rounds[at]: record for at, record in stored.items()}

    outcomes, points = [Outcome.REVOKED] * len(reports), []
    for index in valid:
        report = reports[index]
        state, event = states[report.federation_id], report.event
        changes = _live_changes(state, event)
        for field, value in changes.items():
            setattr(state, field, value)
        record = records.get(index)
        if record is not None:
            state.completed_rounds, state.avg_round_duration = _mean_with(
                state.completed_rounds, state.avg_round_duration, event.duration)
            if state.current_run == event.run:
                state.run_rounds, state.run_avg_duration = _mean_with(
                    state.run_rounds, state.run_avg_duration, event.duration)
                points.append({"federation": state.pk, **selectors.round_point(record)})
        applied = changes or record is not None or isinstance(event, AliveEvent)  # alive: it was heard, all it says
        outcomes[index] = Outcome.APPLIED if applied else Outcome.STALE

    touched = {reports[index].federation_id for index in valid}
    # Federations this batch brings online start a spell of uptime (the heartbeat ends it).
    spells = [OnlineSpell(federation_id=federation_id, started=now) for federation_id in sorted(touched)
              if states[federation_id].status != Status.ONLINE]
    for federation_id in touched:
        state = states[federation_id]
        state.status, state.last_update = Status.ONLINE, now
        state.offline_after = offline_deadline(last_update=now, avg_round_duration=state.avg_round_duration,
                                               finished=state.phase == Phase.FINISHED,
                                               signals_alive=state.signals_alive)
        state.live_version += 1
    changed = [states[federation_id] for federation_id in sorted(touched)]
    # One round trip writes them and reads the download counts pushed with the states.
    *_, count_rows = bulk.together(
        bulk.update(TrainingRun, counted_runs, _RUN_AGGREGATES),
        bulk.update(LiveState, changed, LiveState.FIELDS),
        bulk.insert(OnlineSpell, spells, ["federation", "started"]),
        _download_counts_read([state.pk for state in changed]),
    )
    counts = dict(count_rows)
    live.push_after_commit(states=[selectors.snapshot(state, download_count=counts[state.pk]) for state in changed],
                           rounds=points)
    return outcomes


def federation_apply_event(*, federation_id: int, token_id: int, event: Event) -> bool:
    """Apply one event (``federations_apply_reports`` with one report). False when it was stale.

    Raises ``TokenRevoked`` when the connection's token is no longer active.
    """
    [outcome] = federations_apply_reports(reports=[Report(federation_id, token_id, event)])
    if outcome == Outcome.REVOKED:
        raise TokenRevoked
    return outcome == Outcome.APPLIED
