"""State shared across processes through Redis: the API throttle and the token cache hold across gunicorn
processes (two real gunicorn servers on one database, taking requests in turn; a real Redis)."""

import contextlib
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


@contextlib.contextmanager
def two_servers(home, env: dict):
    """Two gunicorn processes on the same database and Redis: their ports."""
    with gunicorn(home, "--workers", "1", env=env) as (_, first):
        with gunicorn(home, "--workers", "1", env=env) as (_, second):
            yield first, second


def get_in_turn(ports: tuple[int, int], token: str, count: int) -> list[int]:
    """``count`` requests sent to each server in turn."""
    codes = []
    for index in range(count):
        connection = http.client.HTTPConnection("127.0.0.1", ports[index % 2], timeout=30)
        connection.request("GET", "/api/v1/model-versions/", headers={"Authorization": f"Token {token}"})
        response = connection.getresponse()
        response.read()
        connection.close()
        codes.append(response.status)
    return codes


def test_the_throttle_holds_across_gunicorn_processes(home):
    home, env, token = home
    with two_servers(home, {**env, "API_THROTTLE_RATE": "10/minute"}) as ports:
        codes = get_in_turn(ports, token, 14)
    assert codes == [200] * 10 + [429] * 4


def test_a_token_revoked_by_another_process_is_refused_at_once_by_every_server(home):
    home, env, token = home
    env = {**env, "THYROWEB_PROCESS_CACHE_SECONDS": "300", "API_THROTTLE_RATE": "1000/minute"}
    with two_servers(home, env) as ports:
        assert get_in_turn(ports, token, 4) == [200] * 4  # cached for 5 minutes
        manage(home, "api_token", "revoke", "clin", env=env)  # another process, the same database and Redis
        assert get_in_turn(ports, token, 4) == [401] * 4
