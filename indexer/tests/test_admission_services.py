import pytest
from django.core.exceptions import ValidationError

from federations.models import Federation
from federations.services import reporting_token_authenticate
from indexer import services
from indexer.models import Candidacy, Decision
from indexer.tests.conftest import corpus_file


def submit(card, content, **extra):
    return services.candidacy_submit(card=card, num_rounds=20, min_clients=2, client_content=content,
                                     client_filename="Client.py", **extra)


def validated(candidacy):
    services.candidacy_validate(candidacy_id=candidacy.pk)
    candidacy.refresh_from_db()
    return candidacy


def test_a_clean_client_awaits_review(db, card):
    candidacy = validated(submit(card, corpus_file("clean_legacy.txt")))
    assert (candidacy.status, candidacy.verdict, candidacy.finding_count) == ("awaiting_review", "clean", 0)
    assert candidacy.report["verdict"] == "clean"


def test_a_client_with_findings_awaits_review_with_them(db, card):
    candidacy = validated(submit(card, corpus_file("os_system.txt")))
    assert (candidacy.status, candidacy.verdict) == ("awaiting_review", "findings")
    assert candidacy.finding_count >= 1
    assert "F2F-EXEC-001" in {finding["rule"] for finding in candidacy.report["findings"]}


def test_an_invalid_client_is_rejected_with_reasons(db, card):
    candidacy = validated(submit(card, corpus_file("syntax_error.txt")))
    assert (candidacy.status, candidacy.verdict) == ("rejected", "invalid")
    assert candidacy.report["errors"][0]["rule"] == "F2F-FILE-004"


def test_validation_is_idempotent(db, card):
    candidacy = validated(submit(card, corpus_file("clean_legacy.txt")))
    stamp = candidacy.updated_at
    assert validated(candidacy).updated_at == stamp  # done already: nothing runs again


def test_a_validation_left_mid_way_by_a_lost_worker_is_done_again(db, card):
    candidacy = submit(card, corpus_file("clean_legacy.txt"))
    Candidacy.objects.filter(pk=candidacy.pk).update(status="validating")
    assert validated(candidacy).status == "awaiting_review"


def test_an_invalid_card_writes_nothing(db, card):
    with pytest.raises(ValidationError):
        submit({**card, "server_address": "nowhere"}, corpus_file("clean_legacy.txt"))
    assert not Candidacy.objects.exists()


def test_approval_lists_the_federation_with_its_client_and_issues_a_token_once(db, card, admin_user):
    candidacy = validated(submit(card, corpus_file("clean_legacy.txt")))
    services.candidacy_approve(candidacy_id=candidacy.pk, actor=admin_user, reason="Looks right.")
    candidacy.refresh_from_db()

    federation = candidacy.federation
    assert candidacy.status == "approved" and federation.name == card["name"]
    assert federation.client_file.sha256 == candidacy.client_sha256
    assert (federation.live.total_rounds, federation.live.min_clients) == (20, 2)
    token = services.candidacy_reveal_token(candidacy_id=candidacy.pk)
    assert reporting_token_authenticate(federation_id=federation.pk, token=token) is not None
    assert services.candidacy_reveal_token(candidacy_id=candidacy.pk) is None  # shown once
    decision = Decision.objects.get()
    assert (decision.action, decision.actor, decision.reason) == ("approved", admin_user, "Looks right.")


def test_declining_records_who_when_and_why(db, card, admin_user):
    candidacy = validated(submit(card, corpus_file("os_system.txt")))
    services.candidacy_decline(candidacy_id=candidacy.pk, actor=admin_user, reason="Runs shell commands.")
    candidacy.refresh_from_db()
    assert candidacy.status == "declined" and candidacy.federation is None
    assert candidacy.latest_decision().reason == "Runs shell commands."
    assert not Federation.objects.exists()


@pytest.mark.parametrize("reason", ["", "   "])
def test_a_decision_needs_a_reason(db, card, admin_user, reason):
    candidacy = validated(submit(card, corpus_file("clean_legacy.txt")))
    with pytest.raises(ValidationError) as error:
        services.candidacy_approve(candidacy_id=candidacy.pk, actor=admin_user, reason=reason)
    assert error.value.code == "reason_required"
    assert not Federation.objects.exists() and not Decision.objects.exists()


def test_only_candidacies_awaiting_review_can_be_decided(db, card, admin_user):
    rejected = validated(submit(card, corpus_file("syntax_error.txt")))
    pending = submit(card, corpus_file("clean_legacy.txt"))
    for candidacy in (rejected, pending):
        with pytest.raises(ValidationError) as error:
            services.candidacy_approve(candidacy_id=candidacy.pk, actor=admin_user, reason="ok")
        assert error.value.code == "not_awaiting_review"
    approved = validated(submit(card, corpus_file("clean_legacy.txt")))
    services.candidacy_approve(candidacy_id=approved.pk, actor=admin_user, reason="ok")
    with pytest.raises(ValidationError):
        services.candidacy_decline(candidacy_id=approved.pk, actor=admin_user, reason="changed my mind")
    assert Federation.objects.count() == 1


def test_stalled_validations_are_queued_again(db, card, monkeypatch):
    from indexer import tasks

    queued = []
    monkeypatch.setattr(tasks.validate_candidacy, "delay", queued.append)
    old, fresh = submit(card, b"x"), submit(card, b"y")
    Candidacy.objects.filter(pk=old.pk).update(updated_at="2020-01-01T00:00:00Z")
    assert services.candidacies_requeue_stalled(older_than_seconds=60) == [old.pk]
    assert queued == [old.pk]
