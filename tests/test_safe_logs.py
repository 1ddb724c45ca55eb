"""Logs: one JSON object per line with a request id, and nothing that identifies a patient.

A full workflow runs (login, create a patient, enter a panel, predict on the
page and through the API, bulk predict, import UCI lines, upload a batch,
refused inputs, audit export) while every log record of every logger is
captured as the production formatter writes it; no record number, note or
lab value may appear.
"""

import io
import json
import logging
import re

import pytest
from django.test import Client
from django.urls import reverse

from diagnostics.logs import JsonFormatter, RequestIdFilter
from diagnostics.models import ScoringJob
from diagnostics.services.scoring_jobs import process_scoring_job
from diagnostics.services.uci_import import import_uci
from tests.conftest import PASSWORD
from tests.job_builders import csv_text, dev_lines, upload

RECORD_NUMBER = "MRN-SECRET-4711"
API_RECORD_NUMBER = "MRN-SECRET-API-0815"
NOTES = "Confided: Marguerite Dupont-Lefebvre, allergic to iodine"
# Lab values chosen to be unlikely anywhere else in a log line.
TSH, T3, TT4, FTI = "47.123", "3.917", "141.77", "129.63"


class Capture(logging.Handler):
    """Every record of every logger, formatted exactly as production writes it."""

    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.addFilter(RequestIdFilter())
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def captured_logs():
    handler = Capture()
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


def leaks(lines: list[str], secrets: list[str]) -> list[tuple[str, str]]:
    """(secret, line) for each secret found in a line's fields other than its time stamp."""
    found = []
    for line in lines:
        entry = json.loads(line)
        entry.pop("time", None)
        text = json.dumps(entry, ensure_ascii=False)
        found += [(secret, line) for secret in secrets if secret in text]
    return found


def test_the_leak_scanner_finds_a_record_number_and_a_lab_value(captured_logs):
    logging.getLogger("diagnostics.example").warning("patient %s has TSH %s", RECORD_NUMBER, TSH)
    assert [secret for secret, _ in leaks(captured_logs.lines, [RECORD_NUMBER, TSH])] == [RECORD_NUMBER, TSH]


def test_log_lines_are_json_with_the_request_id_that_the_response_carries(captured_logs, client, clinician):
    response = client.post(
        reverse("login"), {"username": "clin", "password": PASSWORD}, HTTP_X_REQUEST_ID="trace-abc-123"
    )
    assert response["X-Request-ID"] == "trace-abc-123"
    logging.getLogger("diagnostics.example").info("outside any request")
    entries = [json.loads(line) for line in captured_logs.lines]
    assert any(entry["request_id"] == "trace-abc-123" for entry in entries[:-1])
    assert entries[-1]["request_id"] == "-" and entries[-1]["message"] == "outside any request"
    assert {"time", "level", "logger", "message", "request_id"} <= set(entries[-1])


def test_a_request_id_that_is_not_safe_to_log_is_replaced(client_for, clinician):
    response = client_for(clinician).get(reverse("dashboard"), HTTP_X_REQUEST_ID="x\nFAKE LOG LINE " + "y" * 100)
    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])


