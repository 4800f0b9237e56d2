"""Every write to the catalog goes through these functions."""

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Avg, F
from django.utils import timezone
from django.utils.text import slugify

from . import live, protocol, selectors
from .models import ClientFile, Federation, Phase, ReportingToken, RoundRecord, Status, TrainingRun
from .protocol import FinalEvent, RoundEvent, StateEvent


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
def federation_create(*, client_content: bytes, **card) -> Federation:
    """Add a federation to the catalog with its client script (``card``: the model's card fields)."""
    federation = Federation(client_file=client_file_store(content=client_content), **card)
    federation.slug = federation.slug or unique_slug(federation.name)
    federation.full_clean()
    federation.save()
    return federation


@transaction.atomic
def federation_count_download(*, federation_id: int) -> None:
    """Count one download in the database itself, so concurrent downloads never lose a count."""
    Federation.objects.filter(pk=federation_id).update(download_count=F("download_count") + 1)
    live.push_after_commit([federation_id])


def offline_deadline(*, last_update: datetime, avg_round_duration: float | None) -> datetime:
    """When a server that reported at ``last_update`` counts as silent.

    The prototype's rule: a configured floor, or ten average rounds when that is longer, so a
    federation with slow rounds is not declared dead between two of its reports.
    """
    allowed = float(settings.F2F_OFFLINE_AFTER)
    if avg_round_duration:
        allowed = max(allowed, 10 * avg_round_duration)
    return last_update + timedelta(seconds=allowed)


def federations_mark_silent_offline(*, now: datetime | None = None) -> list[int]:
    """Turn every online federation past its deadline offline; returns the ids it changed.

    One conditional UPDATE: running it twice, or in two workers at once, changes nothing more.
    """
    now = now or timezone.now()
    silent = Federation.objects.filter(status=Status.ONLINE, offline_after__lt=now)
    with transaction.atomic():
        ids = list(silent.select_for_update(skip_locked=True).values_list("id", flat=True))
        silent.filter(id__in=ids).update(status=Status.OFFLINE)
        live.push_after_commit(ids)
    return ids


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
    """The id of the active token when ``token`` is ``federation_id``'s, else None."""
    if type(federation_id) is not int or not isinstance(token, str) or not 0 < len(token) <= 200:
        return None
    presented = _token_hash(token)
    match = None
    for token_id, stored in ReportingToken.objects.filter(
        federation_id=federation_id, revoked_at__isnull=True
    ).values_list("id", "token_hash"):
        if hmac.compare_digest(stored, presented):
            match = token_id
    return match


class TokenRevoked(Exception):
    """The token a connection authenticated with has been revoked since."""


def _live_order(federation: Federation) -> tuple | None:
    """Where the federation's live state stands in its history; None before any ordered event."""
    if federation.run_started is None:
        return None
    return protocol.order(started=federation.run_started, run=federation.current_run,
                          finished=federation.phase == Phase.FINISHED, round=federation.current_round)


def _live_changes(federation: Federation, event: StateEvent | RoundEvent | FinalEvent) -> dict:
    """What ``event`` changes in the federation's live state: nothing when it is behind it.

    A state or final event at the live state's own place still applies (a new phase of the
    same round); a round event only moves the state when it is ahead.
    """
    current = _live_order(federation)
    ahead = current is None or event.order > current
    if not (ahead or (current == event.order and not isinstance(event, RoundEvent))):
        return {}
    changes = {"current_run": event.run, "run_started": event.started}
    same_run = (federation.run_started, federation.current_run) == (event.started, event.run)
    if isinstance(event, StateEvent):
        changes.update(
            phase=event.phase, current_round=event.round, total_rounds=event.total_rounds,
            connected_clients=event.connected_clients, min_clients=event.min_clients, fraction_fit=event.fraction_fit,
        )
    elif isinstance(event, RoundEvent):  # round k is over, the run is not: it trains on
        changes.update(phase=Phase.TRAINING, current_round=event.round)
    else:
        changes.update(phase=Phase.FINISHED,
                       current_round=max(event.rounds, federation.current_round if same_run else 0))
    return changes


