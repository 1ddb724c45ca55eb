"""Every way a panel comes in goes through the one intake and the one record-and-score service.

The walk lists every URL of the site and the API, every Celery task and every management command of the
app. Each is either a way in (WAYS_IN: a panel is sent through it below) or named in TAKES_NO_PANEL with
the reason it takes none: a new route, task or command in neither list fails the walk, so whoever adds a
way in says so, and the test then checks it. Each way in is used with a panel while the calls are watched
(``sys.setprofile``: nothing is replaced, the real code runs on the real database): the intake
(``mlcore.intake.take_panel``) reads the panel, and the service (``diagnostics.services.intake``) scores it
(``score_panels``) and, where the panel is stored one by one, records it (``record_panel``); files stored in
bulk are written by the shared bulk writer. The stored or answered value proves it was the panel sent.
"""

import ast
import csv
import io
import json
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest
from celery import current_app
from django.core.management import call_command, get_commands
from django.urls import reverse

from diagnostics.models import JobStatus, LabPanel, Prediction, ScoringJob
from diagnostics.services import bulk_writes, intake
from diagnostics.tasks import help_scoring_job, run_scoring_job
from mlcore import intake as mlcore_intake
from tests.api_builders import api, make_patient, token_client
from tests.job_builders import upload
from tests.test_access_control import ROUTES

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root", "active_version")]

ROOT = Path(__file__).resolve().parent.parent
TSH = 7.7  # the value every way in sends: found again in what it stores or answers
PANEL = {"age": 52, "sex": "F", "TSH": TSH, "TT4": 95.0}
READ, SCORED, RECORDED, WRITTEN = "read by the intake", "scored", "recorded", "written in bulk"
WATCHED = {
    mlcore_intake.take_panel.__code__: READ,
    intake.score_panels.__code__: SCORED,
    intake.record_panel.__wrapped__.__code__: RECORDED,  # under its transaction.atomic
    bulk_writes.write_panels.__code__: WRITTEN,
}

# Routes, tasks and commands that take no panel, and why. Anything else must be a way in, below.
_SHOWS = "shows or lists stored things (GET)"
TAKES_NO_PANEL = {
    "routes": {
        **dict.fromkeys(
            (
                "dashboard",
                "patient_list",
                "patient_detail",
                "panel_detail",
                "model_list",
                "model_detail",
                "model_compare",
                "training_list",
                "training_detail",
                "training_progress",
                "scoring_list",
                "scoring_detail",
                "scoring_progress",
                "scoring_results",
                "scoring_template",
                "review_worklist",
                "monitoring",
                "audit",
                "audit_export",
                "api-audit",
                "api-audit-export",
                "api-docs",
                "api-schema",
                "api-model-version",
                "api-model-versions",
                "api-monitoring",
                "api-prediction",
                "api-predictions",
                "api-review-worklist",
                "api-scoring-job",
                "api-scoring-job-results",
                "api-training-run",
                "healthz",
                "readyz",
            ),
            _SHOWS,
        ),  # fmt: skip
        "patient_report": "a PDF of a patient's stored panels",
        "panel_report": "a PDF of a stored panel",
        "review_create": "a clinician's review of a stored panel",
        "model_activate": "activates a model version",
        "api-model-version-activate": "activates a model version",
        "monitoring_refresh": "aggregates stored predictions",
        "api-training-runs": "names a file of the data folder for a training run; the run's task reads it "
        "through mlcore's reader and the intake (as training_start's upload is read, above)",
        "api-patients": "patients only (record number, sex, date of birth, notes)",
        "api-patient": "a patient's own fields",
        "api-patient-fhir": "exports stored panels",
        "api-panel-reviews": "reviews of stored panels",
        "login": "credentials",
        "logout": "nothing",
        "set_language": "a language",
        "admin:diagnostics_labpanel_add": "refused: the admin adds no panel (they come in through the intake)",
        "admin:diagnostics_labpanel_changelist": _SHOWS,
        "admin:diagnostics_labpanel_history": _SHOWS,
        "admin:diagnostics_labpanel_delete": "deletes a panel",
        "admin:diagnostics_labpanel_change": "corrects an unscored panel's values (LabPanel.clean: the schema's "
        "ranges); a scored panel's values are locked",
    },
    "tasks": {
        "diagnostics.health_check": "a worker's sign of life",
        "diagnostics.run_training": "trains on stored panels and the run's data file (read at upload, below)",
        "diagnostics.heal_jobs": "queues lost jobs again",
        "diagnostics.periodic_retrain": "starts a training run",
        "diagnostics.refresh_monitoring": "aggregates stored predictions",
    },
    "commands": {
        "api_token": "a user's API token",
        "backup": "copies the database and files",
        "restore": "restores a backup of this installation's own rows",
        "create_demo_users": "users",
        "fetch_uci": "downloads the archive to a file (imported by import_uci)",
        "schedule_retrain": "a schedule",
        "setup_roles": "role groups",
    },
}


