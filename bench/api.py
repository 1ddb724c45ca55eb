"""API latency and throughput: gunicorn on PostgreSQL, wrk (or a Python client) on loopback. Prints figures.

    DATABASE_URL=postgres://... SECRET_KEY=... [THYROWEB_DATA_DIR=...] \\
        .venv/bin/python bench/api.py [--duration 10] [--connections 8] [--workers 2] [--rate 200] [--nginx]

1. Single ``POST /api/v1/predict`` (one panel, token auth, nothing stored): wrk with 8 connections for
   --duration seconds after a warm-up (closed loop: as fast as the server answers); p50 / p90 / p99
   latency and requests/s, non-2xx counted. Without wrk (``apt-get install -y wrk``) a threaded Python
   client measures the same, less precisely. Then the latency at about --rate requests/s (default 200):
   wrk with a pause between a connection's requests (paced closed loop), or without wrk an open-loop
   Python client at that rate.
2. ``POST /api/v1/predict/bulk`` with 10,000 panels in one request, --bulk-runs times: wall time per run
   (request sent to response read, JSON both ways).

The server is ``gunicorn thyroweb.wsgi`` with gunicorn.conf.py (gthread, --workers x --threads; another
class with --worker-class), with --nginx behind nginx (deploy/nginx.conf, as in production), on 127.0.0.1 with the
environment's database: run it against a development or bench database. It uses the active model; when
none is active and none ships with mlcore, a small model is trained on the dev data and activated.
A bench user and its token are created and deleted at the end (their audit events stay: append-only).
"""

import argparse
import contextlib
import http.client
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "thyroweb.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.models import Group  # noqa: E402
from rest_framework.authtoken.models import Token  # noqa: E402

from diagnostics.access import CLINICIAN  # noqa: E402
from diagnostics.models import ModelVersion  # noqa: E402
from diagnostics.services.registry import active_model_version  # noqa: E402
from mlcore.data import read_uci  # noqa: E402
from mlcore.schema import LAB_TESTS  # noqa: E402
from tests.nginx_proxy import nginx  # noqa: E402
from tests.servers import start_gunicorn, stop_gunicorn  # noqa: E402

PANEL = {"age": 61, "sex": "F", "on_thyroxine": False, "TSH": 45.0, "T3": 0.9, "TT4": 40.0, "T4U": 0.95, "FTI": 42.0}
BULK_PANELS = 10_000


def ensure_active_model() -> str:
    """The active version's name; trains and activates a small model only when there is none at all."""
    try:
        return active_model_version().version
    except Exception as missing:  # noqa: BLE001 (no shipped model yet)
        print(f"no active model ({missing.__class__.__name__}); training a small one on the dev data ...")
    from mlcore.train import train_model  # TensorFlow: only when no model ships with mlcore

    data = Path(settings.THYROWEB_DATA_DIR) / "thyroid0387-dev.data"
    out = Path(settings.MEDIA_ROOT) / "models" / f"bench-api-{uuid.uuid4().hex[:6]}"
    train_model(read_uci(data).records[:3000], out, seed=0, epochs=10)
    version = ModelVersion.objects.create(
        version=out.name, status=ModelVersion.Status.ACTIVE, artefact_path=str(out), training_description="bench/api.py"
    )
    return version.version


class Server:
    """gunicorn serving ThyroWeb on a loopback port (log in a temporary file)."""

    def __init__(self, workers: int, threads: int, worker_class: str | None = None):
        self.log = tempfile.NamedTemporaryFile(prefix="bench-api-gunicorn-", suffix=".log", delete=False)
        env = {**os.environ, "API_THROTTLE_RATE": "100000000/hour", "LOG_LEVEL": "WARNING", "TF_CPP_MIN_LOG_LEVEL": "2"}
        options = ["--workers", str(workers), "--threads", str(threads), "--keep-alive", "30", "--log-level", "warning"]
        if worker_class:
            options += ["--worker-class", worker_class]
        try:
            self.process, self.port = start_gunicorn(*options, env=env, output=self.log)
        except RuntimeError:
            raise SystemExit(f"gunicorn did not start; see {self.log.name}") from None

    def stop(self) -> None:
        stop_gunicorn(self.process)


