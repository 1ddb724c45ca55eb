"""nginx started from deploy/nginx.conf, rewritten for a test: a free loopback port, an upstream gunicorn on
another, its files under a temporary folder. For tests and bench/api.py."""

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from tests.servers import ROOT, free_port

CONFIG = ROOT / "deploy" / "nginx.conf"


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.path.exists(p)), None)


def proxy_config(upstream_port: int, port: int, folder: Path) -> str:
    """deploy/nginx.conf with its port, upstream and file locations moved into the test's world."""
    text = CONFIG.read_text()
    replacements = {
        "server web:8000;": f"server 127.0.0.1:{upstream_port};",
        "listen 8080;": f"listen 127.0.0.1:{port};",
        "/tmp/": f"{folder}/",
        "/dev/stdout": f"{folder}/access.log",
        "/dev/stderr": f"{folder}/error.log",
        "worker_processes auto;": "worker_processes 1;",
    }
    for old, new in replacements.items():
        assert old in text, f"deploy/nginx.conf no longer has {old!r}"
        text = text.replace(old, new)
    if os.geteuid() == 0:
        text = "user root;\n" + text  # workers write the temporary body files under the test's folder
    return text


@contextlib.contextmanager
def nginx(upstream_port: int):
    """nginx in front of 127.0.0.1:upstream_port; yields its port."""
    binary = nginx_binary()
    if binary is None:
        raise RuntimeError("nginx is not installed (apt-get install -y nginx)")
    folder = Path(tempfile.mkdtemp(prefix="thyroweb-nginx-"))
    port = free_port()
    config = folder / "nginx.conf"
    config.write_text(proxy_config(upstream_port, port, folder))
    server = subprocess.Popen(
        [binary, "-p", str(folder), "-c", str(config), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"nginx did not start: {server.stderr.read().decode()[-2000:]}") from None
                time.sleep(0.1)
        yield port
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(folder, ignore_errors=True)