@pytest.mark.slow
@pytest.mark.django_db
@pytest.mark.usefixtures("active_version", "media_root")
def test_a_full_workflow_logs_no_record_number_note_or_lab_value(captured_logs, clinician, data_manager, admin_user):
    uci_lines = dev_lines(30)
    uci_ids = [line.rsplit("[", 1)[1].rstrip("].") for line in uci_lines]

    browser = Client()
    assert browser.post(reverse("login"), {"username": "clin", "password": "wrong-" + PASSWORD}).status_code == 200
    assert browser.post(reverse("login"), {"username": "clin", "password": PASSWORD}).status_code == 302

    panel = {
        "record_number": RECORD_NUMBER,
        "new_patient": "on",
        "sex": "F",
        "collected_at": "2026-01-05T10:00",
        "age": "52",
        "referral_source": "other",
        "TSH": TSH,
        "T3": T3,
        "TT4": TT4,
        "T4U": "1.09",
        "FTI": FTI,
    }
    entered = browser.post(reverse("panel_create"), panel)
    assert entered.status_code == 302, entered.content[:500]
    browser.get(entered["Location"])
    refused = browser.post(reverse("panel_create"), {**panel, "new_patient": "", "TSH": "5000"})
    assert refused.status_code in (200, 400)

    api = Client()
    api.force_login(clinician)
    created = api.post(
        reverse("api-patients"), {"record_number": API_RECORD_NUMBER, "notes": NOTES}, content_type="application/json"
    )
    assert created.status_code == 201, created.content
    values = {"age": 52, "sex": "F", "TSH": float(TSH), "T3": float(T3), "TT4": float(TT4), "FTI": float(FTI)}
    stored = api.post(reverse("api-predict"), {**values, "patient": API_RECORD_NUMBER}, content_type="application/json")
    assert stored.status_code == 201, stored.content
    assert api.post(reverse("api-predict"), values, content_type="application/json").status_code == 200
    assert (
        api.post(reverse("api-predict"), {**values, "TSH": 5000.5}, content_type="application/json").status_code == 400
    )
    bulk = api.post(reverse("api-predict-bulk"), {"panels": [values] * 3}, content_type="application/json")
    assert bulk.status_code == 200
    api.get(reverse("api-patients"), {"search": API_RECORD_NUMBER})
    api.get(reverse("api-patient-fhir", args=[created.json()["id"]]))

    report = import_uci(io.StringIO("\n".join(uci_lines)), skip_bad=True, user=data_manager)
    assert report.created_panels == len(uci_lines)

    manager = Client()
    manager.force_login(data_manager)
    rows = [{**values, "record_id": "MRN-SECRET-BATCH-1"}, {**values, "TSH": "not-a-number", "record_id": "B2"}]
    batch = manager.post(reverse("api-scoring-jobs"), {"file": upload(csv_text(rows, extra=("record_id",)))})
    assert batch.status_code == 202, batch.content
    job = ScoringJob.objects.get(pk=batch.json()["id"])
    process_scoring_job(job_id=job.pk, task_id=job.celery_task_id)  # what the worker runs
    job.refresh_from_db()
    assert job.status == "succeeded", job.message

    boss = Client()
    boss.force_login(admin_user)
    assert boss.get(reverse("audit_export")).status_code == 200

    assert captured_logs.lines, "the workflow logged nothing: the capture is broken"
    secrets = [
        RECORD_NUMBER,
        API_RECORD_NUMBER,
        "MRN-SECRET-BATCH-1",
        NOTES,
        "Dupont",
        TSH,
        T3,
        TT4,
        FTI,
        "5000.5",
        *(f"UCI-{record_id}" for record_id in uci_ids[:10]),
    ]
    assert leaks(captured_logs.lines, secrets) == []
    print(
        f"\n{len(captured_logs.lines)} log lines captured from",
        sorted({json.loads(x)["logger"] for x in captured_logs.lines}),
    )


def test_a_task_logs_with_its_task_id_and_an_eager_task_gives_the_request_its_id_back(captured_logs):
    from celery import shared_task

    from diagnostics.logs import current_request_id

    @shared_task(name="tests.log_something")
    def log_something():
        logging.getLogger("diagnostics.example").info("inside a task")

    token = current_request_id.set("request-1")
    try:
        log_something.apply(task_id="abc123")
        logging.getLogger("diagnostics.example").info("after the task")
    finally:
        current_request_id.reset(token)
    entries = {json.loads(line)["message"]: json.loads(line)["request_id"] for line in captured_logs.lines}
    assert entries["inside a task"] == "task-abc123"
    assert entries["after the task"] == "request-1"


@pytest.mark.django_db
def test_a_logged_database_error_keeps_its_kind_but_not_the_row_values(captured_logs):
    from django.db import IntegrityError, transaction

    from diagnostics.models import Patient

    Patient.objects.create(record_number=RECORD_NUMBER)
    try:
        with transaction.atomic():
            Patient.objects.create(record_number=RECORD_NUMBER)
    except IntegrityError as error:
        logging.getLogger("diagnostics.example").exception("could not store: %s", error)
    line = json.loads(captured_logs.lines[-1])
    assert "IntegrityError" in line["exception"]
    assert leaks(captured_logs.lines, [RECORD_NUMBER]) == []


@pytest.mark.parametrize(
    "text",
    [
        "duplicate key\nDETAIL:  Key (record_number)=(O'Brien-4711) already exists.",
        repr(Exception("new row violates check constraint\nDETAIL:  Failing row contains (4711, 47.123).")),
    ],
    ids=["traceback-line", "repr-in-a-celery-log"],
)
def test_database_details_are_redacted_in_both_plain_and_repr_form(text):
    from diagnostics.logs import redact

    redacted = redact(text)
    assert "4711" not in redacted and "47.123" not in redacted
    assert "DETAIL: [redacted" in redacted
