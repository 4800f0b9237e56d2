"""Trust signals on a federation's page and in the catalog: uptime, joining, participants wanted."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from federations import selectors, services
from federations.models import Federation, LiveState, OnlineSpell, Status
from federations.protocol import StateEvent


def state_event(connected=1, minimum=2):
    return StateEvent(run="r1", started=1_700_000_000_000, phase="waiting", round=0, total_rounds=5,
                      connected_clients=connected, min_clients=minimum, fraction_fit=1.0)


def test_uptime_is_the_share_of_the_window_the_server_was_online(make_federation):
    now = timezone.now()
    federation = make_federation()
    Federation.objects.filter(pk=federation.pk).update(created_at=now - timedelta(days=60))
    federation.refresh_from_db()
    OnlineSpell.objects.bulk_create([
        OnlineSpell(federation=federation, started=now - timedelta(days=40), ended=now - timedelta(days=29)),  # 1 day in
        OnlineSpell(federation=federation, started=now - timedelta(days=3), ended=now - timedelta(days=2)),
        OnlineSpell(federation=federation, started=now - timedelta(hours=12), ended=None),  # online now
    ])
    assert selectors.uptimes(federation, now=now) == {7: pytest.approx(1.5 / 7), 30: pytest.approx(2.5 / 30)}

    young = make_federation()
    Federation.objects.filter(pk=young.pk).update(created_at=now - timedelta(days=2))
    young.refresh_from_db()
    OnlineSpell.objects.create(federation=young, started=now - timedelta(days=1), ended=None)
    assert selectors.uptimes(young, now=now) == {7: pytest.approx(0.5), 30: pytest.approx(0.5)}  # half its life
    assert selectors.uptimes(make_federation()) is None  # listed this minute


def test_the_ingest_and_the_heartbeat_record_spells_of_uptime(settings, federation):
    settings.F2F_OFFLINE_AFTER = 1
    token = services.reporting_token_issue(federation=federation)
    token_id = services.reporting_token_authenticate(federation_id=federation.pk, token=token)
    services.federation_apply_event(federation_id=federation.pk, token_id=token_id, event=state_event())
    services.federation_apply_event(federation_id=federation.pk, token_id=token_id, event=state_event(connected=2))
    [spell] = OnlineSpell.objects.filter(federation=federation)  # one spell for the events of one online time
    assert spell.ended is None

    last_update = LiveState.objects.get(pk=federation.pk).last_update
    assert services.federations_mark_silent_offline(now=last_update + timedelta(seconds=5)) == [federation.pk]
    spell.refresh_from_db()
    assert spell.ended == last_update  # up to its last report, not to when the silence was noticed

    services.federation_apply_event(federation_id=federation.pk, token_id=token_id, event=state_event(connected=3))
    assert OnlineSpell.objects.filter(federation=federation, ended__isnull=True).count() == 1
    OnlineSpell.objects.filter(pk=spell.pk).update(started=timezone.now() - timedelta(days=40),
                                                   ended=timezone.now() - timedelta(days=31))
    services.federations_mark_silent_offline()
    assert not OnlineSpell.objects.filter(pk=spell.pk).exists()  # older than any window: deleted


def test_the_page_shows_uptime_and_joining(client, make_federation):
    federation = make_federation()
    Federation.objects.filter(pk=federation.pk).update(created_at=timezone.now() - timedelta(days=10),
                                                      download_count=12)
    OnlineSpell.objects.create(federation=federation, started=timezone.now() - timedelta(days=7))
    page = client.get(federation.get_absolute_url()).content.decode()
    uptime = page.split('data-testid="uptime">')[1].split("</dd>")[0]
    assert uptime == "100 % online over the last 7 days · 70 % online over the last 30 days"
    assert "12 downloads of its client" in page


def test_participants_wanted_are_highlighted_and_filtered(client, make_federation):
    wanted = make_federation(name="Needs Two", status=Status.ONLINE, connected_clients=1, min_clients=2)
    full = make_federation(name="Has Enough", status=Status.ONLINE, connected_clients=2, min_clients=2)
    silent = make_federation(name="Gone Quiet", status=Status.OFFLINE, connected_clients=0, min_clients=2)

    for sort in ("newest", "active"):
        page = client.get(reverse("federations:catalog"), {"wanted": "on", "sort": sort}).content.decode()
        assert "Needs Two" in page and "Has Enough" not in page and "Gone Quiet" not in page
    assert selectors.catalog_count(wanted_only=True).value == 1

    catalog = client.get(reverse("federations:catalog")).content.decode()
    for federation, shown in ((wanted, True), (full, False), (silent, False)):
        row = catalog.split(f'data-federation="{federation.pk}"')[1].split("</tr>")[0]
        badge = row.split('data-field="participants_wanted"')[1].split(">")[0]
        assert ("hidden" not in badge) == shown
    states = {state["id"]: state["participants_wanted"] for state in selectors.federation_snapshots([wanted.pk, full.pk])}
    assert states == {wanted.pk: True, full.pk: False}
