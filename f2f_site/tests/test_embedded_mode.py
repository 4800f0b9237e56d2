"""The README's run command on a machine with neither PostgreSQL nor Redis configured."""

import os
import subprocess
import time
import urllib.request

import socketio

from conftest import ROOT, free_port, stop, wait_for_http


def manage(env, *args) -> str:
    return subprocess.run([str(ROOT / ".venv/bin/python"), "manage.py", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=True).stdout


def test_the_run_command_serves_the_whole_portal_embedded(tmp_path):
    port = free_port()
    env = {key: value for key, value in os.environ.items()
           if key not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}}
    env.update(F2F_VAR_DIR=str(tmp_path / "var"), F2F_HEARTBEAT_INTERVAL="1", PYTHONUNBUFFERED="1")
    log = tmp_path / "run.log"
    process = subprocess.Popen([str(ROOT / "scripts/run"), "--port", str(port)], cwd=ROOT, env=env,
                               stdout=log.open("w"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(url + "/", process, timeout=120)
        output = log.read_text()
        assert "Operator login: operator / " in output
        assert f"F2F portal on {url}/" in output
        assert "No hostname was supplied" not in output and "Traceback" not in output  # a quiet first start
        assert (tmp_path / "var" / "f2f.sqlite3").exists()

        catalog = urllib.request.urlopen(url + "/").read().decode()
        assert catalog.count("<tr data-federation") == 25  # demo data, first page
        css = urllib.request.urlopen(url + "/static/vendor/bootstrap/css/bootstrap.min.css")
        assert css.status == 200  # vendored, served by whitenoise

        federation_id, token = manage(env, "shell", "-c", (
            "from federations.models import Federation; from federations.services import reporting_token_issue;"
            "f = Federation.objects.order_by('id').first(); print(f.pk, reporting_token_issue(federation=f))"
        )).strip().splitlines()[-1].split()
        sio = socketio.Client()
        sio.connect(url, auth={"federation": int(federation_id), "token": token}, transports=["websocket"],
                    wait_timeout=10)
        try:
            assert sio.call("health", timeout=10)["ok"] is True
        finally:
            sio.disconnect()

        # Heartbeat: the embedded beat and worker turn a silent server offline.
        slug = manage(env, "shell", "-c", (
            "from datetime import timedelta; from django.utils import timezone;"
            "from federations.models import Federation, LiveState;"
            "f = Federation.objects.order_by('id').first();"
            "LiveState.objects.filter(pk=f.pk).update(status='online', offline_after=timezone.now() - timedelta(seconds=1));"
            "print(f.slug)"
        )).strip().splitlines()[-1]
        deadline = time.monotonic() + 20
        status = None
        while time.monotonic() < deadline and status != "offline":
            time.sleep(0.5)
            status = manage(env, "shell", "-c", (
                f"from federations.models import LiveState; print(LiveState.objects.get(federation__slug='{slug}').status)"
            )).strip().splitlines()[-1]
        assert status == "offline", log.read_text()
    finally:
        stop(process)
