"""The catalog's pages: keyset pages that never skip or repeat a federation, and counts that stop."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from federations import selectors
from federations.models import Federation, LiveState
from federations.selectors import Count, Position


@pytest.fixture
def tied(make_federation, monkeypatch):
    """Eleven federations, pages of three, every sort key shared by several of them."""
    monkeypatch.setattr(selectors, "PAGE_SIZE", 3)
    federations = [make_federation(name=f"Tied {n}") for n in range(11)]
    same_instant = timezone.now().replace(microsecond=123456)
    for n, federation in enumerate(federations):
        Federation.objects.filter(pk=federation.pk).update(
            created_at=same_instant if n % 3 else same_instant.replace(microsecond=0), download_count=n % 2)
        LiveState.objects.filter(pk=federation.pk).update(completed_rounds=5 * (n % 4 == 0))
    return federations


@pytest.fixture
def mixed(make_federation, monkeypatch):
    """Thirty federations, pages of three, whose filters keep many of them in some stretches of each order and
    none in others; every sort key shared by several of them."""
    monkeypatch.setattr(selectors, "PAGE_SIZE", 3)
    same_instant = timezone.now().replace(microsecond=0)
    federations = []
    for n in range(30):
        federation = make_federation(name=f"{'Alpha' if n % 3 else 'Beta'} {n}",
                                     category="tabular" if n < 12 or n % 5 == 0 else "language",
                                     application="Finance" if n % 2 else "Healthcare")
        Federation.objects.filter(pk=federation.pk).update(
            created_at=same_instant.replace(second=n // 4), download_count=n % 3)
        # The most active are offline (finished runs): online federations sit low in that order.
        LiveState.objects.filter(pk=federation.pk).update(completed_rounds=30 - n // 3,
                                                          status="online" if n > 17 else "offline")
        federations.append(federation)
    return federations


FILTERS = [{}, {"query": "alpha"}, {"category": "tabular"}, {"online_only": True}, {"application": "Finance"},
           {"query": "alpha", "category": "tabular", "application": "Finance"},
           {"query": "beta", "category": "language", "online_only": True}, {"query": "zebrafish"}]


@pytest.mark.parametrize("walk_limit", [6, 1000])
@pytest.mark.parametrize("filters", FILTERS)
@pytest.mark.parametrize("sort", list(selectors.SORTS))
def test_every_sort_and_filter_pages_through_its_matches_both_ways(mixed, monkeypatch, sort, filters, walk_limit):
    """Whatever way a page is found (on SQLite a live sort walks its index, up to a limit or on, or sorts the
    matches), the pages are the catalog's order cut in threes, and going back retraces them."""
    monkeypatch.setattr(selectors, "WALK_LIMIT", walk_limit)
    pages = walk_forward(sort=sort, **filters)

    expected = list(selectors.catalog(sort=sort, **filters).values_list("pk", flat=True))
    assert [pk for page in pages for pk in ids(page)] == expected
    assert [len(page.federations) for page in pages[:-1]] == [3] * (len(pages) - 1)
    page = pages[-1]
    for seen in reversed(pages[:-1]):
        page = selectors.catalog_page(sort=sort, **filters, before=page.previous)
        assert ids(page) == ids(seen)
    assert page.previous is None


@pytest.fixture
def ways(monkeypatch):
    """How each page of a live sort was found: "walk" (limited), "walk on" (unlimited) or "sorted matches"."""
    if connection.vendor != "sqlite":
        pytest.skip("PostgreSQL finds every page from the matches")
    taken = []
    walked, matched = selectors._walked_rows, selectors._matched_rows

    def walk(*args, limit, **kwargs):
        rows = walked(*args, limit=limit, **kwargs)
        taken.append(("walk" if limit else "walk on", rows is not None))
        return rows

    def match(*args, **kwargs):
        taken.append(("sorted matches", True))
        return matched(*args, **kwargs)

    monkeypatch.setattr(selectors, "_walked_rows", walk)
    monkeypatch.setattr(selectors, "_matched_rows", match)
    return taken


