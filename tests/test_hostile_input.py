"""Hostile input: malformed files, oversized bodies, injection strings and random bytes at every entrance.

Every case must end in a clear 4xx (or a form error, or a report of rejected
rows naming line and reason): never a 500, never half-written data.
"""

import csv
import io
import json
import os
import random

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse

from diagnostics.models import AuditEvent, LabPanel, Patient, Prediction, ScoringJob, TrainingRun
from diagnostics.services.uci_import import ImportRejected, import_uci
from mlcore.data import read_csv
from mlcore.predictor import DEFAULT_MODEL_DIR
from mlcore.schema import HISTORY_FLAGS, INPUT_FIELDS, LAB_TESTS

pytestmark = pytest.mark.django_db

RNG = random.Random(20261126)
RANDOM_BYTES = bytes(RNG.getrandbits(8) for _ in range(64 * 1024))

UCI_GOOD = (
    "29,F,f,f,f,f,f,f,f,t,f,f,f,f,f,f,t,0.3,f,?,f,?,f,?,f,?,f,?,other,-[840801013]\n"
    "28,F,f,f,f,f,f,f,f,f,f,f,f,f,f,f,t,0.7,t,2.6,t,116,f,?,f,?,f,?,SVI,-[840807019]\n"
)
UCI_BAD_LINE = "28,F,f,f,f,f,f,f,f\n"  # too few fields

INJECTIONS = [
    "'; DROP TABLE diagnostics_patient; --",
    '" OR 1=1 --',
    "<script>alert('x')</script>",
    "<img src=x onerror=alert(1)>",
    "=cmd|' /C calc'!A0",
    "{{ settings.SECRET_KEY }}",
    "../../../../etc/passwd",
    "%00%0d%0a",
]
HOSTILE_TEXTS = [*INJECTIONS, "nul\x00byte", "lone\ud800surrogate", "x" * 10_000]
TEXT_IDS = [
    "sql-drop",
    "sql-or",
    "html-script",
    "html-img",
    "csv-formula",
    "template",
    "path",
    "url-escapes",
    "nul-byte",
    "lone-surrogate",
    "10k-chars",
]
# A browser cannot send a lone surrogate in a form (it is not UTF-8); forms get invalid UTF-8 bytes instead, below.
FORM_TEXTS = [text for text in HOSTILE_TEXTS if "\ud800" not in text]
FORM_TEXT_IDS = [name for name in TEXT_IDS if name != "lone-surrogate"]
HAS_MODEL = (DEFAULT_MODEL_DIR / "metadata.json").exists()


def error_key(field: str, text: str) -> str:
    """The API names the field, or the whole body when the JSON itself is unusable (a lone surrogate)."""
    return "body" if "\ud800" in text else field


def snapshot() -> dict[str, int]:
    return {
        "patients": Patient.objects.count(),
        "panels": LabPanel.objects.count(),
        "predictions": Prediction.objects.count(),
        "scoring_jobs": ScoringJob.objects.count(),
        "training_runs": TrainingRun.objects.count(),
    }


def csv_text(rows: list[dict], columns=INPUT_FIELDS) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return out.getvalue()


def good_csv_row(**overrides) -> dict:
    row = {name: "" for name in INPUT_FIELDS}
    row.update({flag: "f" for flag in HISTORY_FLAGS})
    row.update(
        {
            "age": "41",
            "sex": "F",
            "TSH": "1.2",
            "T3": "1.9",
            "TT4": "105",
            "T4U": "1.0",
            "FTI": "105",
            "referral_source": "other",
        }
    )
    row.update(overrides)
    return row


def assert_clear_refusal(response, *, field: str | None = None):
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:300])
    if field is not None and response["Content-Type"].startswith("application/json"):
        assert field in json.dumps(response.json()), response.json()


