import pytest
from django.core.exceptions import ImproperlyConfigured

from f2f_site.settings.env import database_from_url, env_bool, env_int, env_list, env_networks, env_str


def test_unset_variables_take_their_default(monkeypatch):
    monkeypatch.delenv("F2F_X", raising=False)
    assert env_str("F2F_X", default="d") == "d"
    assert env_bool("F2F_X", True) is True
    assert env_int("F2F_X", 7) == 7
    assert env_list("F2F_X", ["a"]) == ["a"]


def test_values_are_parsed(monkeypatch):
    monkeypatch.setenv("F2F_X", " a, b ,,c")
    assert env_list("F2F_X", []) == ["a", "b", "c"]
    monkeypatch.setenv("F2F_X", "off")
    assert env_bool("F2F_X", True) is False
    monkeypatch.setenv("F2F_X", "42")
    assert env_int("F2F_X", 0, minimum=1) == 42
    monkeypatch.setenv("F2F_X", "10.0.0.1, 172.16.0.0/12, ::1")
    assert [str(network) for network in env_networks("F2F_X", [])] == ["10.0.0.1/32", "172.16.0.0/12", "::1/128"]


@pytest.mark.parametrize(
    ("reader", "raw"),
    [(lambda: env_bool("F2F_X", False), "maybe"), (lambda: env_int("F2F_X", 1), "ten"),
     (lambda: env_int("F2F_X", 1, minimum=1), "0"), (lambda: env_str("F2F_X"), ""),
     (lambda: env_networks("F2F_X", []), "10.0.0.1, proxy.internal"), (lambda: env_networks("F2F_X", []), "10.0.0.0/33")],
)
def test_bad_values_fail_loudly_naming_the_variable(monkeypatch, reader, raw):
    monkeypatch.setenv("F2F_X", raw)
    with pytest.raises(ImproperlyConfigured, match="F2F_X"):
        reader()


def test_secrets_can_come_from_a_file(monkeypatch, tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("s3cret\n")
    monkeypatch.delenv("F2F_X", raising=False)
    monkeypatch.setenv("F2F_X_FILE", str(secret))
    assert env_str("F2F_X") == "s3cret"
    monkeypatch.setenv("F2F_X", "both")
    with pytest.raises(ImproperlyConfigured, match="not both"):
        env_str("F2F_X")


def test_database_urls():
    postgres = database_from_url("postgres://fl:p%40ss@db.example.org:5433/f2f?sslmode=require")
    assert postgres["ENGINE"] == "django.db.backends.postgresql"
    assert (postgres["NAME"], postgres["USER"], postgres["PASSWORD"], postgres["HOST"], postgres["PORT"]) == (
        "f2f", "fl", "p@ss", "db.example.org", "5433"
    )
    assert postgres["OPTIONS"] == {"sslmode": "require"}
    assert database_from_url("sqlite:///tmp/f2f.sqlite3") == {
        "ENGINE": "django.db.backends.sqlite3", "NAME": "/tmp/f2f.sqlite3", "CONN_MAX_AGE": 60,
        "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20, "init_command": "PRAGMA journal_mode=WAL;"}
    }
    for bad in ["mysql://x/y", "postgres://host/", "sqlite://"]:
        with pytest.raises(ImproperlyConfigured, match="DATABASE_URL"):
            database_from_url(bad)
