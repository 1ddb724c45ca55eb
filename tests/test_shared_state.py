"""State shared across processes through Redis: the API throttle and the token cache hold across gunicorn
workers and processes (two real gunicorn workers, a real Redis)."""

import http.client
import uuid

import pytest
from django.conf import settings

from tests.servers import gunicorn, manage, prepared_home

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not settings.SHARED_CACHE, reason="no Redis configured (CELERY_BROKER_URL or CACHE_URL)"),
]


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """A set-up embedded home sharing the test Redis under a key prefix of its own: (home, env, token)."""
    home = tmp_path_factory.mktemp("shared")
    env = {"CACHE_URL": settings.CACHE_URL, "CACHE_KEY_PREFIX": f"test-{uuid.uuid4().hex}"}
    return home, env, prepared_home(home, env=env)


def open_connections(port: int, count: int) -> list[http.client.HTTPConnection]:
    """Connections opened together and kept alive: gunicorn's workers take a share each."""
    connections = [http.client.HTTPConnection("127.0.0.1", port, timeout=30) for _ in range(count)]
    for connection in connections:
        connection.connect()
    return connections


def get_over(connections: list[http.client.HTTPConnection], token: str, count: int) -> list[int]:
    """``count`` requests spread round-robin over kept-alive connections (so over both workers)."""
    codes = []
    for index in range(count):
        connection = connections[index % len(connections)]
        connection.request("GET", "/api/v1/model-versions/", headers={"Authorization": f"Token {token}"})
        response = connection.getresponse()
        response.read()
        codes.append(response.status)
    return codes


def test_the_throttle_holds_across_two_gunicorn_workers(home):
    home, env, token = home
    with gunicorn(home, "--workers", "2", env={**env, "API_THROTTLE_RATE": "10/minute"}) as (_, port):
        codes = get_over(open_connections(port, 8), token, 14)
    assert codes == [200] * 10 + [429] * 4


def test_a_token_revoked_by_another_process_is_refused_at_once_by_every_worker(home):
    home, env, token = home
    env = {**env, "THYROWEB_PROCESS_CACHE_SECONDS": "300", "API_THROTTLE_RATE": "1000/minute"}
    with gunicorn(home, "--workers", "2", env=env) as (_, port):
        assert get_over(open_connections(port, 4), token, 8) == [200] * 8  # cached in Redis for 5 minutes
        manage(home, "api_token", "revoke", "clin", env=env)  # another process, the same database and Redis
        assert get_over(open_connections(port, 4), token, 8) == [401] * 8
