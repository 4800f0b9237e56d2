"""The documented demo: `manage.py demo_federation` runs a real Keras federation that reports here."""

import os
import subprocess
import sys

from conftest import ROOT, database_url, free_port
from federations.models import Federation, RoundRecord


def test_the_demo_federation_trains_and_reports_to_the_portal(live_portal):
    env = {**os.environ, "DATABASE_URL": database_url(), "DJANGO_SETTINGS_MODULE": "f2f_site.settings.test",
           "FLWR_TELEMETRY_ENABLED": "0", "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run(
        [sys.executable, "manage.py", "demo_federation", "--rounds", "2", "--clients", "2",
         "--port", str(free_port()), "--indexer", live_portal.url],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    federation = Federation.objects.get(name="Live demo: handwritten digits")
    assert f"Watch it at {live_portal.url}{federation.get_absolute_url()}" in result.stdout
    assert federation.live.completed_rounds == 2 and federation.live.phase == "finished"
    assert RoundRecord.objects.filter(federation=federation, metrics__has_key="accuracy").count() == 2
    # What the newcomer reads: the children's lines under their names, no start-up notice from any process.
    assert "  server | digits federation finished 2 of 2 rounds" in result.stdout
    for noise in ("absl::InitializeLog", "cuda", "DEPRECATED FEATURE", "To enable the following instructions",
                  "Traceback"):
        assert noise not in result.stdout + result.stderr, noise
    assert federation.client_file.sha256 and b"ClientApp" in bytes(federation.client_file.content)
