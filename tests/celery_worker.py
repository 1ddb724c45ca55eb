"""A real Celery worker in a subprocess, against Redis and the test database (PostgreSQL)."""

import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from thyroweb.celery import app as celery_app

BASE_DIR = Path(__file__).resolve().parent.parent


def worker_support_missing() -> str | None:
    if not settings.CELERY_BROKER_URL:
        return "CELERY_BROKER_URL is not set (tasks run eagerly)"
    if connection.vendor != "postgresql":
        return "a worker process needs the PostgreSQL test database"
    return None


def _test_database_url() -> str:
    db = connection.settings_dict
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


class WorkerProcess:
    """One `celery worker --pool solo` process (or another celery command: ``argv``); `kill()` sends SIGKILL
    as a crash would."""

    def __init__(self, name: str, log_path: Path, env: dict[str, str] | None = None, argv: list[str] | None = None):
        self.name = name
        self.log_path = log_path
        # The worker sees the test database and the test's media folder (uploads, results, model artefacts).
        env = {
            **os.environ,
            "DATABASE_URL": _test_database_url(),
            "MEDIA_ROOT": str(settings.MEDIA_ROOT),
            "THYROWEB_DATA_DIR": str(settings.THYROWEB_DATA_DIR),
            **(env or {}),
        }
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        self._log = open(log_path, "wb")
        argv = argv or ["worker", "--pool", "solo", "-n", name, "--without-mingle", "--without-gossip", "-l", "info"]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "thyroweb", *argv],
            cwd=BASE_DIR,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 60) -> None:
        """Until the worker answers a ping, or says it is ready (a solo worker that took a long task at once
        answers no ping until the task ends)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited with {self.process.returncode}:\n{self.log()}")
            if f"{self.name} ready." in self.log_path.read_text(errors="replace"):
                return
            try:
                if celery_app.control.ping(destination=[self.name], timeout=0.5):
                    return
            except celery_app.connection_for_write().connection_errors:
                pass  # a broker connection of this process cut by a restart: the next ping opens another
        raise RuntimeError(f"worker not ready after {timeout} s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:]

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()


@contextmanager
def run_worker(name: str | None = None, env: dict[str, str] | None = None):
    """Start a worker (``env``: extra variables, e.g. CELERY_VISIBILITY_TIMEOUT), wait until it answers a ping,
    stop it on exit. Several can run at once; ``worker.kill()`` crashes one."""
    name = name or f"test-{uuid.uuid4().hex[:8]}@localhost"
    log_dir = Path(tempfile.mkdtemp(prefix="celery-worker-"))
    worker = WorkerProcess(name, log_dir / "worker.log", env)
    try:
        worker.wait_ready()
        yield worker
    finally:
        worker.stop()


@contextmanager
def run_beat(env: dict[str, str] | None = None):
    """Start `celery beat` with the database scheduler (the schedules in the test database, looked at every
    second), stop it on exit."""
    log_dir = Path(tempfile.mkdtemp(prefix="celery-beat-"))
    argv = ["beat", "-l", "info", "--scheduler", "django_celery_beat.schedulers:DatabaseScheduler",
            "--max-interval", "1", "--pidfile", str(log_dir / "beat.pid"), "-s", str(log_dir / "schedule")]  # fmt: skip
    beat = WorkerProcess("beat", log_dir / "beat.log", env, argv)
    try:
        yield beat
    finally:
        beat.stop()


@pytest.fixture
def celery_worker_process(transactional_db):
    """A real worker sharing the (committed) test database; skips without PostgreSQL + Redis."""
    reason = worker_support_missing()
    if reason:
        pytest.skip(reason)
    celery_app.control.purge()
    with run_worker() as worker:
        yield worker