@contextmanager
def watched_calls():
    """The watched functions called while the block runs in this thread (nothing is replaced)."""
    seen: list[str] = []

    def profile(frame, event, arg):
        if event == "call" and frame.f_code in WATCHED:
            seen.append(WATCHED[frame.f_code])

    previous = sys.getprofile()
    sys.setprofile(profile)
    try:
        yield seen
    finally:
        sys.setprofile(previous)


def form_post(client):
    data = {"record_number": "WAY-FORM", "new_patient": "on", "sex": "F", "collected_at": "2026-11-20T09:30",
            "referral_source": "other", "age": "52", "TSH": str(TSH).replace(".", ","), "TT4": "95"}  # fmt: skip
    response = client.post(reverse("panel_create"), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    return LabPanel.objects.get(patient__record_number="WAY-FORM").TSH


def predict(machine, **options):
    response = api(machine, "post", "/api/v1/predict", {**PANEL, **options})
    assert response.status_code in (200, 201), response.content
    body = response.json()
    if options.get("patient"):
        return LabPanel.objects.get(pk=body["panel_id"]).TSH
    return body["explanation"] and TSH  # the answer explains the panel sent


def bulk(machine):
    response = api(machine, "post", "/api/v1/predict/bulk", {"panels": [PANEL, {**PANEL, "TSH": 1.0}]})
    assert response.status_code == 200, response.content
    assert response.json()["count"] == 2
    return TSH


def patient_panel(machine):
    patient = make_patient("WAY-API-PANEL")
    response = api(machine, "post", f"/api/v1/patients/{patient.pk}/panels/", PANEL)
    assert response.status_code == 201, response.content
    return response.json()["TSH"]


def fhir(machine):
    observation = {"resourceType": "Observation", "status": "final", "subject": {"reference": "urn:uuid:p"},
                   "code": {"coding": [{"system": "http://loinc.org", "code": "3016-3"}]},
                   "effectiveDateTime": "2024-05-01T08:30:00Z",
                   "valueQuantity": {"value": TSH, "unit": "mIU/L", "system": "http://unitsofmeasure.org",
                                     "code": "m[IU]/L"}}  # fmt: skip
    patient = {"resourceType": "Patient", "identifier": [{"value": "WAY-FHIR"}]}
    bundle = {"resourceType": "Bundle", "type": "transaction",
              "entry": [{"fullUrl": "urn:uuid:p", "resource": patient}, {"resource": observation}]}  # fmt: skip
    response = machine.post("/api/v1/fhir/Bundle", json.dumps(bundle), content_type="application/fhir+json")
    assert response.status_code == 201, response.content
    return LabPanel.objects.get(patient__record_number="WAY-FHIR").TSH


SCORING_FILE = f"record_number,TSH,TT4\nWAY-CSV,{TSH},95\n"


def scoring_page(client):
    response = client.post(reverse("scoring_start"), {"uploaded_file": upload(SCORING_FILE), "mode": "store"})
    assert response.status_code == 302, response.content.decode()[:2000]
    return ScoringJob.objects.get().accepted_rows and TSH


def scoring_api(client):
    response = client.post("/api/v1/scoring-jobs/", {"file": upload(SCORING_FILE), "mode": "score_only"})
    assert response.status_code == 202, response.content
    return ScoringJob.objects.get().accepted_rows and TSH


UCI_LINE = f"52,F,f,f,f,f,f,f,f,f,f,f,f,f,f,f,t,{TSH},f,?,t,95,f,?,f,?,f,?,other,-[840801099]\n"


def training_page(client):
    response = client.post(reverse("training_start"), {"data_file": upload(UCI_LINE * 40, "extra.data")})
    assert response.status_code == 302, response.content.decode()[:2000]
    return TSH  # the file is checked (read through the intake) at upload; its rows are trained on


def queued_job(client):
    """A store job of the scoring file, uploaded and not yet run (its task runs in this thread below)."""
    client.post(reverse("scoring_start"), {"uploaded_file": upload(SCORING_FILE), "mode": "store"})
    return ScoringJob.objects.get()


def scoring_task(client):
    job = queued_job(client)
    with watched_calls() as seen:
        run_scoring_job.apply(args=[job.pk], task_id=job.celery_task_id)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.message
    return seen, LabPanel.objects.get(patient__record_number="WAY-CSV").TSH


def helper_task(client, settings):
    settings.THYROWEB_SCORING_CHUNK_ROWS = 1
    client.post(reverse("scoring_start"), {"uploaded_file": upload(SCORING_FILE + "WAY-CSV-2,1.0,95\n"),
                                           "mode": "score_only"})  # fmt: skip
    job = ScoringJob.objects.get()
    from diagnostics.services.scoring_jobs import worker

    ScoringJob.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING)
    job.refresh_from_db()
    worker._prepare_chunks(job)  # as the job's own task leaves it for the helpers
    with watched_calls() as seen:
        help_scoring_job.apply(args=[job.pk])
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.message
    rows = csv.DictReader(io.StringIO(job.result_file.open().read().decode()))
    return seen, next(float(row["TSH"]) for row in rows if row["record_number"] == "WAY-CSV")


