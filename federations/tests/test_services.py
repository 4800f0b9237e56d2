import hashlib
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from federations import services
from federations.models import ClientFile, Federation, LiveState, Status


def test_it_stores_a_client_file_once_per_content(db):
    first = services.client_file_store(content=b"print('hi')\n")
    again = services.client_file_store(content=b"print('hi')\n")
    assert first.pk == again.pk
    assert first.sha256 == hashlib.sha256(b"print('hi')\n").hexdigest()
    assert first.size == 12
    assert ClientFile.objects.count() == 1


def test_it_refuses_empty_and_oversize_client_files(db, settings):
    settings.F2F_CLIENT_FILE_MAX_BYTES = 10
    with pytest.raises(ValidationError) as empty:
        services.client_file_store(content=b"")
    with pytest.raises(ValidationError) as large:
        services.client_file_store(content=b"x" * 11)
    assert empty.value.code == "empty" and large.value.code == "too_large"
    assert ClientFile.objects.count() == 0


def test_it_gives_each_federation_a_unique_slug_that_never_reads_as_an_id(make_federation):
    assert make_federation(name="Skin lesions").slug == "skin-lesions"
    assert make_federation(name="Skin lesions").slug == "skin-lesions-2"
    assert make_federation(name="2026").slug == "federation-2026"
    assert make_federation(name="???").slug == "federation"


def test_it_rolls_back_the_client_file_when_the_card_is_invalid(db):
    with pytest.raises(ValidationError) as error:
        services.federation_create(client_content=b"print(1)\n", name="Bad", server_address="x; rm -rf /")
    assert "server_address" in error.value.message_dict
    assert not ClientFile.objects.exists() and not Federation.objects.exists()


def test_it_counts_downloads_in_the_database(federation):
    services.federation_count_download(federation_id=federation.pk)
    services.federation_count_download(federation_id=federation.pk)
    federation.refresh_from_db()
    assert federation.download_count == 2


def test_offline_deadline_is_the_floor_or_ten_rounds_whichever_is_longer(settings):
    settings.F2F_OFFLINE_AFTER = 900
    now = timezone.now()
    assert services.offline_deadline(last_update=now, avg_round_duration=None) == now + timedelta(seconds=900)
    assert services.offline_deadline(last_update=now, avg_round_duration=30) == now + timedelta(seconds=900)
    assert services.offline_deadline(last_update=now, avg_round_duration=120) == now + timedelta(seconds=1200)


def _reporting(federation, *, seconds_ago, avg=None):
    last = timezone.now() - timedelta(seconds=seconds_ago)
    LiveState.objects.filter(pk=federation.pk).update(
        status=Status.ONLINE, last_update=last, avg_round_duration=avg,
        offline_after=services.offline_deadline(last_update=last, avg_round_duration=avg),
    )


def test_it_marks_silent_servers_offline_and_leaves_the_others(make_federation, settings):
    settings.F2F_OFFLINE_AFTER = 600
    silent, recent, slow = make_federation(), make_federation(), make_federation()
    _reporting(silent, seconds_ago=700)
    _reporting(recent, seconds_ago=60)
    _reporting(slow, seconds_ago=700, avg=100)  # ten rounds of 100 s have not passed yet

    assert services.federations_mark_silent_offline() == [silent.pk]
    assert services.federations_mark_silent_offline() == []  # safe to run twice

    statuses = dict(LiveState.objects.values_list("pk", "status"))
    assert statuses == {silent.pk: Status.OFFLINE, recent.pk: Status.ONLINE, slow.pk: Status.ONLINE}
