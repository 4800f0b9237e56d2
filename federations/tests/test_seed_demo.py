import ast

from django.core.management import call_command

from federations.models import ClientFile, Federation, LiveState, OnlineSpell, Status


def test_seed_demo_is_idempotent_and_extends_an_earlier_seed(db, capsys):
    call_command("seed_demo", count=30)
    first = dict(Federation.objects.values_list("slug", "name"))
    call_command("seed_demo", count=30)
    call_command("seed_demo", count=45)

    assert len(first) == 30
    assert Federation.objects.count() == 45
    # Online ones are in one spell of uptime each, however often it is seeded.
    online = set(LiveState.objects.filter(status=Status.ONLINE).values_list("federation_id", flat=True))
    assert online and sorted(OnlineSpell.objects.values_list("federation_id", flat=True)) == sorted(online)
    assert {slug: name for slug, name in Federation.objects.values_list("slug", "name") if slug in first} == first
    assert "0 added, 30 already there" in capsys.readouterr().out


def test_demo_federations_are_varied_and_searchable(db):
    call_command("seed_demo", count=60)
    assert Federation.objects.values("category").distinct().count() >= 5
    assert Federation.objects.values("application").distinct().count() >= 8
    assert set(LiveState.objects.values_list("status", flat=True)) == {Status.ONLINE, Status.OFFLINE}
    assert LiveState.objects.filter(federation__slug__startswith="demo-").count() == 60
    assert not Federation.objects.filter(search_document="").exists()


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