def import_command(tmp_path):
    path = tmp_path / "one.data"
    path.write_text(UCI_LINE)
    with watched_calls() as seen:
        call_command("import_uci", str(path), stdout=io.StringIO())
    return seen, LabPanel.objects.get(source_ref="840801099").TSH


def setup_command(tmp_path, settings):
    (tmp_path / "thyroid0387-dev.data").write_text(UCI_LINE)
    settings.THYROWEB_DATA_DIR = settings.THYROWEB_HOME = tmp_path
    with watched_calls() as seen:
        call_command("setup_thyroweb", "--no-demo-users", stdout=io.StringIO())
    assert Prediction.objects.filter(panel__source_ref="840801099").exists()
    return seen, LabPanel.objects.get(source_ref="840801099").TSH


# Each way in: (kind, name) -> (how to send a panel through it, what must be watched).
WAYS_IN = {
    ("routes", "panel_create"): ("page", form_post, {READ, RECORDED, SCORED}),
    ("routes", "api-predict"): ("api", predict, {READ, SCORED}),
    ("routes", "api-predict+store"): ("api", lambda m: predict(m, patient="WAY-API"), {READ, RECORDED, SCORED}),
    ("routes", "api-predict-bulk"): ("api", bulk, {READ, SCORED}),
    ("routes", "api-patient-panels"): ("api", patient_panel, {READ, RECORDED, SCORED}),
    ("routes", "api-fhir-import"): ("api", fhir, {READ, RECORDED, SCORED}),
    ("routes", "scoring_start"): ("data_manager_page", scoring_page, {READ}),
    ("routes", "api-scoring-jobs"): ("data_manager_page", scoring_api, {READ}),
    ("routes", "training_start"): ("data_manager_page", training_page, {READ}),
    ("tasks", "diagnostics.run_scoring_job"): ("task", scoring_task, {SCORED, WRITTEN}),
    ("tasks", "diagnostics.help_scoring_job"): ("helper", helper_task, {SCORED}),
    ("commands", "import_uci"): ("command", import_command, {READ, WRITTEN}),
    ("commands", "setup_thyroweb"): ("setup", setup_command, {READ, WRITTEN, SCORED}),
}


