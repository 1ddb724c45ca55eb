"""The embedded default's home folder (``THYROWEB_HOME``): where it is, and making it ready before a process starts.

``thyroweb/settings.py`` only reads: the paths below and, when ``SECRET_KEY`` is not set, the key kept in
``THYROWEB_HOME/secret_key``. The entry points that start a process (``manage.py``, ``thyroweb/wsgi.py``,
``thyroweb/launch.py``) call :func:`prepare_home` first: it creates the folder (the SQLite file lives
there), writes a secret key once (so sessions survive a restart) and, for ``make start``, the embedded
broker's folders. Importing the settings therefore creates and writes nothing. No Django import here.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
_TRUE = {"1", "true", "yes", "on"}


def home_dir() -> Path:
    """THYROWEB_HOME, or ``var/`` beside the code."""
    return Path(os.environ.get("THYROWEB_HOME", BASE_DIR / "var")).resolve()


def secret_key_file() -> Path:
    return home_dir() / "secret_key"


def broker_dir() -> Path:
    """The embedded broker's folders (kombu's filesystem transport) live here."""
    return home_dir() / "broker"


def embedded_broker_wanted() -> bool:
    """``make start`` asks for the embedded broker; a configured Redis broker wins over it."""
    return not os.environ.get("CELERY_BROKER_URL") and os.environ.get("THYROWEB_EMBEDDED_BROKER", "").lower() in _TRUE


def read_secret_key() -> str | None:
    """The kept secret key, or None when none was written yet."""
    try:
        return secret_key_file().read_text().strip() or None
    except OSError:
        return None


def prepare_home() -> None:
    """Create THYROWEB_HOME, the secret key file (unless SECRET_KEY is set) and the embedded broker's
    folders (when asked for); idempotent, and a no-op for what exists."""
    home = home_dir()
    home.mkdir(parents=True, exist_ok=True)
    if not os.environ.get("SECRET_KEY") and read_secret_key() is None:
        key_file = secret_key_file()
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    if embedded_broker_wanted():
        for folder in ("queue", "control"):
            (broker_dir() / folder).mkdir(parents=True, exist_ok=True)
