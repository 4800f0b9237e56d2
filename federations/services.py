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

from . import live, selectors
from .models import ClientFile, Federation, Phase, ReportingToken, RoundRecord, Status
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


@transaction.atomic
def federation_apply_event(*, federation_id: int, token_id: int, event: StateEvent | RoundEvent | FinalEvent) -> None:
    """Apply one reported event to the federation bound to the connection; the only writer of its state.

    Idempotent per round: a repeated or late round event stores and counts nothing more.
    """
    federation = Federation.objects.select_for_update().filter(pk=federation_id).first()
    active = ReportingToken.objects.filter(pk=token_id, federation_id=federation_id, revoked_at__isnull=True)
    if federation is None or not active.exists():
        raise TokenRevoked
    now = timezone.now()
    changes = {"status": Status.ONLINE, "last_update": now}
    point = None

    if isinstance(event, StateEvent):
        changes.update(
            current_run=event.run, phase=event.phase, current_round=event.round, total_rounds=event.total_rounds,
            connected_clients=event.connected_clients, min_clients=event.min_clients, fraction_fit=event.fraction_fit,
        )
    elif isinstance(event, RoundEvent):
        changes["current_run"] = event.run
        record, created = RoundRecord.objects.get_or_create(
            federation_id=federation_id, run=event.run, number=event.round,
            defaults={"duration": event.duration, "loss": event.loss, "metrics": event.metrics,
                      "num_clients": event.num_clients, "num_examples": event.num_examples, "finished_at": now},
        )
        if created:
            changes["completed_rounds"] = F("completed_rounds") + 1
            changes["avg_round_duration"] = RoundRecord.objects.filter(federation_id=federation_id).aggregate(
                avg=Avg("duration"))["avg"]
            point = selectors.round_point(record)
    elif isinstance(event, FinalEvent):
        changes.update(phase=Phase.FINISHED, current_run=event.run)

    average = changes.get("avg_round_duration", federation.avg_round_duration)
    changes["offline_after"] = offline_deadline(last_update=now, avg_round_duration=average)
    Federation.objects.filter(pk=federation_id).update(**changes)
    live.push_after_commit([federation_id], round_point=point)
