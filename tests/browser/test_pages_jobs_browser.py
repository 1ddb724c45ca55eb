"""Live progress of a training run in Chromium: the list polls the JSON endpoint and shows the new values."""

import threading
from pathlib import Path

import pytest
from django.db import connection

from diagnostics.models import JobStatus, TrainingRun
from tests.browser import CHROMIUM, LAUNCH_ARGS
from tests.browser.test_pages_browser import CANVAS_DRAWN, shot
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def update_in_another_thread(pk: int, **fields) -> None:
    """Change the run as a worker would (ORM calls cannot run on Playwright's event-loop thread)."""

    def work():
        try:
            TrainingRun.objects.filter(pk=pk).update(**fields)
        finally:
            connection.close()

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()


def test_training_list_follows_a_running_job_until_it_finishes(live_server, data_manager):
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed at /usr/bin/chromium")
    run = TrainingRun.objects.create(status=JobStatus.RUNNING, progress=0.2, epoch=2, epochs=10)
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.set_default_timeout(15_000)
        page.goto(f"{live_server.url}/accounts/login/?next=/jobs/training/")
        page.fill("#id_username", "dm")
        page.fill("#id_password", PASSWORD)
        page.click("form.login button[type=submit]")
        page.wait_for_url(f"{live_server.url}/jobs/training/")
        row = f'tr[data-job-id="{run.pk}"]'
        first = page.eval_on_selector(f"{row} progress", "node => node.value")

        update_in_another_thread(run.pk, progress=0.7, epoch=7, val_macro_f1=0.912)
        page.wait_for_function("(row) => document.querySelector(row + ' progress').value === 0.7", arg=row)
        epoch = page.inner_text(f'{row} [data-field="epoch"]')
        f1 = page.inner_text(f'{row} [data-field="val_macro_f1"]')
        shot(page, "training-progress")

        history = [
            {"epoch": e, "epochs": 10, "loss": 1 / e, "val_loss": 1.1 / e, "val_macro_f1": 0.5 + e / 25}
            for e in range(1, 11)
        ]
        update_in_another_thread(run.pk, status=JobStatus.SUCCEEDED, progress=1.0, epoch=10, history=history)
        page.wait_for_function("(row) => document.querySelector(row).dataset.status === 'succeeded'", arg=row)
        page.wait_for_load_state("load")
        status = page.inner_text(f'{row} [data-field="status_label"]')

        page.click(f"{row} a")
        page.wait_for_function(CANVAS_DRAWN, arg="chart-training")
        shot(page, "training-detail")
        browser.close()

    assert first == pytest.approx(0.2)
    assert (epoch, f1) == ("7", "0.912")
    assert status == "succeeded"
    assert problems == []
