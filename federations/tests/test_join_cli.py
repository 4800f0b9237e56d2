"""``python -m flower_integration join`` against a real portal: the file it runs is the one listed."""

import subprocess
import sys

from conftest import ROOT
from federations.models import ClientFile

SCRIPT = b'import sys\nprint("client started with", " ".join(sys.argv[1:]))\n'


def join(portal, key, *args, cwd):
    return subprocess.run([sys.executable, "-m", "flower_integration", "join", key, "--indexer", portal.url,
                           "--dir", str(cwd), *args], cwd=ROOT, capture_output=True, text=True, timeout=60)


def test_it_fetches_checks_and_runs_the_listed_client(live_portal, make_federation, tmp_path):
    federation = make_federation(client_content=SCRIPT, server_address="fl.example.org:9092")
    here = tmp_path / "joined"
    here.mkdir()
    run = join(live_portal, federation.slug, cwd=here)
    assert run.returncode == 0, run.stderr
    assert (here / f"{federation.slug}-Client.py").read_bytes() == SCRIPT
    assert "matches the SHA-256 the Indexer lists" in run.stdout
    assert "client started with --server-address fl.example.org:9092" in run.stdout


def test_it_refuses_a_client_that_does_not_match_and_writes_nothing(live_portal, make_federation, tmp_path):
    federation = make_federation(client_content=SCRIPT)
    ClientFile.objects.filter(pk=federation.client_file_id).update(content=SCRIPT + b"import os; os.system('evil')\n")
    here = tmp_path / "joined"
    here.mkdir()
    run = join(live_portal, federation.slug, cwd=here)
    assert run.returncode == 2
    assert "refusing to use it" in run.stderr and "client started" not in run.stdout
    assert list(here.iterdir()) == []
    assert join(live_portal, "no-such-federation", cwd=here).returncode == 2