def _run_keep(*, federation_id: int, event: RoundEvent, now: datetime) -> bool:
    """Record the event's run unless it is older than the latest ``F2F_RUNS_KEPT``; drop runs past that.

    True when the run is kept. A dropped run's rounds go with it.
    """
    _, created = TrainingRun.objects.get_or_create(
        federation_id=federation_id, name=event.run, defaults={"started": event.started, "first_seen": now}
    )
    if not created:
        return True
    dropped = list(
        TrainingRun.objects.filter(federation_id=federation_id).order_by("-started", "-name")
        .values_list("name", flat=True)[settings.F2F_RUNS_KEPT:]
    )
    if dropped:
        RoundRecord.objects.filter(federation_id=federation_id, run__in=dropped).delete()
        TrainingRun.objects.filter(federation_id=federation_id, name__in=dropped).delete()
    return event.run not in dropped


def _round_store(*, federation_id: int, event: RoundEvent, now: datetime) -> RoundRecord | None:
    """Store a finished round, keeping the latest ``F2F_ROUNDS_KEPT`` of its run.

    Returns the new record, or None when the round was stored already, or is older than what
    its run keeps (so a replayed round that was dropped is not counted again).
    """
    if not _run_keep(federation_id=federation_id, event=event, now=now):
        return None
    record, created = RoundRecord.objects.get_or_create(
        federation_id=federation_id, run=event.run, number=event.round,
        defaults={"duration": event.duration, "loss": event.loss, "metrics": event.metrics,
                  "num_clients": event.num_clients, "num_examples": event.num_examples, "finished_at": now},
    )
    if not created:
        return None
    run_rounds = RoundRecord.objects.filter(federation_id=federation_id, run=event.run)
    kept = settings.F2F_ROUNDS_KEPT
    beyond = list(run_rounds.order_by("-number").values_list("number", flat=True)[kept:kept + 1])
    if beyond:
        run_rounds.filter(number__lte=beyond[0]).delete()
        if record.number <= beyond[0]:
            return None
    return record


@transaction.atomic
def federation_apply_event(*, federation_id: int, token_id: int, event: StateEvent | RoundEvent | FinalEvent) -> bool:
    """Apply one reported event to the federation bound to the connection; the only writer of its state.

    Events are ordered (``protocol.order``): one that is behind the live state (an older run,
    an older round) leaves that state as it is, and only shows the server is alive. A finished
    round is stored once, if its run is among the latest kept; older runs and rounds are pruned
    here, in the same transaction as the write. Returns False when the event changed nothing
    but the liveness (the ingest acknowledges it as stale).
    """
    federation = Federation.objects.select_for_update().filter(pk=federation_id).first()
    active = ReportingToken.objects.filter(pk=token_id, federation_id=federation_id, revoked_at__isnull=True)
    if federation is None or not active.exists():
        raise TokenRevoked
    now = timezone.now()
    changes = _live_changes(federation, event)
    applied = bool(changes)
    point = None
    if isinstance(event, RoundEvent):
        record = _round_store(federation_id=federation_id, event=event, now=now)
        if record is not None:
            applied = True
            changes["completed_rounds"] = F("completed_rounds") + 1
            changes["avg_round_duration"] = RoundRecord.objects.filter(federation_id=federation_id).aggregate(
                avg=Avg("duration"))["avg"]
            if changes.get("current_run", federation.current_run) == event.run:
                point = selectors.round_point(record)  # pages draw the current run's curves only

    average = changes.get("avg_round_duration", federation.avg_round_duration)
    changes.update(status=Status.ONLINE, last_update=now,
                   offline_after=offline_deadline(last_update=now, avg_round_duration=average))
    Federation.objects.filter(pk=federation_id).update(**changes)
    live.push_after_commit([federation_id], round_point=point)
    return applied
