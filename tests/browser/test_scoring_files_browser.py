"""Scoring a file in Chromium: download the template, upload a file with record number, TSH and TT4 only,
choose "score only", and read the results preview on the job page; nothing is stored for patients."""

from contextlib import nullcontext
from pathlib import Path

import pytest
from django.conf import settings

from diagnostics.models import JobStatus, LabPanel, Patient, ScoringJob
from tests.browser import CHROMIUM, LAUNCH_ARGS, log_in
from tests.browser.test_layout_browser import OVERFLOW
from tests.browser.test_pages_browser import shot
from tests.celery_worker import run_worker
from tests.conftest import PASSWORD
from tests.test_scoring_files import SHORT_FILE

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_template_download_and_score_only_upload_with_preview(live_server, data_manager, active_version, tmp_path):
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed at /usr/bin/chromium")
    eager = settings.CELERY_TASK_ALWAYS_EAGER
    if not eager:
        from thyroweb.celery import app

        app.control.purge()
    data_file = tmp_path / "labs.csv"
    data_file.write_text(SHORT_FILE)
    problems: list[str] = []
    with nullcontext() if eager else run_worker(), sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900}, accept_downloads=True)
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.set_default_timeout(30_000)
        log_in(page, live_server.url, "dm", PASSWORD, next_path="/jobs/scoring/")
        with page.expect_download() as download:
            page.click("a[href='/jobs/scoring/template.csv']")
        template = Path(download.value.path()).read_text()
        assert download.value.suggested_filename == "thyroweb-scoring-template.csv"
        assert template.startswith("record_number,TSH[mU/L],")

        page.set_input_files("#id_uploaded_file", str(data_file))
        page.check("input[name=mode][value=score_only]")
        page.click("form[enctype] button[type=submit]")
        page.wait_for_url("**/jobs/scoring/*/")
        page.wait_for_selector("tr[data-status='succeeded']")
        page.wait_for_selector("#preview-title")
        shot(page, "scoring-preview")
        preview = page.inner_text("section.preview")
        page.set_viewport_size({"width": 390, "height": 844})  # a phone: wide tables scroll inside their box
        overflow = {}
        for url in (page.url, f"{live_server.url}/jobs/scoring/"):
            page.goto(url)
            overflow[url] = page.evaluate(OVERFLOW)
        browser.close()
    assert "MRN-1" in preview and "MRN-4" in preview and "MRN-2" not in preview  # MRN-2: empty, rejected
    job = ScoringJob.objects.get()
    assert (job.status, job.mode, job.scored_rows) == (JobStatus.SUCCEEDED, "score_only", 4)
    assert not Patient.objects.filter(record_number__startswith="MRN-").exists()
    assert not LabPanel.objects.filter(source=LabPanel.Source.CSV).exists()
    assert problems == []
    assert all(found["scroll"] <= 0 for found in overflow.values()), overflow