def test_on_sqlite_a_live_sort_walks_its_index_while_the_filters_keep_enough(mixed, ways, monkeypatch):
    monkeypatch.setattr(selectors, "WALK_LIMIT", 6)
    assert ids(selectors.catalog_page(sort="active", category="tabular"))
    assert ways == [("walk", True)]


def test_on_sqlite_few_matches_are_sorted_rather_than_walked_to(mixed, ways, monkeypatch):
    monkeypatch.setattr(selectors, "WALK_LIMIT", 6)
    page = selectors.catalog_page(sort="active", query="beta", category="language", online_only=True)
    assert [federation.name for federation in page.federations] == ["Beta 18", "Beta 21", "Beta 24"]
    assert ways == [("walk", False), ("sorted matches", True)]


def test_on_sqlite_many_matches_low_in_the_order_are_walked_to(mixed, ways, monkeypatch):
    monkeypatch.setattr(selectors, "WALK_LIMIT", 6)
    page = selectors.catalog_page(sort="active", online_only=True)
    assert [federation.name for federation in page.federations] == ["Alpha 20", "Alpha 19", "Beta 18"]
    assert ways == [("walk", False), ("walk on", True)]


def test_on_sqlite_no_match_is_neither_walked_to_nor_sorted(mixed, ways, monkeypatch):
    monkeypatch.setattr(selectors, "WALK_LIMIT", 6)
    assert selectors.catalog_page(sort="active", query="zebrafish").federations == []
    assert ways == [("walk", False)]


def test_only_a_live_sort_on_sqlite_walks_an_index():
    assert selectors._walks_live_index("active") == (connection.vendor == "sqlite")
    assert not selectors._walks_live_index("newest") and not selectors._walks_live_index("downloads")


def walk_forward(**filters):
    pages, page = [], selectors.catalog_page(**filters)
    pages.append(page)
    while page.next:
        page = selectors.catalog_page(**filters, after=page.next)
        pages.append(page)
    return pages


def ids(page):
    return [federation.pk for federation in page.federations]


@pytest.mark.parametrize("sort", list(selectors.SORTS))
def test_pages_list_every_federation_once_in_the_sort_order_even_with_ties(tied, sort):
    pages = walk_forward(sort=sort)

    listed = [pk for page in pages for pk in ids(page)]
    assert listed == list(selectors.catalog(sort=sort).values_list("pk", flat=True))
    assert sorted(listed) == sorted(federation.pk for federation in tied)
    assert [len(page.federations) for page in pages] == [3, 3, 3, 2]
    assert pages[0].previous is None and pages[-1].next is None


@pytest.mark.parametrize("sort", list(selectors.SORTS))
def test_previous_pages_are_the_pages_seen_on_the_way(tied, sort):
    pages = walk_forward(sort=sort)

    page = pages[-1]
    for expected in reversed(pages[:-1]):
        page = selectors.catalog_page(sort=sort, before=page.previous)
        assert ids(page) == ids(expected)
    assert page.previous is None


def test_pages_of_a_search_stay_within_it(tied, make_federation):
    make_federation(name="Lisbon Fraud detection")
    pages = walk_forward(query="tied")
    assert sum(len(page.federations) for page in pages) == 11


def test_a_federation_added_meanwhile_shifts_no_page(tied, make_federation):
    first = selectors.catalog_page()
    second = selectors.catalog_page(after=first.next)
    make_federation(name="Brand new")  # the newest: it goes before the first page
    assert ids(selectors.catalog_page(after=first.next)) == ids(second)


@pytest.mark.parametrize("text", ["", "1", "a.b", "1.2.3", "1.0", "1.-2", " 1.2", "1.2 ", "99999999999999999999.1",
                                  "9223372036854775808.1", "1.9223372036854775808"])
def test_positions_that_the_catalog_never_writes_are_refused(text):
    with pytest.raises(ValueError):
        Position.parse(text)


def test_positions_read_back_what_they_write(federation):
    for sort in selectors.SORTS:
        position = Position.of(selectors.catalog(sort=sort).get(pk=federation.pk), sort)
        assert Position.parse(str(position)) == position


@pytest.mark.parametrize("key", [-(2**63) + 1, 2**63 - 1])
def test_positions_beyond_any_date_give_an_end_of_the_catalog(tied, key):
    pages = {selectors.catalog_page(after=Position(key, 1)).federations == [],
             selectors.catalog_page(before=Position(key, 1)).federations == []}
    assert pages == {True, False}


