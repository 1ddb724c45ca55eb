"""`make start`: gunicorn, a Celery worker and Celery beat on the embedded broker, as one command.

    python -m thyroweb.launch [--bind 127.0.0.1:8000] [--web-workers 2]

Jobs (training runs, scoring files) go to the worker through kombu's filesystem transport (folders under
``THYROWEB_HOME/broker``, no server), so a page that starts one returns at once and shows its progress as in
production; beat runs the job healer. Ctrl-C (or SIGTERM) stops the three processes; when one of them
exits, the others are stopped too and the exit status says so.
"""

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from thyroweb.home import home_dir, prepare_home

BASE_DIR = Path(__file__).resolve().parent.parent
STOP_SECONDS = 15  # a worker in the middle of a job gets this long; the healer resumes the job at next start


def commands(bind: str, web_workers: int, home: Path) -> dict[str, list[str]]:
    python = sys.executable
    return {
        "web": [python, "-m", "gunicorn", "thyroweb.wsgi", "--bind", bind, "--workers", str(web_workers),
                "--access-logfile", "-"],
        # One job at a time, as in docker-compose (a training run uses the machine's cores).
        "worker": [python, "-m", "celery", "-A", "thyroweb", "--quiet", "worker", "--pool", "solo", "-n", "embedded@%h",
                   "--without-mingle", "--without-gossip", "--loglevel", "warning"],
        "beat": [python, "-m", "celery", "-A", "thyroweb", "--quiet", "beat", "--loglevel", "warning",
                 "--scheduler", "django_celery_beat.schedulers:DatabaseScheduler",
                 "--pidfile", "", "--schedule", str(home / "celerybeat-schedule")],
    }  # fmt: skip


def stop(processes: dict[str, subprocess.Popen]) -> None:
    """SIGTERM to each process still running (a warm shutdown), then SIGKILL to any left after STOP_SECONDS."""
    for process in processes.values():
        if process.poll() is None:
            process.terminate()
    deadline = time.monotonic() + STOP_SECONDS
    for process in processes.values():
        try:
            process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bind", default=os.environ.get("ADDRESS", "127.0.0.1:8000"))
    parser.add_argument("--web-workers", type=int, default=2)
    options = parser.parse_args(argv)
    env = {**os.environ, "THYROWEB_EMBEDDED_BROKER": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
    if env.get("CELERY_BROKER_URL"):
        print("CELERY_BROKER_URL is set: start the worker and beat of that broker yourself", file=sys.stderr)
        return 2
    os.environ["THYROWEB_EMBEDDED_BROKER"] = "1"
    prepare_home()  # the folder, the kept secret key and the broker's folders, before three processes read them
    home = home_dir()
    stopping = False

    def on_signal(signum, frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    processes = {
        name: subprocess.Popen(argv, cwd=BASE_DIR, env=env)
        for name, argv in commands(options.bind, options.web_workers, home).items()
    }
    print(
        f"ThyroWeb: web, job worker and scheduler started (pids {', '.join(str(p.pid) for p in processes.values())});"
        " Ctrl-C stops them",
        flush=True,
    )
    exited = None
    while not stopping and exited is None:
        time.sleep(0.2)
        exited = next((name for name, process in processes.items() if process.poll() is not None), None)
    stop(processes)
    if exited is not None and not stopping:
        print(
            f"ThyroWeb: the {exited} process exited ({processes[exited].returncode}); stopped the others",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
