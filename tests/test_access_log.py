"""gunicorn's access log (gunicorn.conf.py) leaves out query strings, where record numbers travel."""

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
def test_the_access_log_has_paths_and_request_ids_but_no_query_strings(tmp_path):
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "THYROWEB_HOME": str(tmp_path / "home"),
        "SECRET_KEY": "access-log-test-not-secret",
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    log = tmp_path / "access.log"
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "thyroweb.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--access-logfile",
            str(log),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}/api/v1/patients/?search=MRN-SECRET-9931"
        deadline = time.monotonic() + 60
        while True:
            request = urllib.request.Request(
                url, headers={"X-Request-ID": "access-log-test-1", "Referer": "http://x/?q=MRN-SECRET-9931"}
            )
            try:
                urllib.request.urlopen(request, timeout=5)
            except urllib.error.HTTPError as answer:
                assert answer.code == 401
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        time.sleep(0.5)  # gunicorn writes the line after the response
    finally:
        server.terminate()
        server.wait(timeout=30)
    text = log.read_text()
    assert '"path": "/api/v1/patients/"' in text
    assert '"request_id": "access-log-test-1"' in text
    assert "MRN-SECRET-9931" not in text
