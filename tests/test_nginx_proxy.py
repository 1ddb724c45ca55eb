"""nginx (deploy/nginx.conf) in front of a real gunicorn: slow clients cannot starve it, chunked bodies arrive."""

import http.client
import json
import socket
import statistics
import threading
import time

import pytest

from tests.api_builders import HYPO_PANEL
from tests.nginx_proxy import nginx, nginx_binary
from tests.servers import free_port, gunicorn, prepared_home

pytestmark = [pytest.mark.slow, pytest.mark.skipif(nginx_binary() is None, reason="nginx is not installed")]

SLOW_CLIENTS = 50


@pytest.fixture(scope="module")
def proxied(tmp_path_factory):
    """(nginx port, token): nginx in front of gunicorn with 2 workers on a set-up embedded home."""
    home = tmp_path_factory.mktemp("nginx")
    token = prepared_home(home)
    with gunicorn(home, "--workers", "2", env={"TRUSTED_PROXY_COUNT": "1"}) as (_, upstream), nginx(upstream) as port:
        yield port, token


def predict(port: int, token: str, body: bytes, *, chunked: bool = False) -> tuple[int, bytes, float]:
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": "application/json", "Authorization": f"Token {token}"}
    if chunked:
        connection.request("POST", "/api/v1/predict", iter([body[:9], body[9:]]), headers, encode_chunked=True)
    else:
        connection.request("POST", "/api/v1/predict", body, headers)
    response = connection.getresponse()
    answer = response.read()
    connection.close()
    return response.status, answer, time.perf_counter() - started


class SlowClients:
    """Clients that announce a 300-byte panel and send it 3 bytes a second (a thread feeds them all)."""

    def __init__(self, port: int, token: str, count: int):
        head = (
            "POST /api/v1/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Authorization: Token {token}\r\nContent-Length: 300\r\n\r\n"
        ).encode()
        self.sockets = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(count)]
        for sock in self.sockets:
            sock.sendall(head)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.trickle, daemon=True)
        self.thread.start()

    def trickle(self) -> None:
        while not self.stop.wait(1.0):
            for sock in self.sockets:
                sock.sendall(b"   ")

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        for sock in self.sockets:
            sock.close()


def test_fifty_slow_body_clients_leave_ordinary_requests_under_a_second_at_p99(proxied):
    port, token = proxied
    body = json.dumps(HYPO_PANEL).encode()
    slow = SlowClients(port, token, SLOW_CLIENTS)
    try:
        time.sleep(2)  # every slow client is connected and part-way through its body
        results = [predict(port, token, body) for _ in range(200)]
    finally:
        slow.close()
    assert [status for status, _, _ in results] == [200] * 200
    latencies = [seconds for _, _, seconds in results]
    p99 = statistics.quantiles(latencies, n=100)[98]
    print(f"\n{SLOW_CLIENTS} slow clients: p50 {statistics.median(latencies) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms")
    assert p99 < 1.0


def test_a_chunked_panel_through_nginx_is_scored_whole(proxied):
    port, token = proxied
    body = json.dumps(HYPO_PANEL).encode()
    status, chunked, _ = predict(port, token, body, chunked=True)
    assert status == 200, chunked
    assert json.loads(chunked)["probabilities"] == json.loads(predict(port, token, body)[1])["probabilities"]


def raw_answer(port: int, request: bytes) -> tuple[int, dict, bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, body


def test_nginx_refuses_a_body_over_the_upload_limit_before_reading_it_in_the_api_error_shape(proxied):
    port, token = proxied
    request = (
        "POST /api/v1/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Authorization: Token {token}\r\nContent-Length: {60 * 1024 * 1024}\r\nConnection: close\r\n\r\n"
    ).encode()
    status, headers, body = raw_answer(port, request)
    assert status == 413 and headers["Content-Type"] == "application/json"
    assert "upload limit" in json.loads(body)["errors"]["body"][0]


def get_request(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()


def test_with_gunicorn_unreachable_the_api_gets_a_json_503_from_nginx():
    with nginx(free_port()) as port:  # nothing listens upstream
        status, headers, body = raw_answer(port, get_request("/api/v1/patients/"))
        assert status == 503 and headers["Content-Type"] == "application/json" and headers["Retry-After"] == "10"
        assert "unavailable" in json.loads(body)["errors"]["detail"][0]
        status, _, _ = raw_answer(port, get_request("/patients/"))
        assert status == 502  # pages: nginx's own page
