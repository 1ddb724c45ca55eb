"""A real database outage under a real gunicorn: 503s in the usual shapes while it lasts, 200s at once after.

The test starts its own PostgreSQL cluster on another port (tests/postgres_cluster.py), points a gunicorn
at it, stops the cluster, then starts it again.
"""

import http.cookiejar
import json
import re
import urllib.error
import urllib.parse
import urllib.request

import pytest

from tests.postgres_cluster import PostgresCluster, server_binaries
from tests.servers import PASSWORD, PLAIN_STATIC, gunicorn, prepared_home

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(server_binaries() is None, reason="no PostgreSQL server binaries (apt-get install postgresql)"),
]


class Browser:
    """Cookies and CSRF like a browser, over urllib; answers (status, headers, text) without raising on 4xx/5xx."""

    def __init__(self, port: int, language: str = "en"):
        self.base = f"http://127.0.0.1:{port}"
        self.language = language
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))

    def open(self, path: str, data: bytes | None = None, headers: dict | None = None):
        request = urllib.request.Request(
            self.base + path, data=data, headers={"Accept-Language": self.language, **(headers or {})}
        )
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, response.headers, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.headers, error.read().decode()

    def log_in(self, username: str) -> None:
        _, _, page = self.open("/accounts/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        form = urllib.parse.urlencode({"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token})
        status, _, _ = self.open("/accounts/login/", form.encode(), {"Referer": self.base + "/accounts/login/"})
        assert status == 200  # followed the redirect to the dashboard


@pytest.fixture(scope="module")
def outage(tmp_path_factory):
    """(cluster, port, token): gunicorn on a set-up database in a cluster of the test's own."""
    folder = tmp_path_factory.mktemp("outage")
    cluster = PostgresCluster()
    cluster.start()
    try:
        cluster.create_database("thyroweb")
        # Plain static storage: no collectstatic manifest in a test checkout.
        env = {"DATABASE_URL": cluster.url("thyroweb"), "STATICFILES_BACKEND": PLAIN_STATIC}
        token = prepared_home(folder / "home", env=env)
        with gunicorn(folder / "home", "--workers", "2", env=env) as (_, port):
            yield cluster, port, token
    finally:
        cluster.remove()


def test_requests_get_503s_while_the_database_is_down_and_200s_right_after(outage):
    cluster, port, token = outage
    api = {"Authorization": f"Token {token}"}
    clinician, french = Browser(port), Browser(port, "fr")
    clinician.log_in("clin")
    french.log_in("clin")
    assert Browser(port).open("/api/v1/patients/", headers=api)[0] == 200
    assert clinician.open("/patients/")[0] == 200

    cluster.stop()
    try:
        status, headers, body = Browser(port).open("/api/v1/patients/", headers=api)
        assert status == 503 and headers["Content-Type"] == "application/json"
        assert json.loads(body)["errors"]["detail"][0].startswith("The database is unreachable")
        assert headers["Retry-After"]

        status, headers, page = clinician.open("/patients/")
        assert status == 503 and headers["Content-Type"].startswith("text/html")
        assert "Temporarily unavailable" in page and "thyroweb.css" in page  # our layout, styled
        status, _, page = french.open("/patients/")
        assert status == 503 and "Temporairement indisponible" in page

        assert Browser(port).open("/healthz")[:1] == (200,)
        status, _, body = Browser(port).open("/readyz")
        assert status == 503 and json.loads(body) == {"database": "failed", "model": "failed"}
    finally:
        cluster.start()

    # Every request after the database is back succeeds: no stale connection is reused.
    results = [Browser(port).open("/api/v1/patients/", headers=api)[0] for _ in range(9)]
    results += [clinician.open("/patients/")[0] for _ in range(9)]
    assert results == [200] * 18
    status, _, body = Browser(port).open("/readyz")
    assert status == 200 and json.loads(body) == {"database": "ok", "model": "ok"}


def test_a_database_restart_between_requests_costs_no_request(outage):
    """Connections kept from before the restart are checked before reuse (CONN_HEALTH_CHECKS), not failed on."""
    cluster, port, token = outage
    api = {"Authorization": f"Token {token}"}
    assert [Browser(port).open("/api/v1/patients/", headers=api)[0] for _ in range(9)] == [200] * 9
    cluster.stop()
    cluster.start()
    assert [Browser(port).open("/api/v1/patients/", headers=api)[0] for _ in range(9)] == [200] * 9