# --- importers: UCI files -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        RANDOM_BYTES,
        UCI_GOOD.encode("utf-16"),
        (UCI_GOOD + UCI_BAD_LINE).encode(),
        b"age,sex,TSH\n41,F,1.2\n",
        b"\x00" * 4096,
        UCI_GOOD.replace("F,", "\u00e9,").encode("latin-1"),
    ],
    ids=["random-bytes", "utf-16", "one-short-line", "a-csv-not-uci", "nul-bytes", "latin-1"],
)
def test_the_uci_importer_rejects_malformed_files_whole_and_writes_nothing(tmp_path, content):
    path = tmp_path / "hostile.data"
    path.write_bytes(content)
    before = snapshot()
    with pytest.raises(ImportRejected) as rejected:
        import_uci(path)
    assert rejected.value.errors and all(error.line >= 1 and error.reason for error in rejected.value.errors)
    assert snapshot() == before


def test_the_uci_importer_with_skip_bad_keeps_good_lines_and_reports_bad_ones(tmp_path):
    path = tmp_path / "mixed.data"
    path.write_text(UCI_GOOD + UCI_BAD_LINE)
    report = import_uci(path, skip_bad=True)
    assert report.created_panels == 2
    assert [error.line for error in report.rejected] == [3]


def test_the_import_command_answers_random_bytes_with_an_error_not_a_traceback(tmp_path):
    path = tmp_path / "random.data"
    path.write_bytes(RANDOM_BYTES)
    with pytest.raises(CommandError, match="nothing imported"):
        call_command("import_uci", str(path), stdout=io.StringIO(), stderr=io.StringIO())
    assert snapshot()["panels"] == 0


# --- importers: CSV reader -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content, reason",
    [
        (RANDOM_BYTES, ""),
        (csv_text([good_csv_row()]).encode("utf-16"), ""),
        (b"age,sex,TSH\n41,F,1.2\n", "missing required column"),
        (csv_text([good_csv_row()]).replace("age,", "age,age,", 1).encode(), ""),
        (b"", "empty"),
    ],
    ids=["random-bytes", "utf-16", "missing-columns", "duplicated-column", "empty"],
)
def test_the_csv_reader_reports_unreadable_files_with_line_and_reason(tmp_path, content, reason):
    path = tmp_path / "hostile.csv"
    path.write_bytes(content)
    result = read_csv(path)
    assert not result.records
    assert result.errors and result.errors[0].line == 1
    assert reason in result.errors[0].reason


def test_the_csv_reader_rejects_bad_rows_by_line_and_keeps_good_ones(tmp_path):
    rows = [
        good_csv_row(),
        good_csv_row(TSH="<script>"),
        good_csv_row(age="'; DROP TABLE x; --"),
        good_csv_row(sex="=cmd|' /C calc'!A0"),
        good_csv_row(TSH="1e309"),
        good_csv_row(referral_source="x" * 500),
    ]
    path = tmp_path / "rows.csv"
    path.write_text(csv_text(rows))
    result = read_csv(path)
    assert len(result.records) == 1
    assert [error.line for error in result.errors] == [3, 4, 5, 6, 7]


def test_the_csv_reader_survives_a_huge_cell_and_a_latin_1_line(tmp_path):
    text = csv_text([good_csv_row(), good_csv_row(referral_source="y" * 300_000)])
    path = tmp_path / "huge.csv"
    path.write_bytes(text.encode() + "41,F,caf\u00e9\n".encode("latin-1"))
    result = read_csv(path)
    assert len(result.records) == 1
    assert {error.line for error in result.errors} == {3, 4}


# --- uploads: batch scoring and training files -----------------------------------------------------


def upload(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="text/csv")


@pytest.mark.parametrize(
    "content, message",
    [
        (RANDOM_BYTES, "UTF-8"),
        (csv_text([good_csv_row()]).encode("utf-16"), "UTF-8"),
        (b"age,sex\n41,F\n", "missing required column(s): one lab test at least"),  # lab columns: one needed
        (b"", "empty"),
        (b"\n\n\n", "empty"),
        (csv_text([]).encode(), "no data rows"),
    ],
    ids=["random-bytes", "utf-16", "missing-columns", "empty", "blank-lines", "header-only"],
)
def test_the_scoring_upload_api_refuses_unreadable_files_and_creates_no_job(client_for, data_manager, content, message):
    before = snapshot()
    response = client_for(data_manager).post(reverse("api-scoring-jobs"), {"file": upload("x.csv", content)})
    assert_clear_refusal(response, field="file")
    assert message in json.dumps(response.json())
    assert snapshot() == before