def app_routes() -> set[str]:
    """The app's routes, and the admin's panel routes (the admin's other models hold no panel values)."""
    return {route.name for route in ROUTES if route.name and (not route.is_admin_site or "_labpanel_" in route.name)}


def app_tasks() -> set[str]:
    return {name for name in current_app.tasks if name.startswith("diagnostics.")}


def app_commands() -> set[str]:
    return {name for name, app in get_commands().items() if app == "diagnostics"}


def test_every_route_task_and_command_is_a_way_in_or_says_why_it_takes_no_panel():
    ways_in = {(kind, name.split("+")[0]) for kind, name in WAYS_IN}
    found = {"routes": app_routes(), "tasks": app_tasks(), "commands": app_commands()}
    for kind, names in found.items():
        unknown = sorted(name for name in names if (kind, name) not in ways_in and name not in TAKES_NO_PANEL[kind])
        assert not unknown, f"add each {kind[:-1]} to WAYS_IN (and send a panel through it) or to TAKES_NO_PANEL"
        gone = sorted(name for name in TAKES_NO_PANEL[kind] if name not in names)
        assert not gone, f"{kind} listed here that no longer exist: {gone}"
    for kind, name in ways_in:
        assert name in found[kind], f"{kind[:-1]} {name!r} is listed as a way in but does not exist"


def test_the_admin_adds_no_panel(client_for, admin_user):
    response = client_for(admin_user).get(reverse("admin:diagnostics_labpanel_add"))
    assert response.status_code == 403


@pytest.mark.parametrize("way", sorted(WAYS_IN), ids=lambda way: way[1])
def test_each_way_in_goes_through_the_intake_and_the_service(
    way, client_for, clinician, data_manager, tmp_path, settings
):
    who, send, expected = WAYS_IN[way]
    if who in ("task", "helper"):
        client = client_for(data_manager)
        seen, value = send(client) if who == "task" else send(client, settings)
    elif who in ("command", "setup"):
        seen, value = send(tmp_path) if who == "command" else send(tmp_path, settings)
    else:
        client = token_client(clinician) if who == "api" else client_for(data_manager if "data_manager" in who
                                                                           else clinician)  # fmt: skip
        with watched_calls() as seen:
            value = send(client)
    assert expected <= set(seen), f"{way[1]}: watched {sorted(set(seen))}, expected {sorted(expected)}"
    assert value == pytest.approx(TSH)  # the panel sent is the one stored or answered


def test_only_the_one_service_scores_and_only_the_intake_reads_values():
    """No module of the app calls a predictor or mlcore's validation itself: the service and the intake do."""
    found = []
    for path in sorted((ROOT / "diagnostics").rglob("*.py")):
        if "migrations" in path.parts:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                name = node.func.attr
                if name == "predict" or name in ("validate_panel", "validate_panel_all", "convert_panel"):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno} .{name}()")
            if isinstance(node, ast.ImportFrom) and node.module == "mlcore.schema":
                imported = {alias.name for alias in node.names}
                if imported & {"validate_panel", "validate_panel_all", "check_has_lab_value"}:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno} imports mlcore.schema's validation")
    assert found == ["diagnostics/services/intake.py:114 .predict()"] or (
        len(found) == 1 and found[0].startswith("diagnostics/services/intake.py:")
    ), found
