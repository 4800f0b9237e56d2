"""Settings as a deployment meets them: each bad value stops the start, production passes Django's checks."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run(command, env_overrides, tmp_path):
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "F2F_"))}
    env.update({"F2F_VAR_DIR": str(tmp_path), **env_overrides})
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(("variable", "raw"), [
    ("F2F_INGEST_EVENTS", "0"), ("F2F_INGEST_EVENTS", "many"), ("F2F_INGEST_EVENTS_SECONDS", "0"),
    ("F2F_INGEST_AUTH_FAILURES", "0"), ("F2F_INGEST_AUTH_FAILURES_SECONDS", "1m"),
    ("F2F_TRUSTED_PROXIES", "load-balancer"), ("F2F_RUNS_KEPT", "0"), ("F2F_ROUNDS_KEPT", "-5"),
])
def test_a_bad_ingest_setting_stops_the_portal_naming_it(tmp_path, variable, raw):
    result = run([sys.executable, "-c", "import f2f_site.settings.base"], {variable: raw}, tmp_path)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and variable in result.stderr


def test_the_production_settings_pass_the_deploy_checks_at_their_defaults(tmp_path):
    result = run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        {"DJANGO_SETTINGS_MODULE": "f2f_site.settings.production", "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
         "DATABASE_URL": "postgres://f2f@db.invalid:5432/f2f", "REDIS_URL": "redis://redis.invalid:6379/0"},
        tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout
