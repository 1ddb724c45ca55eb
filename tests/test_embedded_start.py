"""`make start` on the embedded default: thyroweb/launch.py starts gunicorn, a Celery worker and beat on the
filesystem broker (no Redis, SQLite), so a scoring job started from the page returns at once and finishes in
the background; Ctrl-C stops every process. Real processes, a real browser session over HTTP."""

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.job_builders import DEV_DATA, dev_lines, scorable_dev_lines
from tests.test_faults_jobs import wait_for

BASE_DIR = Path(__file__).resolve().parent.parent
CONFIG_VARS = ("DATABASE_URL", "CELERY_BROKER_URL", "MEDIA_ROOT", "CACHE_URL", "REDIS_URL", "THYROWEB_EMBEDDED_BROKER")
PASSWORD = "Embedded-start-0123"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def manage(env: dict, *args: str) -> str:
    done = subprocess.run([sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """An embedded install (SQLite under a fresh THYROWEB_HOME, no data imported) with one data manager."""
    if DEV_DATA is None or not DEV_DATA.exists():
        pytest.skip("THYROWEB_DATA_DIR with thyroid0387-dev.data is not set")
    home = tmp_path_factory.mktemp("home")
    env = {key: value for key, value in os.environ.items() if key not in CONFIG_VARS}
    env.update(THYROWEB_HOME=str(home), THYROWEB_DATA_DIR=str(home / "no-data"), TF_CPP_MIN_LOG_LEVEL="2",
               LOG_FORMAT="text", STATIC_ROOT=str(home / "static"),
               # Hashed names as in production, without compressing every file twice (a minute on 2 cores).
               STATICFILES_BACKEND="django.contrib.staticfiles.storage.ManifestStaticFilesStorage")  # fmt: skip
    manage(env, "migrate", "--no-input", "--verbosity", "0")
    manage(env, "collectstatic", "--no-input", "--verbosity", "0")
    manage(env, "setup_thyroweb", "--no-demo-users")
    manage(env, "shell", "-c", (
        "from django.contrib.auth.models import Group, User; from diagnostics.access import DATA_MANAGER; "
        f"u = User.objects.create_user('manager', password='{PASSWORD}'); "
        "u.groups.set([Group.objects.get(name=DATA_MANAGER)])"
    ))  # fmt: skip
    return home, env


def launch(env: dict, port: int, log: Path) -> subprocess.Popen:
    with open(log, "wb") as out:
        return subprocess.Popen([sys.executable, "-m", "thyroweb.launch", "--bind", f"127.0.0.1:{port}",
                                 "--web-workers", "1"], cwd=BASE_DIR, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)  # fmt: skip


class LaunchLog:
    """The launcher's output, for wait_for's failure message."""

    def __init__(self, path: Path):
        self.path = path

    def log(self) -> str:
        return self.path.read_text(errors="replace")[-4000:]


def wait_until(check, timeout: float, what: str, log: Path):
    return wait_for(check, timeout, what, LaunchLog(log))


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


def csrf_token(page) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)


def start_from_page(session, base: str, path: str, data: dict, files: dict):
    """Post the start form of the jobs page at ``path`` (with its CSRF token) and check that the page
    answers with a redirect in under 1 s: the job is queued, not run in the request."""
    token = csrf_token(session.get(f"{base}{path}", timeout=10))
    started = time.monotonic()
    answer = session.post(f"{base}{path}start/", timeout=30, allow_redirects=False,
                          headers={"Referer": f"{base}{path}"},
                          data={"csrfmiddlewaretoken": token, **data}, files=files)  # fmt: skip
    elapsed = time.monotonic() - started
    assert answer.status_code == 302, answer.text[-2000:]
    assert elapsed < 1.0, f"the page {path} waited {elapsed:.2f} s for the job"
    return answer


@pytest.mark.slow
def test_make_start_runs_a_scoring_job_in_the_background_and_ctrl_c_stops_everything(installed, tmp_path):
    home, env = installed
    port, log = free_port(), tmp_path / "launch.log"
    launcher = launch(env, port, log)
    base = f"http://127.0.0.1:{port}"
    try:

        def up():
            try:
                return requests.get(f"{base}/healthz", timeout=15).status_code == 200
            except requests.RequestException:
                return False

        wait_until(up, 90, "the web server", log)
        session = requests.Session()
        token = csrf_token(session.get(f"{base}/accounts/login/", timeout=10))
        login = {"username": "manager", "password": PASSWORD, "csrfmiddlewaretoken": token}
        done = session.post(f"{base}/accounts/login/", data=login, timeout=10,
                            headers={"Referer": f"{base}/accounts/login/"})  # fmt: skip
        assert done.url.rstrip("/") != f"{base}/accounts/login", "login failed"

        data_file = ("\n".join(scorable_dev_lines(400)) + "\n").encode()
        answer = start_from_page(session, base, "/jobs/scoring/", {"mode": "score_only"},
                                 {"uploaded_file": ("panels.data", data_file, "text/plain")})  # fmt: skip
        job_url = base + answer.headers["Location"]
        job_id = int(re.search(r"/jobs/scoring/(\d+)/", job_url).group(1))
        # The job was queued to the broker's folder, not run in the request.
        first = session.get(f"{base}/jobs/scoring/progress/?ids={job_id}", timeout=10).json()["jobs"][0]
        assert first["status"] in {"queued", "running"}, first

        def finished():
            job = session.get(f"{base}/jobs/scoring/progress/?ids={job_id}", timeout=10).json()["jobs"][0]
            return job if job["status"] in {"succeeded", "failed"} else None

        job = wait_until(finished, 180, "the finished job", log)
        assert job["status"] == "succeeded", job
        assert session.get(f"{job_url}results/", timeout=10).text.count("\n") == 401

        # A training run (half a minute or more): the page returns at once, the worker trains.
        training_data = ("\n".join(dev_lines(400)) + "\n").encode()
        answer = start_from_page(session, base, "/jobs/training/", {"epochs": "2"},
                                 {"data_file": ("extra.data", training_data, "text/plain")})  # fmt: skip
        run_id = int(re.search(r"/jobs/training/(\d+)/", answer.headers["Location"]).group(1))
        assert f"Training run {run_id} started." in session.get(base + answer.headers["Location"], timeout=10).text

        def trained():
            run = session.get(f"{base}/jobs/training/progress/?ids={run_id}", timeout=10).json()["jobs"][0]
            return run if run["done"] else None

        run = wait_until(trained, 400, "the finished training run", log)
        assert run["status"] == "succeeded", run
        assert run["epoch"] >= 1 and run["result_version_id"]
    finally:
        launcher.send_signal(signal.SIGINT)  # Ctrl-C
        try:
            code = launcher.wait(40)
        finally:
            if launcher.poll() is None:
                os.killpg(launcher.pid, signal.SIGKILL)
    assert code == 0, log.read_text(errors="replace")[-3000:]
    wait_until(lambda: not group_alive(launcher.pid), 10, "the end of gunicorn, worker and beat", log)


@pytest.mark.slow
def test_the_launcher_stops_the_others_when_one_process_exits(installed, tmp_path):
    """A web server that cannot bind its port (taken) ends the launch, worker and beat included."""
    home, env = installed
    log = tmp_path / "launch.log"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        launcher = launch(env, taken.getsockname()[1], log)
        try:
            code = launcher.wait(120)
        finally:
            if launcher.poll() is None:
                os.killpg(launcher.pid, signal.SIGKILL)
    assert code == 1
    assert "the web process exited" in log.read_text(errors="replace")
    wait_until(lambda: not group_alive(launcher.pid), 10, "the end of worker and beat", log)


def test_embedded_broker_setting_queues_to_files_and_tests_stay_eager(tmp_path):
    from tests.test_foundation_settings import settings_in

    assert settings_in(tmp_path)["eager"] is True  # no variable: in-process (the test suite, manage.py)
    probe = settings_in(tmp_path, THYROWEB_EMBEDDED_BROKER="1")
    assert probe["eager"] is False and probe["broker"] == "filesystem://localhost//"
    assert (tmp_path / "home" / "broker" / "queue").is_dir()
    # A configured broker wins over the embedded one.
    probe = settings_in(tmp_path, THYROWEB_EMBEDDED_BROKER="1", CELERY_BROKER_URL="redis://127.0.0.1:6379/0")
    assert probe["broker"] == "redis://127.0.0.1:6379/0"


def test_healer_and_readiness_read_the_embedded_broker_folder(tmp_path, settings, monkeypatch):
    """The healer lists the task ids waiting in the folder (a queued job absent from it was lost), and the
    broker check before queuing fails when the folder is gone."""
    import shutil

    from celery import Celery

    from diagnostics.services.health import broker_reachable
    from diagnostics.services.jobs import broker_task_ids

    settings.THYROWEB_EMBEDDED_BROKER, settings.EMBEDDED_BROKER_DIR = True, tmp_path
    settings.CELERY_BROKER_URL = "filesystem://localhost//"
    for folder in ("queue", "control"):
        (tmp_path / folder).mkdir()
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)  # Celery prefers it to any app's own broker_url
    sender = Celery("probe", broker="filesystem://localhost//", set_as_current=False)
    sender.conf.broker_transport_options = {"data_folder_in": str(tmp_path / "queue"),
                                            "data_folder_out": str(tmp_path / "queue"),
                                            "control_folder": str(tmp_path / "control")}  # fmt: skip
    assert broker_task_ids() == set() and broker_reachable()
    sender.send_task("diagnostics.run_scoring_job", args=[1], task_id="task-one")
    sender.send_task("diagnostics.run_training", args=[2], task_id="task-two")
    (tmp_path / "queue" / "junk.celery.msg").write_text("not json")
    assert broker_task_ids() == {"task-one", "task-two"}
    shutil.rmtree(tmp_path / "queue")
    assert broker_task_ids() is None and not broker_reachable()