def test_the_scoring_upload_api_reports_rejected_rows_by_line(client_for, data_manager):
    rows = [good_csv_row(), good_csv_row(TSH="<script>"), good_csv_row(age="-5"), good_csv_row()]
    response = client_for(data_manager).post(
        reverse("api-scoring-jobs"), {"file": upload("rows.csv", csv_text(rows).encode())}
    )
    assert response.status_code == 202, response.content
    job = ScoringJob.objects.get()
    assert (job.accepted_rows, job.rejected_rows) == (2, 2)
    assert [entry["line"] for entry in job.rejected] == [3, 4]
    assert all(entry["reason"] for entry in job.rejected)
    assert LabPanel.objects.count() == 0  # panels are written by the job, not by the upload


def test_an_upload_over_the_size_limit_is_refused_before_any_job(client_for, data_manager, settings):
    settings.THYROWEB_MAX_UPLOAD_BYTES = 10_000
    big = csv_text([good_csv_row()] * 400).encode()
    assert len(big) > 10_000
    before = snapshot()
    client = client_for(data_manager)
    api = client.post(reverse("api-scoring-jobs"), {"file": upload("big.csv", big)})
    assert api.status_code in (400, 413)
    page = client.post(reverse("scoring_start"), {"uploaded_file": upload("big.csv", big)})
    assert page.status_code in (400, 413)
    assert snapshot() == before


def test_a_request_body_far_over_the_limit_gets_413_before_it_is_read(client_for, data_manager, settings):
    settings.THYROWEB_MAX_UPLOAD_BYTES = 10_000
    body = b"x" * (2 * 1024 * 1024)
    client = client_for(data_manager)
    for url in (reverse("scoring_start"), reverse("api-scoring-jobs"), reverse("api-predict")):
        response = client.post(url, body, content_type="application/octet-stream")
        assert response.status_code == 413, url


@pytest.mark.parametrize(
    "content", [RANDOM_BYTES, b"", csv_text([good_csv_row()]).encode("utf-16")], ids=["random-bytes", "empty", "utf-16"]
)
def test_the_scoring_upload_page_shows_an_error_and_creates_no_job(client_for, data_manager, content):
    before = snapshot()
    response = client_for(data_manager).post(reverse("scoring_start"), {"uploaded_file": upload("x.csv", content)})
    assert response.status_code == 400
    assert 'class="errorlist' in response.content.decode() or "error" in response.content.decode()
    assert snapshot() == before


@pytest.mark.parametrize(
    "content",
    [RANDOM_BYTES, UCI_GOOD.encode("utf-16"), b"age,sex\n1,F\n"],
    ids=["random-bytes", "utf-16", "a-csv-not-uci"],
)
def test_the_training_page_refuses_an_unreadable_data_file_and_starts_no_run(client_for, data_manager, content):
    before = snapshot()
    response = client_for(data_manager).post(reverse("training_start"), {"data_file": upload("x.data", content)})
    assert response.status_code in (200, 400)
    assert "UCI" in response.content.decode()
    assert snapshot() == before


@pytest.mark.parametrize(
    "data_file",
    ["../../../../etc/passwd", "/etc/passwd", "<script>", "x\x00y"],
    ids=["relative-escape", "absolute", "html", "nul-byte"],
)
def test_the_training_api_refuses_a_data_file_outside_the_data_folder(client_for, data_manager, data_file):
    before = snapshot()
    response = client_for(data_manager).post(
        reverse("api-training-runs"), {"data_file": data_file}, content_type="application/json"
    )
    assert_clear_refusal(response, field="data_file")
    assert snapshot() == before


