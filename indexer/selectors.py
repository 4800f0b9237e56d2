"""Reads of admission data that pages share: what the public is told about a listed script, and what
an operator is shown before deciding."""

import hashlib
from dataclasses import dataclass
from datetime import datetime

from django.db.models import F, Max, Q

from f2f_site import memo
from federations.models import Federation

from .models import Candidacy, Decision


@dataclass(frozen=True)
class Provenance:
    """How a federation's served Client.py came to be listed, as far as the records show.

    ``kind`` is "reviewed" (submitted through Be a Server, checked automatically, approved by an
    operator, and the file served is still the approved one), "replaced" (approved, but the file
    served now is another one), "unapproved" (a candidacy with no approval on record) or
    "operator" (no candidacy at all: seeded or added by the portal's operator).
    """

    kind: str
    checked_on: datetime | None = None
    reviewed_on: datetime | None = None


PROVENANCE = "provenance"  # its memo's kind, by federation id


def _latest_candidacy(federation_id: int) -> dict | None:
    # Its candidacies, the one with the latest approval first (then those never approved): none at all
    # means the operator added it.
    return (Candidacy.objects.filter(federation_id=federation_id)
            .annotate(approved_at=Max("decisions__at", filter=Q(decisions__action=Decision.Action.APPROVED)))
            .order_by(F("approved_at").desc(nulls_last=True))
            .values("approved_at", "created_at", "client_sha256").first())


def federation_provenance(federation: Federation) -> Provenance:
    """What may honestly be said about who checked the file ``federation`` serves; one query, none when read
    in the last seconds (``f2f_site.memo``). What is remembered cannot change: a candidacy is decided before
    the federation it lists exists. The file served can, and is compared at each read."""
    candidacy = memo.remembered(PROVENANCE, federation.pk, lambda: _latest_candidacy(federation.pk))
    if candidacy is None:
        return Provenance("operator")
    if candidacy["approved_at"] is None:
        return Provenance("unapproved")
    # The operator can point a federation at another file later: the approval vouches only for the bytes it saw.
    if candidacy["client_sha256"] != federation.client_file.sha256:
        return Provenance("replaced", reviewed_on=candidacy["approved_at"])
    # Validation starts as soon as the candidacy is stored, so its submission is when it was checked.
    return Provenance("reviewed", checked_on=candidacy["created_at"], reviewed_on=candidacy["approved_at"])


@dataclass(frozen=True)
class Served:
    """The bytes an approval would list, identified as participants will see them."""

    sha256: str
    size: int


def candidacy_served(candidacy: Candidacy) -> Served:
    """The SHA-256 and size of the exact bytes approving ``candidacy`` lists, computed from those bytes
    (as the catalog computes them) rather than read back from the stored digest."""
    content = bytes(candidacy.client_content)
    return Served(sha256=hashlib.sha256(content).hexdigest(), size=len(content))