@pytest.mark.parametrize("params", [{"after": "1.2.3"}, {"before": "x"}, {"after": "1.1", "before": "2.2"},
                                    {"after": "-9223372036854775807.1", "sort": "active"}])
def test_forged_page_links_give_a_page_never_an_error(client, tied, params):
    response = client.get(reverse("federations:catalog"), params)
    assert response.status_code == 200


def test_counts_stop_at_the_limit_and_say_so(client, tied, monkeypatch):
    monkeypatch.setattr(selectors, "COUNT_LIMIT", 5)

    assert selectors.catalog_count(query="tied") == Count(5, more=True)
    assert selectors.catalog_count(query="tied 10") == Count(1)
    assert "5+ federations" in client.get(reverse("federations:catalog"), {"q": "tied"}).content.decode()


def test_counts_stop_without_sorting_the_matches(tied):
    """Sorted, SQLite ordered every match of a broad search to count the first 101 (26 ms at 100,000)."""
    with CaptureQueriesContext(connection) as queries:
        assert selectors.catalog_count(query="tied") == Count(11)
    assert len(queries) == 1 and "ORDER BY" not in queries[0]["sql"]


def test_the_whole_catalog_is_counted_exactly(tied, monkeypatch):
    monkeypatch.setattr(selectors, "COUNT_LIMIT", 5)
    assert selectors.catalog_count() == Count(11)


def test_only_what_reads_the_live_state_joins_it_and_then_inner(make_federation):
    """A left join to the live states hides their index from PostgreSQL (the first page of "most active"
    took 200 ms at 100,000 federations), and any join makes it misjudge a rare search (250 ms)."""
    make_federation(name="Joined")
    assert "federations_livestate" not in str(selectors.catalog(query="joined").query)
    assert 'INNER JOIN "federations_livestate"' in str(selectors.catalog(sort="active").query)
    assert 'INNER JOIN "federations_livestate"' in str(selectors.catalog(online_only=True).query)
    assert [f.live.status for f in selectors.catalog(query="joined")] == ["offline"]  # fetched for the page


@pytest.mark.parametrize("count_limit", [2, 5, 100])
@pytest.mark.parametrize("filters", FILTERS)
@pytest.mark.parametrize("sort", list(selectors.SORTS))
def test_a_page_found_among_the_counted_matches_is_the_catalogs_page(mixed, monkeypatch, sort, filters, count_limit):
    """Searches with few matches look for their page among the ids read to count them: the same pages, both
    ways, as the catalog's own order gives, and the same count."""
    monkeypatch.setattr(selectors, "COUNT_LIMIT", count_limit)
    expected = walk_forward(sort=sort, **filters)
    page, count = selectors.catalog_results(sort=sort, **filters)
    pages = [page]
    while page.next:
        page, again = selectors.catalog_results(sort=sort, **filters, after=page.next)
        assert again == count
        pages.append(page)
    assert [ids(page) for page in pages] == [ids(page) for page in expected]
    for at in range(len(pages) - 1, 0, -1):
        back, _ = selectors.catalog_results(sort=sort, **filters, before=pages[at].previous)
        assert ids(back) == ids(pages[at - 1])
    if filters:
        assert count == selectors.catalog_count(**filters)


def test_a_rare_word_is_looked_for_among_its_few_matches(mixed):
    """Two statements: the matches' ids (no order), then their page by id; no walk of an index for a page the
    planner expects to fill soon."""
    with CaptureQueriesContext(connection) as queries:
        page, count = selectors.catalog_results(query="beta 9")
    assert [federation.name for federation in page.federations] == ["Beta 9"] and count == Count(1)
    reads = [query["sql"] for query in queries if "federations_federation" in query["sql"].split(" WHERE ")[0]]
    assert "ORDER BY" not in reads[0] and len(reads) == 2
    assert '"federations_federation"."id" IN (' in reads[1]
    with CaptureQueriesContext(connection) as queries:
        assert selectors.catalog_results(query="zebrafish") == (selectors.Page([], None, None), Count(0))
    assert len(queries) == 1  # no match: no page to look for
