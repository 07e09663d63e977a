"""Which of Django's session engines the settings choose, and that the SQLite default's file
sessions behave as the others: shared by every worker process, ended by logout everywhere."""

from __future__ import annotations

import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = ROOT / "dataplatform" / "settings.py"


def settings_under(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict[str, object]:
    for name in ("DATABASE_URL", "CACHE_URL", "SESSION_FILE_PATH"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(SETTINGS))


def test_sqlite_keeps_sessions_in_files_next_to_the_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    conf = settings_under(monkeypatch, DATABASE_URL=f"sqlite:///{tmp_path / 'auth.sqlite3'}")
    assert conf["SESSION_ENGINE"] == "django.contrib.sessions.backends.file"
    assert conf["SESSION_FILE_PATH"] == str(tmp_path / "sessions")
    assert (tmp_path / "sessions").is_dir()


def test_session_file_path_is_configurable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    chosen = tmp_path / "elsewhere"
    conf = settings_under(monkeypatch, DATABASE_URL=f"sqlite:///{tmp_path / 'auth.sqlite3'}",
                          SESSION_FILE_PATH=str(chosen))
    assert conf["SESSION_FILE_PATH"] == str(chosen)
    assert chosen.is_dir()


@pytest.mark.parametrize(
    ("env", "engine"),
    [
        ({"CACHE_URL": "redis://127.0.0.1:6379/0"}, "django.contrib.sessions.backends.cached_db"),
        ({"CACHE_URL": "redis://127.0.0.1:6379/0", "DATABASE_URL": "postgres://u:p@db.example/runs"},
         "django.contrib.sessions.backends.cached_db"),
        ({"DATABASE_URL": "postgres://u:p@db.example/runs"}, "django.contrib.sessions.backends.db"),
    ],
    ids=["cache", "cache-postgres", "postgres"],
)
def test_shared_setups_keep_sessions_where_every_instance_reads_them(
    env: dict[str, str], engine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    conf = settings_under(monkeypatch, **env)
    assert conf["SESSION_ENGINE"] == engine
    assert "SESSION_FILE_PATH" not in conf or engine.endswith(".file")


LOOKUP = """
import sys, django
django.setup()
from django.conf import settings
from django.contrib.sessions.backends.file import SessionStore
settings.SESSION_FILE_PATH = sys.argv[1]
print(SessionStore(sys.argv[2]).load().get("_auth_user_id", "none"))
"""


def lookup_elsewhere(key: str) -> str:
    """The user id another process (another gunicorn worker) reads for a session key."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "dataplatform.settings"}
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", LOOKUP, settings.SESSION_FILE_PATH, key],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=60, check=True,
    )
    return result.stdout.strip()


@pytest.mark.django_db
def test_a_file_session_is_read_by_another_process_and_ended_there_by_logout(web_pipeline) -> None:  # type: ignore[no-untyped-def]
    assert settings.SESSION_ENGINE == "django.contrib.sessions.backends.file"
    user = User.objects.create_user("fiona", password="pw-fiona-123456")
    client = Client()
    client.force_login(user)
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert (Path(settings.SESSION_FILE_PATH) / f"sessionid{key}").is_file()
    assert lookup_elsewhere(key) == str(user.pk)
    client.post("/accounts/logout/")
    assert not (Path(settings.SESSION_FILE_PATH) / f"sessionid{key}").exists()
    assert lookup_elsewhere(key) == "none"
