"""gunicorn started the way production starts it (gunicorn.conf.py from the project root), for tests and benches."""

import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct-horse-battery-staple-42"  # every test user's
PLAIN_STATIC = "django.contrib.staticfiles.storage.StaticFilesStorage"  # pages without a collectstatic manifest


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def embedded_env(home: Path) -> dict:
    """A minimal environment: embedded default (SQLite under home), no broker."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "THYROWEB_HOME": str(home / "home"),
        "SECRET_KEY": "gunicorn-test-not-secret",
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }


def start_gunicorn(*args: str, env: dict, output=subprocess.DEVNULL) -> tuple[subprocess.Popen, int]:
    """gunicorn on a free loopback port, once it accepts connections: (process, port)."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "thyroweb.wsgi", "--bind", f"127.0.0.1:{port}", *args],
        cwd=ROOT,
        env=env,
        stdout=output,
        stderr=output,
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server, port
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                stop_gunicorn(server)
                raise RuntimeError("gunicorn did not start") from None
            time.sleep(0.2)


def stop_gunicorn(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()


@contextlib.contextmanager
def gunicorn(home: Path, *args: str, env: dict | None = None):
    """A running gunicorn on the embedded default under home (yields (process, port)); stopped at the end."""
    server, port = start_gunicorn(*args, env={**embedded_env(home), **(env or {})})
    try:
        yield server, port
    finally:
        stop_gunicorn(server)


def manage(home: Path, *args: str, env: dict | None = None) -> str:
    """Run manage.py on the embedded default under home; its standard output."""
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**embedded_env(home), **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        raise RuntimeError(f"manage.py {args[0]} failed:\n{done.stderr[-3000:]}")
    return done.stdout


_CLINICIAN_WITH_TOKEN = (
    "from django.contrib.auth.models import Group, User; from rest_framework.authtoken.models import Token; "
    "u = User.objects.create_user('{name}', password='{password}'); "
    "u.groups.add(Group.objects.get(name='clinician')); print(Token.objects.create(user=u).key)"
)


def prepared_home(home: Path, env: dict | None = None) -> str:
    """An embedded-default home, migrated and set up (the shipped model active, no data), with a clinician
    ``clin`` and its API token: returns the token key."""
    manage(home, "migrate", "--no-input", "-v0", env=env)
    manage(home, "setup_thyroweb", "--no-demo-users", env={"THYROWEB_DATA_DIR": str(home / "no-data"), **(env or {})})
    printed = manage(home, "shell", "-c", _CLINICIAN_WITH_TOKEN.format(name="clin", password=PASSWORD), env=env)
    return printed.strip().splitlines()[-1]
