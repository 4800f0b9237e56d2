import pytest
from django.http import Http404

from federations import selectors
from federations.models import Federation, LiveState, Status


def names(queryset):
    return [federation.name for federation in queryset]


def test_catalog_filters_by_category_application_and_status(make_federation):
    make_federation(name="A", category="tabular", application="Finance", status=Status.ONLINE)
    make_federation(name="B", category="tabular", application="Healthcare")
    make_federation(name="C", category="speech", application="Finance", status=Status.ONLINE)

    assert set(names(selectors.catalog(category="tabular"))) == {"A", "B"}
    assert set(names(selectors.catalog(application="Finance"))) == {"A", "C"}
    assert set(names(selectors.catalog(online_only=True))) == {"A", "C"}
    assert names(selectors.catalog(category="tabular", application="Finance", online_only=True)) == ["A"]


def test_catalog_sorts_newest_most_downloaded_and_most_active(make_federation):
    old = make_federation(name="old")
    popular = make_federation(name="popular")
    busy = make_federation(name="busy")
    Federation.objects.filter(pk=popular.pk).update(download_count=50)
    LiveState.objects.filter(pk=busy.pk).update(completed_rounds=90)
    Federation.objects.filter(pk=old.pk).update(download_count=5)
    LiveState.objects.filter(pk=old.pk).update(completed_rounds=5)

    assert names(selectors.catalog(sort="newest")) == ["busy", "popular", "old"]
    assert names(selectors.catalog(sort="downloads")) == ["popular", "old", "busy"]
    assert names(selectors.catalog(sort="active")) == ["busy", "old", "popular"]


def test_applications_lists_each_application_once(make_federation):
    for application in ["Finance", "Energy", "Finance"]:
        make_federation(application=application)
    assert selectors.applications() == ["Energy", "Finance"]


def test_a_federation_is_found_by_slug_or_by_id(federation):
    assert selectors.federation_by_key(federation.slug) == federation
    assert selectors.federation_by_key(str(federation.pk)) == federation


@pytest.mark.parametrize("key", ["no-such-federation", "999999", "99999999999999999999999999"])
def test_an_unknown_key_is_404(db, key):
    with pytest.raises(Http404):
        selectors.federation_by_key(key)
