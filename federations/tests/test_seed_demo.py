import ast

from django.core.management import call_command

from federations import selectors
from federations.models import ClientFile, Federation, LiveState, OnlineSpell, Phase, RoundRecord, Status, TrainingRun


def test_seed_demo_is_idempotent_and_extends_an_earlier_seed(db, capsys):
    call_command("seed_demo", count=30)
    first = dict(Federation.objects.values_list("slug", "name"))
    history = (RoundRecord.objects.count(), TrainingRun.objects.count(), OnlineSpell.objects.count())
    call_command("seed_demo", count=30)
    assert (RoundRecord.objects.count(), TrainingRun.objects.count(), OnlineSpell.objects.count()) == history
    call_command("seed_demo", count=45)

    assert len(first) == 30 and all(history)
    assert Federation.objects.count() == 45
    assert {slug: name for slug, name in Federation.objects.values_list("slug", "name") if slug in first} == first
    assert "0 added, 30 already there" in capsys.readouterr().out


def test_demo_federations_are_varied_and_searchable(db):
    call_command("seed_demo", count=60)
    assert Federation.objects.values("category").distinct().count() >= 5
    assert Federation.objects.values("application").distinct().count() >= 8
    assert LiveState.objects.filter(federation__slug__startswith="demo-").count() == 60
    assert not Federation.objects.filter(search_document="").exists()


def test_demo_federations_are_history_as_a_real_server_would_have_left_it(db, client):
    """Nothing reports for them, so none is online; each has the curves, runs and uptime its reports made."""
    call_command("seed_demo", count=80)
    states = LiveState.objects.select_related("federation")
    assert set(states.values_list("status", flat=True)) == {Status.OFFLINE}
    assert {Phase.FINISHED, Phase.TRAINING, Phase.WAITING} == set(states.values_list("phase", flat=True))
    assert not OnlineSpell.objects.filter(ended__isnull=True).exists()
    earlier_runs = 0
    for live in states:
        rounds = RoundRecord.objects.filter(federation_id=live.pk)
        current = rounds.filter(run=live.current_run)
        assert (rounds.count(), current.count()) == (live.completed_rounds, live.run_rounds)
        if live.phase == Phase.FINISHED:
            assert live.run_rounds == live.total_rounds == live.current_round
            assert list(current.order_by("number").values_list("number", flat=True)) == list(
                range(1, live.total_rounds + 1))
        if live.last_update is None:
            assert not rounds.exists() and not live.federation.online_spells.exists()
        for run in TrainingRun.objects.filter(federation_id=live.pk):
            stored = rounds.filter(run=run.name)
            assert run.rounds_completed == run.rounds_stored == stored.count()
            assert run.last_round_at == max(stored.values_list("finished_at", flat=True)) <= live.last_update
            first = stored.order_by("number").first()
            # Its first round began after the run started, which was after the federation was listed.
            assert live.federation.created_at.timestamp() * 1000 < run.started <= (
                first.finished_at.timestamp() - first.duration) * 1000
            if run.name == live.current_run:
                assert run.started == live.run_started
        for spell in live.federation.online_spells.all():
            assert live.federation.created_at < spell.started < spell.ended <= live.last_update
        earlier_runs += TrainingRun.objects.filter(federation_id=live.pk).exclude(name=live.current_run).count()
    assert earlier_runs  # some tried once before
    # A finished one's page draws its curves, falling loss and rising accuracy.
    finished = states.filter(phase=Phase.FINISHED).order_by("-total_rounds").first()
    history = selectors.round_history(finished)
    assert len(history) == finished.total_rounds
    assert history[-1]["loss"] < history[0]["loss"] and history[-1]["metrics"]["accuracy"] > history[0]["metrics"][
        "accuracy"]
    page = client.get(finished.federation.get_absolute_url()).content.decode()
    assert '<span data-field="phase">Finished</span>' in page and '"round": 1' in page


def test_every_demo_client_file_is_a_flower_client_with_an_entry_point(db):
    call_command("seed_demo", count=60)
    for client_file in ClientFile.objects.all():
        tree = ast.parse(bytes(client_file.content).decode("utf-8"))
        imports = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        bases = {ast.unparse(base) for node in ast.walk(tree) if isinstance(node, ast.ClassDef) for base in node.bases}
        calls = {ast.unparse(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
        assert "flwr" in imports
        assert "fl.client.NumPyClient" in bases
        assert "fl.client.start_client" in calls and "fl.client.ClientApp" in calls
