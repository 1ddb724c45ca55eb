"""Reviewed panels as training labels, and the promotion comparison on reviewed panels."""

import pytest

from diagnostics.models import JobStatus, ModelVersion, TrainingRun, TrainingRunReview
from diagnostics.services.holdout import is_held_out
from diagnostics.services.registry import activate_model_version, artefact_dir
from diagnostics.services.reviews import record_review
from diagnostics.services.training import process_training_run, start_training_run
from tests.job_builders import copy_model, import_dev_panels
from tests.review_builders import dev_sample_panels

pytestmark = pytest.mark.django_db

# The reviewed diagnosis given for a panel whose dev record has this label (subclinical forms on purpose).
REVIEWED_AS = {"normal": "normal", "hyperthyroid": "subclinical_hyperthyroid", "hypothyroid": "subclinical_hypothyroid"}


def reviewed_panels(clinician, *, step: int, offset: int, prefix: str) -> list:
    """Panels from the dev data without a known diagnosis (entered through the form), reviewed by a
    clinician with their record's class; records outside the three classes are reviewed "other"."""
    from tests.job_builders import dev_records

    records = dev_records(100_000)[offset::step]
    panels = dev_sample_panels(step=step, offset=offset, prefix=prefix)
    for panel, record in zip(panels, records, strict=True):
        diagnosis = REVIEWED_AS.get(record["label"], "other_thyroid")
        record_review(panel=panel, user=clinician, agrees=False, diagnosis=diagnosis)
    return panels


@pytest.mark.slow
def test_a_training_run_with_reviewed_panels_reports_and_uses_them(
    active_version, clinician, data_manager, media_root, client_for
):
    import_dev_panels(300)
    panels = reviewed_panels(clinician, step=120, offset=3, prefix="REV")
    trainable = [p for p in panels if not is_held_out(f"panel:{p.pk}") and p.reviews.get().diagnosis != "other_thyroid"]
    page = client_for(data_manager).get("/jobs/training/").content.decode()
    assert f"Reviewed panels that would be added: {len(trainable)}" in page

    run = start_training_run(user=data_manager, params={"epochs": 2}, include_reviews=True)
    process_training_run(run_id=run.pk, task_id=run.celery_task_id)

    run.refresh_from_db()
    assert run.status == JobStatus.SUCCEEDED, run.message
    assert f"{len(trainable)} of them reviewed by clinicians" in run.message
    used = TrainingRunReview.objects.filter(run=run)
    assert sorted(used.values_list("panel_id", flat=True)) == sorted(p.pk for p in trainable)
    assert {u.label for u in used} <= {"normal", "hyperthyroid", "hypothyroid"}
    assert all(u.label == u.review.diagnosis.removeprefix("subclinical_") for u in used)
    version = run.result_version
    assert sum(version.metrics["reviewed_counts"].values()) == len(trainable)
    # mlcore trained on them: its training rows count the labelled panels plus the reviewed ones
    import json

    rows = json.loads((artefact_dir(version) / "metadata.json").read_text())["training_rows"]
    assert rows["train"] == version.metrics["training_counts"]
    assert version.input_reference.labs["TSH"]["edges"]  # the drift baseline is stored at registration
    api_run = client_for(data_manager).get(f"/api/v1/training-runs/{run.pk}/").json()
    assert api_run["params"]["include_reviews"] is True
    assert sum(api_run["reviewed_panels"].values()) == len(trainable)


def test_promotion_shows_the_reviewed_panel_comparison_when_enough_exist(
    active_version, small_model_dir, tmp_path, clinician, data_manager, client_for, settings
):
    import_dev_panels(300)
    panels = reviewed_panels(clinician, step=150, offset=11, prefix="UNSEEN")
    labelled = [p for p in panels if p.reviews.get().diagnosis != "other_thyroid"]
    candidate = ModelVersion.objects.create(
        version="candidate-reviews", artefact_path=str(copy_model(small_model_dir, tmp_path / "candidate"))
    )
    # a reviewed panel that the candidate's run trained on is not "unseen"
    run = TrainingRun.objects.create(result_version=candidate)
    seen = labelled[0]
    TrainingRunReview.objects.create(run=run, review=seen.reviews.get(), panel=seen, label="normal")
    unseen = len(labelled) - 1
    assert unseen >= 30

    settings.THYROWEB_REVIEW_MIN_COMPARISON = unseen + 1
    page = client_for(data_manager).get(f"/models/{candidate.pk}/").content.decode()
    assert "reviewed-comparison-missing" in page and f"needs at least {unseen + 1}" in page

    settings.THYROWEB_REVIEW_MIN_COMPARISON = 30
    page = client_for(data_manager).get(f"/models/{candidate.pk}/").content.decode()
    assert 'id="reviewed-comparison"' in page
    assert f"Recent reviewed panels that neither model trained on ({unseen})" in page
    assert "Fixed held-out rows" in page

    activate_model_version(version=candidate, user=data_manager)
    candidate.refresh_from_db()
    reviewed = candidate.metrics["promotion"]["reviewed"]
    # rows without TSH are not assessed, so neither model is judged on them
    assert reviewed["rows"] == unseen and reviewed["candidate"]["rows"] == reviewed["active"]["rows"] <= unseen
    assert reviewed["candidate"]["macro_f1"] == pytest.approx(reviewed["active"]["macro_f1"])  # same weights
    page = client_for(data_manager).get(f"/models/{candidate.pk}/").content.decode()
    assert "Comparison made at promotion" in page and 'id="reviewed-comparison"' in page