def server_cpu_seconds(master: int) -> float:
    """User + system CPU seconds used so far by gunicorn's master and its workers (read from /proc): the
    server's cost per request, which other processes on a shared machine slow far less than its latency."""
    clock = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(") ")[2].split()
        except OSError:
            continue
        if int(entry.name) == master or int(fields[1]) == master:  # fields[1]: the parent's pid
            total += sum(int(value) for value in fields[11:13])  # utime, stime
    return total / clock


def post(port: int, path: str, body: bytes, token: str, connection=None) -> tuple[int, bytes]:
    connection = connection or http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request("POST", path, body, {"Content-Type": "application/json", "Authorization": f"Token {token}"})
    response = connection.getresponse()
    return response.status, response.read()


def run_all(threads: list[threading.Thread]) -> None:
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def warm_up(port: int, token: str, workers: int) -> None:
    """Every worker process loads the predictor before the measurement (two rounds of requests each)."""
    body = json.dumps(PANEL).encode()
    connections = [http.client.HTTPConnection("127.0.0.1", port, timeout=60) for _ in range(workers * 4)]
    run_all([threading.Thread(target=lambda c=c: [post(port, "/api/v1/predict", body, token, c) for _ in range(25)])
             for c in connections])  # fmt: skip
    status, answer = post(port, "/api/v1/predict", body, token)
    if status != 200:
        raise SystemExit(f"POST /api/v1/predict answered {status}: {answer[:300]!r}")


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
    return float(number) * _UNITS[unit]


