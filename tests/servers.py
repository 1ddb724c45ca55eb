"""gunicorn started the way production starts it (gunicorn.conf.py from the project root), for tests and benches."""

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
def gunicorn(home: Path, *args: str):
    """A running gunicorn on the embedded default under home (yields (process, port)); stopped at the end."""
    server, port = start_gunicorn(*args, env=embedded_env(home))
    try:
        yield server, port
    finally:
        stop_gunicorn(server)
