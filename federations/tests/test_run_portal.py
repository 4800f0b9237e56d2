"""run_portal --prepare: what scripts/run does before serving, in the serving process."""

import os
import subprocess

import pytest
from django.test import override_settings

from conftest import ROOT, free_port
from federations.management.commands import run_portal


@pytest.fixture
def static_sources(tmp_path):
    """A static source directory of its own, collected with the production storage into a var dir of its own."""
    sources = tmp_path / "static-src"
    (sources / "site").mkdir(parents=True)
    (sources / "site" / "site.css").write_text("body { color: black; }\n")
    (sources / "site" / "site.js").write_text("console.log('f2f');\n")
    var_dir = tmp_path / "var"
    var_dir.mkdir()
    with override_settings(
        VAR_DIR=var_dir,
        STATIC_ROOT=var_dir / "static",
        STATICFILES_DIRS=[sources],
        STATICFILES_FINDERS=["django.contrib.staticfiles.finders.FileSystemFinder"],
        STORAGES={
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
            "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
        },
    ):
        yield sources


@pytest.fixture
def collections(monkeypatch):
    """Every collectstatic that collect_static runs, by its arguments."""
    runs = []
    call_command = run_portal.call_command

    def counted(name, *args, **options):
        runs.append(name)
        return call_command(name, *args, **options)

    monkeypatch.setattr(run_portal, "call_command", counted)
    return runs


def manifest(static_root) -> str:
    return (static_root / "staticfiles.json").read_text()


def test_it_collects_static_files_into_an_empty_var_dir(static_sources, collections, settings):
    assert run_portal.collect_static() is True
    assert collections == ["collectstatic"]
    assert "site/site.css" in manifest(settings.STATIC_ROOT)
    assert (settings.VAR_DIR / run_portal.STATIC_STAMP).is_file()


def test_it_skips_collectstatic_when_the_sources_are_unchanged(static_sources, collections):
    run_portal.collect_static()
    assert run_portal.collect_static() is False
    assert collections == ["collectstatic"]


def test_it_collects_again_when_a_static_file_changes(static_sources, collections, settings):
    run_portal.collect_static()
    before = manifest(settings.STATIC_ROOT)
    (static_sources / "site" / "site.css").write_text("body { color: navy; }\n")

    assert run_portal.collect_static() is True
    assert manifest(settings.STATIC_ROOT) != before  # the new content has a new hashed name
    assert run_portal.collect_static() is False


def test_it_collects_again_when_a_file_is_only_touched(static_sources, collections):
    run_portal.collect_static()
    css = static_sources / "site" / "site.css"
    stat = css.stat()
    os.utime(css, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert run_portal.collect_static() is True


def test_it_collects_again_when_a_static_file_is_added(static_sources, collections, settings):
    run_portal.collect_static()
    (static_sources / "site" / "new.js").write_text("// new\n")
    assert run_portal.collect_static() is True
    assert "site/new.js" in manifest(settings.STATIC_ROOT)


def test_it_collects_again_when_the_collected_files_are_gone(static_sources, collections, settings):
    run_portal.collect_static()
    for path in sorted(settings.STATIC_ROOT.rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()
    settings.STATIC_ROOT.rmdir()
    assert run_portal.collect_static() is True
    assert "site/site.css" in manifest(settings.STATIC_ROOT)


def test_a_failed_collection_is_done_again_at_the_next_start(static_sources, settings):
    run_portal.collect_static()
    (static_sources / "site" / "site.css").write_text("body { background: url('missing.png'); }\n")
    with pytest.raises(ValueError, match="missing.png"):
        run_portal.collect_static()
    assert not (settings.VAR_DIR / run_portal.STATIC_STAMP).exists()

    (static_sources / "site" / "site.css").write_text("body { color: navy; }\n")
    assert run_portal.collect_static() is True


def test_the_run_command_stops_with_the_error_of_a_failing_step(tmp_path):
    env = {key: value for key, value in os.environ.items() if key not in {"REDIS_URL", "DJANGO_SETTINGS_MODULE"}}
    env.update(F2F_VAR_DIR=str(tmp_path / "var"), DATABASE_URL=f"sqlite:///{tmp_path}/no-such-dir/f2f.sqlite3")
    run = subprocess.run([str(ROOT / "scripts/run"), "--port", str(free_port())], cwd=ROOT, env=env, check=False,
                         capture_output=True, text=True, timeout=120)

    assert run.returncode != 0
    assert "The portal did not start: migrate failed." in run.stderr
    assert "unable to open database file" in run.stderr
    assert "F2F portal on" not in run.stdout
    assert not (tmp_path / "var" / "static").exists()  # nothing after the failing step ran
