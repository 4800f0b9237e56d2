"""Every write to the catalog goes through these functions."""

import hashlib
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.text import slugify

from .models import ClientFile, Federation, Status


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


def federation_count_download(*, federation_id: int) -> None:
    """Count one download in the database itself, so concurrent downloads never lose a count."""
    Federation.objects.filter(pk=federation_id).update(download_count=F("download_count") + 1)


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
    return ids