# --- JSON API bodies ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body, content_type, expected",
    [
        (b"{not json", "application/json", {400}),
        (b"[" * 100_000 + b"]" * 100_000, "application/json", {400}),
        (b'{"TSH": NaN}', "application/json", {400}),
        (b'{"TSH": Infinity}', "application/json", {400}),
        (b'{"TSH": 1e309}', "application/json", {400}),
        (RANDOM_BYTES[:4096], "application/json", {400}),
        (b"<panel><TSH>2</TSH></panel>", "application/xml", {415}),
        (b"TSH=2", "application/x-www-form-urlencoded", {415}),
        (b'"just a string"', "application/json", {400}),
        (b"[1, 2, 3]", "application/json", {400}),
        (b"\xff\xfe{\x00}\x00", "application/json", {400}),
    ],
    ids=[
        "malformed",
        "deeply-nested",
        "nan",
        "infinity",
        "overflow",
        "random-bytes",
        "xml",
        "form-encoded",
        "a-string",
        "a-list",
        "utf-16-bom",
    ],
)
@pytest.mark.parametrize("name", ["api-predict", "api-predict-bulk", "api-patients", "api-fhir-import"])
def test_api_bodies_that_are_not_a_json_object_are_refused_clearly(
    client_for, clinician, name, body, content_type, expected
):
    before = snapshot()
    response = client_for(clinician).post(reverse(name), body, content_type=content_type)
    if name == "api-fhir-import" and content_type == "application/json" and response.status_code == 415:
        return  # FHIR takes application/fhir+json only
    assert response.status_code in expected, (response.status_code, response.content[:300])
    assert "errors" in response.json()
    assert snapshot() == before


def test_an_api_body_over_the_limit_gets_413(client_for, clinician, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    body = json.dumps({"panels": [{"TSH": 1.0, "age": 40}] * 2000})
    response = client_for(clinician).post(reverse("api-predict-bulk"), body, content_type="application/json")
    assert response.status_code == 413


def test_bulk_predict_refuses_more_than_ten_thousand_panels(client_for, clinician):
    body = json.dumps({"panels": [{"TSH": 1.0}] * 10_001})
    response = client_for(clinician).post(reverse("api-predict-bulk"), body, content_type="application/json")
    assert response.status_code in (400, 413)


PREDICT_TEXT_FIELDS = ["sex", "referral_source", "patient", "collected_at", "age", *LAB_TESTS, HISTORY_FLAGS[0]]


@pytest.mark.parametrize("text", HOSTILE_TEXTS, ids=TEXT_IDS)
@pytest.mark.parametrize("field", PREDICT_TEXT_FIELDS)
def test_predict_refuses_hostile_text_in_every_field_naming_it(client_for, clinician, field, text):
    body = {"age": 41, "sex": "F", "TSH": 1.2, "FTI": 100, field: text}
    if field == "patient":
        body["store"] = True
    client = client_for(clinician)
    before = snapshot()
    events = AuditEvent.objects.count()
    if field == "patient" and not HAS_MODEL and len(text) <= 64 and "\x00" not in text and "\ud800" not in text:
        pytest.skip("a valid record number is stored and scored: needs the shipped model")
    response = client.post(reverse("api-predict"), body, content_type="application/json")
    if field == "patient" and response.status_code == 201:
        # A record number is free text: it may be stored, but verbatim and only as data.
        assert Patient.objects.filter(record_number=text.strip()).exists()
        return
    assert_clear_refusal(response, field=error_key(field, text))
    assert snapshot() == before
    assert AuditEvent.objects.count() == events


@pytest.mark.parametrize("text", HOSTILE_TEXTS, ids=TEXT_IDS)
@pytest.mark.parametrize("field", ["record_number", "notes", "sex", "date_of_birth"])
def test_patient_create_stores_hostile_text_verbatim_or_refuses_it(client_for, clinician, field, text):
    body = {"record_number": "MRN-HOSTILE-1", field: text}
    response = client_for(clinician).post(reverse("api-patients"), body, content_type="application/json")
    assert response.status_code in (201, 400), (response.status_code, response.content[:300])
    if response.status_code == 400:
        assert error_key(field, text) in response.json()["errors"]
        assert not Patient.objects.exists()
    else:
        patient = Patient.objects.get()
        assert getattr(patient, field) == text
    assert connection.introspection.table_names().count("diagnostics_patient") == 1


def test_hostile_notes_and_record_numbers_are_escaped_on_the_pages(client_for, clinician):
    patient = Patient.objects.create(
        record_number="<script>alert('mrn')</script>", notes="<img src=x onerror=alert(1)>"
    )
    client = client_for(clinician)
    for response in (
        client.get(reverse("patient_detail", args=[patient.pk])),
        client.get(reverse("patient_list"), {"q": "<script>"}),
    ):
        html = response.content.decode()
        assert response.status_code == 200
        assert "<script>alert('mrn')</script>" not in html
        assert "<img src=x onerror" not in html


@pytest.mark.parametrize(
    "bundle",
    [
        {"resourceType": "Bundle"},
        {"resourceType": "Patient", "id": "x"},
        {"resourceType": "Bundle", "type": "collection", "entry": "not-a-list"},
        {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {"resourceType": "<script>"}}]},
        {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [
                {
                    "resource": {
                        "resourceType": "Observation",
                        "status": "final",
                        "code": {"coding": [{"system": "http://loinc.org", "code": "'; DROP TABLE x; --"}]},
                        "valueQuantity": {"value": "NaN", "unit": "<b>"},
                    }
                }
            ],
        },
        {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [
                {
                    "resource": {
                        "resourceType": "Observation",
                        "status": "final",
                        "code": {"coding": [{"system": "http://loinc.org", "code": "3016-3"}]},
                        "valueQuantity": {"value": 2.0, "unit": "furlongs"},
                    }
                }
            ],
        },
    ],
    ids=["no-entries", "not-a-bundle", "entry-not-a-list", "html-resource-type", "sql-code-nan-value", "unknown-unit"],
)
def test_fhir_import_refuses_hostile_bundles_and_writes_nothing(client_for, clinician, bundle):
    before = snapshot()
    response = client_for(clinician).post(
        reverse("api-fhir-import"), json.dumps(bundle), content_type="application/fhir+json"
    )
    assert_clear_refusal(response)
    assert snapshot() == before


