"""The gunicorn worker of gunicorn.conf.py spreads kept-alive connections evenly over the worker processes."""

import http.client
import os
import signal
import time
from pathlib import Path

import pytest

from tests.servers import ROOT, gunicorn

pytestmark = pytest.mark.slow


def worker_pids(master: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == master:
                children.append(int(entry.name))
    return children


def established_per_worker(master: int, port: int) -> dict[int, int]:
    """Open client connections to the port held by each worker process (read from /proc)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "01":  # 01: ESTABLISHED
                inodes.add(fields[9])
    counts = {}
    for pid in worker_pids(master):
        held = 0
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            held += target.startswith("socket:[") and target[8:-1] in inodes
        counts[pid] = held
    return counts


def open_connections(port: int, count: int) -> list[http.client.HTTPConnection]:
    """Connections kept alive after one request each (an anonymous API call: 401, no database)."""
    connections = []
    for _ in range(count):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", "/api/v1/patients/")
        answer = connection.getresponse()
        answer.read()
        assert answer.status == 401 and answer.getheader("Connection") != "close"
        connections.append(connection)
    return connections


def test_gunicorn_conf_uses_the_balanced_threaded_worker():
    conf = (ROOT / "gunicorn.conf.py").read_text()
    assert 'worker_class = "thyroweb.gunicorn_worker.BalancedThreadWorker"' in conf


def wait_for_workers(server, count: int = 2, *, gone: int | None = None) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        pids = worker_pids(server.pid)
        if len(pids) == count and gone not in pids:
            return
        time.sleep(0.1)
    raise AssertionError(f"gunicorn has workers {worker_pids(server.pid)}")


def test_eight_kept_alive_connections_split_four_and_four_over_two_workers(tmp_path):
    with gunicorn(tmp_path, "--workers", "2") as (server, port):
        wait_for_workers(server)
        connections = open_connections(port, 8)
        counts = established_per_worker(server.pid, port)
        assert sorted(counts.values()) == [4, 4], counts
        for connection in connections:
            connection.close()


def ready_marking_config(tmp_path) -> tuple[str, Path]:
    """gunicorn.conf.py plus a hook that marks each worker ready (application loaded) with a file."""
    ready = tmp_path / "ready"
    ready.mkdir()
    config = tmp_path / "gunicorn_test.conf.py"
    config.write_text(
        f"exec(open({str(ROOT / 'gunicorn.conf.py')!r}).read())\n\n"
        "def post_worker_init(worker):\n"
        f"    open({str(ready)!r} + '/' + str(worker.pid), 'w').close()\n"
    )
    return str(config), ready


def wait_until_ready(ready: Path, pid: int) -> None:
    deadline = time.monotonic() + 30
    while not (ready / str(pid)).exists():
        assert time.monotonic() < deadline, f"worker {pid} never loaded the application"
        time.sleep(0.05)


def test_after_a_worker_is_killed_its_replacement_takes_its_share(tmp_path):
    config, ready = ready_marking_config(tmp_path)
    with gunicorn(tmp_path, "--config", config, "--workers", "2") as (server, port):
        wait_for_workers(server)
        first = open_connections(port, 2)
        victim = worker_pids(server.pid)[0]
        os.kill(victim, signal.SIGKILL)
        for connection in first:
            connection.close()
        started = time.monotonic()  # while the replacement boots, the survivor takes every connection
        meanwhile = open_connections(port, 3)
        assert time.monotonic() - started < 1.5
        for connection in meanwhile:
            connection.close()
        wait_for_workers(server, gone=victim)
        for pid in worker_pids(server.pid):
            wait_until_ready(ready, pid)
        started = time.monotonic()
        connections = open_connections(port, 6)
        assert time.monotonic() - started < 5  # nobody holds back for the dead worker
        counts = established_per_worker(server.pid, port)
        assert victim not in counts and sorted(counts.values()) == [3, 3], counts
        for connection in connections:
            connection.close()
