"""Reads of admission data that pages share: what the public is told about a listed script, and what
an operator is shown before deciding."""

import hashlib
from dataclasses import dataclass
from datetime import datetime

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


def federation_provenance(federation: Federation) -> Provenance:
    """What may honestly be said about who checked the file ``federation`` serves; one query when reviewed."""
    approval = (Decision.objects.filter(candidacy__federation=federation, action=Decision.Action.APPROVED)
                .select_related("candidacy").only("at", "candidacy__created_at", "candidacy__client_sha256")
                .order_by("-at").first())
    if approval is None:
        has_candidacy = Candidacy.objects.filter(federation=federation).exists()
        return Provenance("unapproved" if has_candidacy else "operator")
    candidacy = approval.candidacy
    # The operator can point a federation at another file later: the approval vouches only for the bytes it saw.
    if candidacy.client_sha256 != federation.client_file.sha256:
        return Provenance("replaced", reviewed_on=approval.at)
    # Validation starts as soon as the candidacy is stored, so its submission is when it was checked.
    return Provenance("reviewed", checked_on=candidacy.created_at, reviewed_on=approval.at)


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