# --- page forms ----------------------------------------------------------------------------------------


def panel_form(**overrides) -> dict:
    data = {
        "record_number": "MRN-FORM-1",
        "new_patient": "on",
        "sex": "F",
        "collected_at": "2026-01-05T10:00",
        "age": "41",
        "referral_source": "other",
        "TSH": "1.2",
        "FTI": "100",
    }
    data.update(overrides)
    return data


@pytest.mark.parametrize("text", FORM_TEXTS, ids=FORM_TEXT_IDS)
@pytest.mark.parametrize("field", ["record_number", "sex", "collected_at", "age", "referral_source", *LAB_TESTS])
def test_the_panel_form_refuses_hostile_text_with_a_field_error_and_saves_nothing(client_for, clinician, field, text):
    before = snapshot()
    response = client_for(clinician).post(reverse("panel_create"), panel_form(**{field: text}))
    if field == "record_number" and response.status_code == 302:
        assert Patient.objects.filter(record_number=text.strip()).exists()  # free text, stored verbatim
        return
    assert response.status_code in (200, 400), response.status_code
    html = response.content.decode()
    assert "errorlist" in html or 'class="error' in html
    assert "<script>alert('x')</script>" not in html
    assert "<img src=x onerror" not in html
    assert snapshot() == before


@pytest.mark.parametrize("text", FORM_TEXTS, ids=FORM_TEXT_IDS)
def test_searches_take_hostile_text_calmly(client_for, admin_user, text):
    client = client_for(admin_user)
    for name, params in (
        ("patient_list", {"q": text}),
        ("audit", {"actor": text, "action": text}),
        ("api-patients", {"search": text}),
        ("api-audit", {"object_id": text}),
    ):
        response = client.get(reverse(name), params)
        assert response.status_code in (200, 400), (name, response.status_code)


@pytest.mark.parametrize("text", FORM_TEXTS, ids=FORM_TEXT_IDS)
def test_the_login_form_takes_hostile_user_names_calmly(client, text):
    response = client.post(reverse("login"), {"username": text, "password": text})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


INVALID_UTF8 = "%ED%A0%80%FF%FE%C0%AF"  # an encoded surrogate, bytes that never occur in UTF-8, an overlong slash


@pytest.mark.parametrize("name", ["login", "panel_create", "audit", "patient_list"])
def test_forms_take_invalid_utf8_bytes_calmly(client_for, admin_user, name):
    client = client_for(admin_user)
    before = snapshot()
    body = f"record_number={INVALID_UTF8}&username={INVALID_UTF8}&password=x&new_patient=on&TSH={INVALID_UTF8}"
    response = client.post(reverse(name), body, content_type="application/x-www-form-urlencoded")
    assert response.status_code in (200, 302, 400, 405), response.status_code  # login: 302, already logged in
    response = client.get(f"{reverse(name)}?q={INVALID_UTF8}&actor={INVALID_UTF8}")
    assert response.status_code in (200, 302, 400), response.status_code
    assert snapshot() == before


