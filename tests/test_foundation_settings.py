"""Settings come from the environment: SQLite + eager Celery by default, PostgreSQL + Redis by variables."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parent.parent
PROBE = (
    "import json, django; from thyroweb.home import prepare_home; prepare_home(); django.setup(); "
    "from django.conf import settings as s; "
    "print(json.dumps({'engine': s.DATABASES['default']['ENGINE'], 'name': str(s.DATABASES['default']['NAME']), "
    "'eager': s.CELERY_TASK_ALWAYS_EAGER, 'broker': s.CELERY_BROKER_URL, 'debug': s.DEBUG, "
    "'hosts': s.ALLOWED_HOSTS, 'secret_len': len(s.SECRET_KEY)}))"
)
CONFIG_VARS = ("DATABASE_URL", "CELERY_BROKER_URL", "SECRET_KEY", "DEBUG", "ALLOWED_HOSTS", "SECURE_SSL_REDIRECT")


def run_settings(tmp_path, **env_vars) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in CONFIG_VARS}
    env.update(DJANGO_SETTINGS_MODULE="thyroweb.settings", THYROWEB_HOME=str(tmp_path / "home"), **env_vars)
    return subprocess.run(
        [sys.executable, "-c", PROBE], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=60
    )


def settings_in(tmp_path, **env_vars) -> dict:
    done = run_settings(tmp_path, **env_vars)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_embedded_default_is_sqlite_with_eager_tasks_and_generated_secret(tmp_path):
    probe = settings_in(tmp_path)
    assert probe["engine"] == "django.db.backends.sqlite3"
    assert probe["name"] == str(tmp_path / "home" / "db.sqlite3")
    assert probe["eager"] is True and probe["broker"] == ""
    assert probe["debug"] is False
    assert probe["hosts"] == ["127.0.0.1", "localhost"]
    assert probe["secret_len"] >= 50
    # The generated secret is kept, so sessions survive a restart.
    assert settings_in(tmp_path)["secret_len"] == probe["secret_len"]
    assert (tmp_path / "home" / "secret_key").stat().st_mode & 0o077 == 0


def test_importing_the_settings_creates_and_writes_nothing(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in CONFIG_VARS}
    env.update(THYROWEB_HOME=str(tmp_path / "home"), THYROWEB_EMBEDDED_BROKER="1")
    probe = "import thyroweb.settings as s; print(s.DATABASES['default']['ENGINE'], s.CELERY_BROKER_URL)"
    done = subprocess.run([sys.executable, "-c", probe], cwd=BASE_DIR, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["django.db.backends.sqlite3", "filesystem://localhost//"]
    assert not (tmp_path / "home").exists()  # no folder, no secret key file, no broker folders


def test_the_entry_points_prepare_the_home_once(tmp_path, monkeypatch):
    from thyroweb.home import prepare_home

    monkeypatch.setenv("THYROWEB_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("THYROWEB_EMBEDDED_BROKER", "1")
    for name in ("SECRET_KEY", "CELERY_BROKER_URL"):
        monkeypatch.delenv(name, raising=False)
    prepare_home()
    key = (tmp_path / "home" / "secret_key").read_text()
    assert (tmp_path / "home" / "broker" / "queue").is_dir() and (tmp_path / "home" / "broker" / "control").is_dir()
    prepare_home()
    assert (tmp_path / "home" / "secret_key").read_text() == key  # kept, not written again


def test_database_url_selects_postgresql_and_broker_url_disables_eager_mode(tmp_path):
    probe = settings_in(
        tmp_path,
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/thyroweb",
        CELERY_BROKER_URL="redis://127.0.0.1:6379/0",
        SECRET_KEY="x" * 60,
        ALLOWED_HOSTS="thyroweb.example.org",
    )
    assert probe["engine"] == "django.db.backends.postgresql"
    assert probe["name"] == "thyroweb"
    assert probe["eager"] is False and probe["broker"] == "redis://127.0.0.1:6379/0"
    assert probe["hosts"] == ["thyroweb.example.org"]


def test_sqlite_database_url_is_honoured(tmp_path):
    probe = settings_in(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path}/other.db")
    assert probe["engine"] == "django.db.backends.sqlite3"
    assert probe["name"] == f"{tmp_path}/other.db"


def test_postgresql_without_secret_key_fails_loudly(tmp_path):
    done = run_settings(tmp_path, DATABASE_URL="postgres://postgres@127.0.0.1:5432/thyroweb")
    assert done.returncode != 0
    assert "SECRET_KEY must be set" in done.stderr


@pytest.mark.parametrize("value", ["maybe", "2"])
def test_a_bad_boolean_variable_fails_loudly(tmp_path, value):
    done = run_settings(tmp_path, DEBUG=value)
    assert done.returncode != 0
    assert f"DEBUG={value!r} is not a boolean" in done.stderr


def test_default_units_are_the_french_convention_and_a_bad_unit_fails_loudly(tmp_path):
    from mlcore.units import parse_site_units

    assert parse_site_units("TSH=mU/L,FT4=pmol/L,FT3=pmol/L") == {"TSH": "m[IU]/L", "FT4": "pmol/L", "FT3": "pmol/L"}
    assert parse_site_units("TSH=uIU/mL, TT4=µg/dL") == {"TSH": "u[IU]/mL", "TT4": "ug/dL"}
    done = run_settings(tmp_path, THYROWEB_DEFAULT_UNITS="TT4=mg")
    assert done.returncode != 0
    assert "THYROWEB_DEFAULT_UNITS='TT4=mg': TT4: unit 'mg' is not one of nmol/L" in done.stderr
    done = run_settings(tmp_path, THYROWEB_DEFAULT_UNITS="XYZ=mg")
    assert done.returncode != 0 and "is not FIELD=unit" in done.stderr
