"""Full-text search over the catalog, with the same results on PostgreSQL and SQLite.

Both backends see the text through one tokenizer: case-folded runs of letters and digits.
Each federation stores its searchable text as those tokens joined by spaces
(``search_document``). A query matches when every one of its tokens is a prefix of some
token of the document. PostgreSQL answers that with ``to_tsvector('simple', ...)`` and a
``term:* & ...`` tsquery over a GIN expression index; SQLite with ``LIKE '% term%'``.
The ``simple`` configuration neither stems nor drops stop words, so both agree.
"""

import re

from django.contrib.postgres.search import SearchQuery, SearchVector
from django.db import connections
from django.db.models import Q, QuerySet

_TOKEN = re.compile(r"[^\W_]+")
MAX_QUERY_TERMS = 8
CONFIG = "simple"


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.casefold())


def search_document(*parts: str) -> str:
    """The stored searchable text: tokens joined by single spaces, padded at both ends."""
    words = tokens(" ".join(part for part in parts if part))
    return f" {' '.join(words)} " if words else ""


def search_vector() -> SearchVector:
    """The indexed expression; queries must use this exact one for PostgreSQL to use the index."""
    return SearchVector("search_document", config=CONFIG)


def matching(queryset: QuerySet, query: str) -> QuerySet:
    terms = tokens(query)[:MAX_QUERY_TERMS]
    if not terms:
        return queryset
    if connections[queryset.db].vendor == "postgresql":
        tsquery = " & ".join(f"{term}:*" for term in terms)
        return queryset.annotate(search=search_vector()).filter(
            search=SearchQuery(tsquery, search_type="raw", config=CONFIG)
        )
    condition = Q()
    for term in terms:
        condition &= Q(search_document__contains=f" {term}")
    return queryset.filter(condition)
