"""Suspending and reinstating federations, from the admin, with everything a suspension must stop."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from federations import selectors
from federations import services as catalog
from federations.models import Federation
from federations.protocol import RoundEvent
from reports import services
from reports.models import Action, ModerationAction


def round_event(number=1):
    return RoundEvent(run="r1", started=1_700_000_000_000, round=number, duration=1.0, loss=0.5, metrics={},
                      num_clients=2, num_examples=10)


def test_a_suspended_federation_is_hidden_refused_and_not_served(client, admin_user, make_federation):
    federation = make_federation(name="Shady Detection", description="object detection for shady people")
    make_federation(name="Honest Detection")
    token = catalog.reporting_token_issue(federation=federation)
    token_id = catalog.reporting_token_authenticate(federation_id=federation.pk, token=token)

    assert services.federation_moderate(federation=federation, action=Action.SUSPENDED,
                                        reason="Its server collects the clients' data.", actor=admin_user)

    catalog_page = client.get(reverse("federations:catalog")).content.decode()
    assert "Shady Detection" not in catalog_page and "Honest Detection" in catalog_page
    search = client.get(reverse("federations:catalog"), {"q": "shady"}).content.decode()
    assert "Shady Detection" not in search
    assert federation.pk not in [f.pk for f in selectors.catalog(query="detection")]

    page = client.get(federation.get_absolute_url())
    assert page.status_code == 200
    text = page.content.decode()
    assert 'data-testid="suspended"' in text and "Its server collects the clients&#x27; data." in text
    assert 'data-testid="download"' not in text
    download = client.get(reverse("federations:download", args=[federation.slug]))
    assert download.status_code == 410 and b"is suspended" in download.content
    assert Federation.objects.get(pk=federation.pk).download_count == 0

    # The ingest: a new connection is refused, a connected one's events are answered "revoked".
    assert catalog.reporting_token_authenticate(federation_id=federation.pk, token=token) is None
    with pytest.raises(catalog.TokenRevoked):
        catalog.federation_apply_event(federation_id=federation.pk, token_id=token_id, event=round_event())

    # A later action (an automatic flag on new reports) does not hide why it is suspended; its page gets no
    # live updates (suspended federations are not watched).
    services.federation_moderate(federation=federation, action=Action.FLAGGED, reason="Reported.", actor=None)
    text = client.get(federation.get_absolute_url()).content.decode()
    assert "Its server collects the clients&#x27; data." in text and "data-live-federation" not in text

    assert services.federation_moderate(federation=federation, action=Action.REINSTATED,
                                        reason="The owner fixed the server.", actor=admin_user)
    assert "Shady Detection" in client.get(reverse("federations:catalog")).content.decode()
    assert client.get(reverse("federations:download", args=[federation.slug])).status_code == 200
    assert catalog.reporting_token_authenticate(federation_id=federation.pk, token=token) == token_id
    assert catalog.federation_apply_event(federation_id=federation.pk, token_id=token_id, event=round_event())
    assert "Reinstated" in client.get(federation.get_absolute_url()).content.decode()


def test_every_action_records_who_when_and_why_once(federation, admin_user):
    with pytest.raises(ValidationError) as error:
        services.federation_moderate(federation=federation, action=Action.SUSPENDED, reason=" ", actor=admin_user)
    assert error.value.code == "reason_required"
    assert services.federation_moderate(federation=federation, action=Action.SUSPENDED, reason="Malware.",
                                        actor=admin_user)
    assert not services.federation_moderate(federation=federation, action=Action.SUSPENDED, reason="Again.",
                                            actor=admin_user)  # already suspended: nothing recorded
    [action] = ModerationAction.objects.all()
    assert (action.federation, action.action, action.reason, action.actor) == (
        federation, Action.SUSPENDED, "Malware.", admin_user)
    assert action.created_at is not None


def test_saving_a_card_never_undoes_a_suspension(federation, admin_user):
    loaded = Federation.objects.get(pk=federation.pk)  # an operator opens the card...
    services.federation_moderate(federation=federation, action=Action.SUSPENDED, reason="Malware.", actor=admin_user)
    loaded.description = "Edited meanwhile."
    loaded.save()  # ...and saves it after the suspension
    assert Federation.objects.get(pk=federation.pk).suspended_at is not None


def test_operators_suspend_and_clear_reviews_from_the_admin(admin_client, admin_user, federation):
    changelist = reverse("admin:federations_federation_changelist")
    asked = admin_client.post(changelist, {"action": "moderate_suspended", "_selected_action": [federation.pk]})
    assert asked.status_code == 200 and "shown on its page" in asked.content.decode()
    assert Federation.objects.get(pk=federation.pk).suspended_at is None  # nothing done before the reason

    admin_client.post(changelist, {"action": "moderate_suspended", "_selected_action": [federation.pk],
                                   "apply": "1", "why": "Phishing page in its description."})
    assert Federation.objects.get(pk=federation.pk).suspended_at is not None
    action = ModerationAction.objects.get()
    assert (action.actor, action.reason) == (admin_user, "Phishing page in its description.")
    suspended = admin_client.get(changelist, {"suspended_at__isempty": "0"}).content.decode()
    assert federation.name in suspended
    change = admin_client.get(reverse("admin:federations_federation_change", args=[federation.pk])).content.decode()
    assert "Phishing page in its description." in change

    Federation.objects.filter(pk=federation.pk).update(under_review_since="2026-11-01T00:00Z")
    admin_client.post(changelist, {"action": "moderate_cleared", "_selected_action": [federation.pk],
                                   "apply": "1", "why": "Reports were about the client's old version."})
    assert Federation.objects.get(pk=federation.pk).under_review_since is None
    assert ModerationAction.objects.filter(action=Action.CLEARED, actor=admin_user).exists()


def test_operators_filter_and_close_reports_from_the_admin(admin_client, admin_user, make_federation):
    federation, other = make_federation(), make_federation()
    first = services.report_file(federation=federation, reporter="a", category="bug", description="It crashes.")
    services.report_file(federation=other, reporter="b", category="malicious-node", description="It lies.")
    changelist = reverse("admin:reports_faultreport_changelist")

    by_category = admin_client.get(changelist, {"category__exact": "malicious-node"}).content.decode()
    assert other.name in by_category and federation.name not in by_category
    by_federation = admin_client.get(changelist, {"federation__id__exact": federation.pk})
    assert by_federation.status_code == 200
    assert federation.name in by_federation.content.decode() and other.name not in by_federation.content.decode()
    change = admin_client.get(reverse("admin:federations_federation_change", args=[federation.pk])).content.decode()
    assert f"?federation__id__exact={federation.pk}" in change and "1 report(s), 1 open" in change

    admin_client.post(changelist, {"action": "dismiss", "_selected_action": [first.pk], "apply": "1",
                                   "why": "Not reproducible."})
    first.refresh_from_db()
    assert (first.status, first.note, first.handled_by) == ("dismissed", "Not reproducible.", admin_user)
    pending = admin_client.get(changelist, {"status__exact": "pending"}).content.decode()
    assert other.name in pending and federation.name not in pending
    # A report is a record: dismissed with a reason, never deleted (which would bypass reports.services).
    assert 'value="delete_selected"' not in pending
    assert admin_client.get(reverse("admin:reports_faultreport_delete", args=[first.pk])).status_code == 403
