"""The catalog's pages: keyset pages that never skip or repeat a federation, and counts that stop."""

import pytest
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
