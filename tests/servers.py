"""gunicorn started the way production starts it (gunicorn.conf.py from the project root), for tests."""

import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


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


@contextlib.contextmanager
def gunicorn(home: Path, *args: str):
    """A running gunicorn on a free loopback port (yields (process, port)); stopped at the end."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "thyroweb.wsgi", "--bind", f"127.0.0.1:{port}", *args],
        cwd=ROOT,
        env=embedded_env(home),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("gunicorn did not start") from None
                time.sleep(0.2)
        yield server, port
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
