"""gunicorn's access log (gunicorn.conf.py) leaves out query strings, where record numbers travel."""

import time
import urllib.error
import urllib.request

import pytest

from tests.servers import gunicorn


@pytest.mark.slow
def test_the_access_log_has_paths_and_request_ids_but_no_query_strings(tmp_path):
    log = tmp_path / "access.log"
    with gunicorn(tmp_path, "--workers", "1", "--access-logfile", str(log)) as (_, port):
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
    text = log.read_text()
    assert '"path": "/api/v1/patients/"' in text
    assert '"request_id": "access-log-test-1"' in text
    assert "MRN-SECRET-9931" not in text
