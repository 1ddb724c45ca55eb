"""Take the README's screenshots of ThyroWeb's main pages with Chromium, from a fresh embedded instance.

Usage (needs the UCI data and Debian's Chromium):
    THYROWEB_DATA_DIR=../shared/data .venv/bin/python docs/make_screenshots.py [--out docs/screenshots]

Sets up a throw-away embedded ThyroWeb (SQLite, tasks in-process, shipped model, UCI data) in a temporary
folder, serves it with gunicorn, and, as the demo data manager, enters three panels for one patient (a
history that moves from normal to hypothyroid), scores an uploaded file, then saves the dashboard, the
patient history, the latest result, the model performance page and the scoring job as PNG files.
"""

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.browser import CHROMIUM, LAUNCH_ARGS, log_in  # noqa: E402 (the tests' Chromium set-up)

PANELS = (  # a patient whose thyroid fails over a year: collected at, TSH, T3, TT4, T4U, FTI
    ("2025-01-14T09:30", "2.1", "1.9", "98", "0.95", "103"),
    ("2025-06-10T10:15", "7.8", "1.6", "70", "0.92", "76"),
    ("2026-01-05T09:30", "45", "0.9", "40", "0.95", "42"),
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run(env: dict, *args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)


def demo_password(home: Path, username: str) -> str:
    for line in (home / "demo-users.txt").read_text().splitlines():
        words = line.split()
        if username in words:
            return words[words.index("password") + 1]
    raise SystemExit(f"no password for {username} in {home / 'demo-users.txt'}")


def take(base: str, password: str, data_file: Path, out: Path) -> None:
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="en-GB")
        page.set_default_timeout(60_000)
        log_in(page, base, "demo_data_manager", password)

        for number, (collected, tsh, t3, tt4, t4u, fti) in enumerate(PANELS):
            page.goto(f"{base}/panels/new/")
            page.fill("#id_record_number", "DEMO-2026-0042")
            if number == 0:
                page.check("#id_new_patient")
                page.select_option("#id_sex", "F")
                page.fill("#id_date_of_birth", "1964-03-18")
            page.fill("#id_collected_at", collected)
            for field, value in {"TSH": tsh, "T3": t3, "TT4": tt4, "T4U": t4u, "FTI": fti}.items():
                page.fill(f"#id_{field}", value)
            page.click("button.primary")
            page.wait_for_selector("#prediction-title")
        page.screenshot(path=str(out / "result.png"), full_page=True)

        page.click("text=Patient DEMO-2026-0042")
        page.wait_for_function("() => window.Chart && Chart.getChart(document.getElementById('chart-TSH'))")
        page.screenshot(path=str(out / "patient-history.png"), full_page=True)

        page.goto(f"{base}/")
        page.wait_for_function("() => window.Chart && Chart.getChart(document.getElementById('chart-distribution'))")
        page.screenshot(path=str(out / "dashboard.png"), full_page=True)

        page.goto(f"{base}/models/")
        page.click("table a[href^='/models/']")
        page.wait_for_function(
            "() => window.Chart && document.querySelector('canvas.perf-chart') && "
            "Chart.getChart(document.querySelector('canvas.perf-chart'))"
        )
        page.screenshot(path=str(out / "model-performance.png"), full_page=True)

        upload = out.parent / "scoring-sample.data"
        upload.write_text("".join(data_file.read_text().splitlines(keepends=True)[:400]))
        try:
            page.goto(f"{base}/jobs/scoring/")
            page.set_input_files("#id_uploaded_file", str(upload))
            page.check("input[name=mode][value=score_only]")
            page.click("form[enctype] button[type=submit]")
            page.wait_for_url("**/jobs/scoring/*/")
            page.wait_for_selector("tr[data-status='succeeded']")
            page.reload()
            page.screenshot(path=str(out / "scoring-job.png"), full_page=True)
        finally:
            upload.unlink()
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    data_dir = Path(os.environ.get("THYROWEB_DATA_DIR", ROOT / "var" / "data"))
    data_file = next(
        (data_dir / n for n in ("thyroid0387.data", "thyroid0387-dev.data") if (data_dir / n).exists()), None
    )
    if data_file is None:
        raise SystemExit(f"no thyroid0387 data in {data_dir}: set THYROWEB_DATA_DIR")
    with tempfile.TemporaryDirectory(prefix="thyroweb-screenshots-") as home:
        env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "CELERY_BROKER_URL")}
        env.update(
            THYROWEB_HOME=home,
            THYROWEB_DATA_DIR=str(data_dir),
            STATIC_ROOT=str(Path(home) / "static"),
            LOG_LEVEL="WARNING",
            TF_CPP_MIN_LOG_LEVEL="2",
        )
        run(env, "migrate", "--no-input", "--verbosity", "0")
        run(env, "collectstatic", "--no-input", "--verbosity", "0")
        run(env, "setup_thyroweb")
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "thyroweb.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(120):
                try:
                    urllib.request.urlopen(f"{base}/accounts/login/", timeout=2)
                    break
                except OSError:
                    time.sleep(0.5)
            take(base, demo_password(Path(home), "demo_data_manager"), data_file, args.out)
        finally:
            server.terminate()
            server.wait(timeout=30)
    for path in sorted(args.out.glob("*.png")):
        print(f"{path}: {path.stat().st_size // 1024} KiB")


if __name__ == "__main__":
    main()