def run_wrk(port: int, token: str, connections: int, duration: int, think_ms: int = 0) -> dict:
    """wrk, closed loop: each connection sends its next request when the answer came (plus ``think_ms``)."""
    script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
    script.write(
        'wrk.method = "POST"\n'
        f"wrk.body = {json.dumps(json.dumps(PANEL))}\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["Authorization"] = "Token {token}"\n'
        + (f"function delay() return {think_ms} end\n" if think_ms else "")
    )
    script.close()
    threads = min(2, connections)
    command = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{duration}s", "--latency", "-s",
               script.name, f"http://127.0.0.1:{port}/api/v1/predict"]  # fmt: skip
    output = subprocess.run(command, capture_output=True, text=True, timeout=duration + 60).stdout
    os.unlink(script.name)
    percentiles = {int(p): _ms(v) for p, v in re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", output, re.M)}
    requests = int(re.search(r"(\d+) requests in", output).group(1))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: (.*)", output)
    return {
        "tool": "wrk",
        "requests": requests,
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "p50": percentiles[50],
        "p90": percentiles[90],
        "p99": percentiles[99],
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "socket_errors": errors.group(1) if errors else "none",
    }


def latency_figures(latencies: list[float], failures: int, elapsed: float) -> dict:
    """Requests, requests/s and latency percentiles (ms) of a Python client's run."""
    cuts = statistics.quantiles(latencies, n=100)
    return {"requests": len(latencies), "rps": len(latencies) / elapsed, "p50": cuts[49], "p90": cuts[89],
            "p99": cuts[98], "non_2xx": failures}  # fmt: skip


def run_python_client(port: int, token: str, connections: int, duration: int) -> dict:
    body = json.dumps(PANEL).encode()
    latencies: list[float] = []
    failures = [0]
    stop_at = time.monotonic() + duration

    def client():
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while time.monotonic() < stop_at:
            started = time.perf_counter()
            status, _ = post(port, "/api/v1/predict", body, token, connection)
            latencies.append((time.perf_counter() - started) * 1000)
            failures[0] += status != 200

    started = time.monotonic()
    run_all([threading.Thread(target=client) for _ in range(connections)])
    figures = latency_figures(latencies, failures[0], time.monotonic() - started)
    return {"tool": "python threads", **figures, "socket_errors": "none"}


def run_fixed_rate(port: int, token: str, connections: int, duration: int, rate: float) -> dict:
    """Open loop: requests scheduled at ``rate`` per second over ``connections`` keep-alive connections.

    Latency runs from each request's scheduled time (no coordinated omission): if the server falls
    behind, the queueing shows in the figures.
    """
    body = json.dumps(PANEL).encode()
    latencies: list[float] = []
    failures = [0]
    start = time.perf_counter() + 0.2
    per_connection = rate / connections

    def client(index: int):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        n = 0
        while True:
            scheduled = start + (n + index / connections) / per_connection
            if scheduled - start >= duration:
                return
            delay = scheduled - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            status, _ = post(port, "/api/v1/predict", body, token, connection)
            latencies.append((time.perf_counter() - scheduled) * 1000)
            failures[0] += status != 200
            n += 1

    run_all([threading.Thread(target=client, args=(i,)) for i in range(connections)])
    return latency_figures(latencies, failures[0], time.perf_counter() - start)


def bulk_panels(count: int) -> list[dict]:
    """Panels of the dev data when available (repeated), else seeded random values within the reference ranges.
    Every panel carries a lab value (the dev data's records without any are left out: the API refuses them)."""
    data = Path(settings.THYROWEB_DATA_DIR) / "thyroid0387-dev.data"
    if data.exists():
        fields = ("age", "sex", "TSH", "T3", "TT4", "T4U", "FTI", "TBG", "on_thyroxine", "referral_source")
        scorable = read_uci(data, require_lab=True).records
        records = [{k: r[k] for k in fields if r.get(k) is not None} for r in scorable]
        return [records[i % len(records)] for i in range(count)]
    rng = random.Random(0)
    ranges = {name: (test.reference_low * 0.5, test.reference_high * 1.5) for name, test in LAB_TESTS.items()}
    return [{name: round(rng.uniform(*bounds), 3) for name, bounds in ranges.items()} for _ in range(count)]


def run_bulk(port: int, token: str, runs: int) -> list[float]:
    body = json.dumps({"panels": bulk_panels(BULK_PANELS)}).encode()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        status, answer = post(port, "/api/v1/predict/bulk", body, token)
        times.append(time.perf_counter() - started)
        if status != 200:
            raise SystemExit(f"bulk predict answered {status}: {answer[:300]!r}")
        assert json.loads(answer)["count"] == BULK_PANELS
    print(f"  request body {len(body) / 1e6:.1f} MB, response {len(answer) / 1e6:.1f} MB")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10, help="seconds of load (max 60)")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes (one per core)")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    parser.add_argument("--bulk-runs", type=int, default=3, help="bulk requests of 10,000 panels (max 10)")
    parser.add_argument("--python-client", action="store_true", help="use the Python client even if wrk exists")
    parser.add_argument("--nginx", action="store_true", help="send the load through nginx (deploy/nginx.conf)")
    parser.add_argument("--worker-class", help="gunicorn worker class instead of gunicorn.conf.py's (e.g. gthread)")
    parser.add_argument(
        "--rate", type=float, default=200, help="also measure latency at this fixed offered rate (0: skip)"
    )
    args = parser.parse_args()
    if not settings.USING_POSTGRES:
        raise SystemExit("Set DATABASE_URL to a PostgreSQL database (a development or bench one).")
    duration, bulk_runs = min(args.duration, 60), min(args.bulk_runs, 10)

    version = ensure_active_model()
    user = get_user_model().objects.create_user(username=f"bench-api-{uuid.uuid4().hex[:8]}")
    user.groups.add(Group.objects.get(name=CLINICIAN))
    token = Token.objects.create(user=user).key
    server = Server(args.workers, args.threads, args.worker_class)
    proxy = contextlib.ExitStack()
    try:
        port = proxy.enter_context(nginx(server.port)) if args.nginx else server.port
        print(f"gunicorn {args.worker_class or 'gunicorn.conf.py worker'} {args.workers} workers x {args.threads} "
              f"threads on 127.0.0.1:{server.port}{', behind nginx' if args.nginx else ''}, "
              f"PostgreSQL, model {version}, {os.cpu_count()} CPUs")  # fmt: skip
        print("load average before (1, 5, 15 min): " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))
        warm_up(port, token, args.workers)
        use_wrk = shutil.which("wrk") and not args.python_client
        runner = run_wrk if use_wrk else run_python_client
        cpu_before = server_cpu_seconds(server.process.pid)
        single = runner(port, token, args.connections, duration)
        cpu_per_request = 1000 * (server_cpu_seconds(server.process.pid) - cpu_before) / max(1, single["requests"])
        print(f"\nPOST /api/v1/predict, {args.connections} connections, {duration} s ({single['tool']}):")
        print(f"  requests      {single['requests']}  (non-2xx: {single['non_2xx']}, "
              f"socket errors: {single['socket_errors']})")  # fmt: skip
        print(f"  server CPU    {cpu_per_request:.2f} ms per request (gunicorn's processes, user + system)")
        print(f"  requests/s    {single['rps']:.0f}   (target >= 800)")
        print(f"  latency p50   {single['p50']:.1f} ms")
        print(f"  latency p90   {single['p90']:.1f} ms")
        print(f"  latency p99   {single['p99']:.1f} ms   (target <= 30)")

        if args.rate and use_wrk:
            # Paced: each connection waits so that together they offer at least --rate requests/s. The pause
            # is the per-connection cycle minus the latency, corrected once by a 3 s calibration run.
            alone = run_wrk(port, token, 1, 3)
            cycle = 1000 * args.connections / args.rate
            think = max(0, int(cycle - alone["p50"]))
            trial = run_wrk(port, token, args.connections, 3, think_ms=think)
            think = max(0, int(think - (1000 * args.connections / trial["rps"] - cycle) - 0.5))
            paced = run_wrk(port, token, args.connections, duration, think_ms=think)
            print(f"\nPOST /api/v1/predict paced to about {args.rate:.0f} requests/s, {args.connections} connections, "
                  f"{duration} s (wrk, {think} ms between a connection's requests):")  # fmt: skip
            print(f"  requests      {paced['requests']}  (non-2xx: {paced['non_2xx']}); achieved {paced['rps']:.0f}/s")
            print(f"  latency p50   {paced['p50']:.1f} ms   (target <= 15)")
            print(f"  latency p90   {paced['p90']:.1f} ms")
            print(f"  latency p99   {paced['p99']:.1f} ms   (target <= 50)")
            print(f"  (one connection alone: p50 {alone['p50']:.1f} ms, p99 {alone['p99']:.1f} ms)")
        elif args.rate:
            fixed = run_fixed_rate(port, token, args.connections, duration, args.rate)
            print(f"\nPOST /api/v1/predict at a fixed {args.rate:.0f} requests/s offered, "
                  f"{args.connections} connections, {duration} s (python, open loop):")  # fmt: skip
            print(f"  requests      {fixed['requests']}  (non-2xx: {fixed['non_2xx']}); achieved {fixed['rps']:.0f}/s")
            print(f"  latency p50   {fixed['p50']:.1f} ms   (target <= 15)")
            print(f"  latency p90   {fixed['p90']:.1f} ms")
            print(f"  latency p99   {fixed['p99']:.1f} ms   (target <= 50)")

        print(f"\nPOST /api/v1/predict/bulk with {BULK_PANELS:,} panels, {bulk_runs} runs:")
        times = run_bulk(port, token, bulk_runs)
        print(f"  wall time     {', '.join(f'{t:.2f}' for t in times)} s; median {statistics.median(times):.2f} s"
              "   (target <= 2)")  # fmt: skip
        print("load average after (1, 5, 15 min): " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))
    finally:
        proxy.close()
        server.stop()
        Token.objects.filter(user=user).delete()
        user.delete()
        print(f"\n(gunicorn log: {server.log.name})")


if __name__ == "__main__":
    main()