# --- CSV export ----------------------------------------------------------------------------------------


def test_formula_cells_in_an_uploaded_file_are_neutralised_in_the_results_csv(client_for, data_manager):
    from diagnostics.services.scoring_jobs import process_scoring_job

    try:
        from diagnostics.services.registry import active_model_version

        active_model_version()
    except Exception as problem:  # the shipped model is not in this checkout yet
        pytest.skip(f"no model to score with: {problem}")
    rows = [good_csv_row(record_id="=cmd|' /C calc'!A0"), good_csv_row(record_id="@SUM(1+1)*cmd|' /C calc'!A0")]
    columns = [*INPUT_FIELDS, "record_id"]
    response = client_for(data_manager).post(
        reverse("api-scoring-jobs"), {"file": upload("formulas.csv", csv_text(rows, columns).encode())}
    )
    assert response.status_code == 202, response.content
    job = ScoringJob.objects.get()
    process_scoring_job(job_id=job.pk, task_id=job.celery_task_id)
    job.refresh_from_db()
    assert job.result_file, job.message
    with job.result_file.open("rb") as result:
        cells = [cell for row in csv.reader(io.StringIO(result.read().decode("utf-8-sig"))) for cell in row]
    assert "'=cmd|' /C calc'!A0" in cells
    assert not any(cell.startswith(("=", "+", "@")) for cell in cells)
    assert not any(cell.startswith("-") and not _is_number(cell) for cell in cells)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def test_random_bytes_never_reach_the_database_through_any_upload(client_for, data_manager):
    client = client_for(data_manager)
    before = snapshot()
    for _ in range(5):
        blob = os.urandom(RNG.randint(1, 20_000))
        assert client.post(reverse("api-scoring-jobs"), {"file": upload("r.csv", blob)}).status_code == 400
        assert client.post(reverse("scoring_start"), {"uploaded_file": upload("r.csv", blob)}).status_code == 400
        assert client.post(reverse("training_start"), {"data_file": upload("r.data", blob)}).status_code in (200, 400)
    assert snapshot() == before


@pytest.mark.parametrize(
    "name",
    ["../../../etc/passwd", "a\x00b.csv", "x" * 1000 + ".csv", "<script>alert(1)</script>.csv", "=cmd|' /C calc'!A0"],
    ids=["path-escape", "nul-byte", "1000-chars", "html", "formula"],
)
def test_hostile_upload_file_names_are_stored_harmlessly_or_refused(client_for, data_manager, name, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    client = client_for(data_manager)
    content = csv_text([good_csv_row()]).encode()
    response = client.post(reverse("api-scoring-jobs"), {"file": SimpleUploadedFile(name, content)})
    assert response.status_code in (202, 400), (response.status_code, response.content[:300])
    page = client.post(reverse("scoring_start"), {"uploaded_file": SimpleUploadedFile(name, content), "mode": "store"})
    assert page.status_code in (302, 400), page.status_code
    for job in ScoringJob.objects.all():
        assert job.input_file.name.startswith("scoring/input/job-") and ".." not in job.input_file.name
        assert "\x00" not in job.original_name and len(job.original_name) <= 255


@pytest.mark.slow
def test_a_large_file_within_the_limit_is_validated_whole_with_a_bad_row_reported(client_for, data_manager):
    rows = [good_csv_row()] * 20_000
    rows[12_345] = good_csv_row(TSH="=1+1")
    content = csv_text(rows).encode()
    assert len(content) > 1_000_000
    response = client_for(data_manager).post(reverse("api-scoring-jobs"), {"file": upload("big.csv", content)})
    assert response.status_code == 202, response.content[:300]
    job = ScoringJob.objects.get()
    assert (job.total_rows, job.accepted_rows, job.rejected_rows) == (20_000, 19_999, 1)
    assert job.rejected[0]["line"] == 12_347  # header is line 1
