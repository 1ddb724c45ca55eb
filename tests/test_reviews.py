"""The review worklist, clinicians' reviews (amendable, audited) and reviewed panels as labels."""

from datetime import timedelta

import pytest
from django.utils import timezone

from diagnostics.models import AuditEvent, PanelReview, TrainingRun
from diagnostics.services.holdout import is_held_out
from diagnostics.services.review_queue import in_review_sample, worklist
from diagnostics.services.reviews import record_review, reviewed_label_counts
from diagnostics.services.training import training_records
from mlcore import rules
from tests.api_builders import api, token_client
from tests.page_builders import make_panel, make_patient, make_version
from tests.review_builders import stored_prediction

pytestmark = pytest.mark.django_db


@pytest.fixture
def version():
    return make_version("review-test-1")


def queued_panels(**filters) -> list[int]:
    return [prediction.panel_id for prediction in worklist(**filters)]


def test_the_worklist_holds_referrals_unassessed_abnormal_classes_and_a_sample_of_normals(version, settings):
    patient = make_patient()
    refer = stored_prediction(make_panel(patient), version, "normal", outcome=rules.REFER, reasons=["low_confidence"])
    unassessed = stored_prediction(make_panel(patient, TSH=None), version, outcome=rules.NOT_ASSESSED)
    hyper = stored_prediction(make_panel(patient, TSH=0.01, TT4=200), version, "hyperthyroid")
    hypo = stored_prediction(make_panel(patient, TSH=40, TT4=30), version, "hypothyroid")
    normals = [stored_prediction(make_panel(patient), version, "normal") for _ in range(60)]
    flagged = [refer.panel_id, unassessed.panel_id, hyper.panel_id, hypo.panel_id]

    settings.THYROWEB_REVIEW_SAMPLE_RATE = 0.0
    assert sorted(queued_panels()) == sorted(flagged)
    settings.THYROWEB_REVIEW_SAMPLE_RATE = 1.0
    assert len(queued_panels()) == 64
    settings.THYROWEB_REVIEW_SAMPLE_RATE = 0.05
    sampled = [p.panel_id for p in normals if in_review_sample(p.panel_id)]
    assert sorted(queued_panels(reason="sample")) == sorted(sampled)  # the SQL rule is the Python rule
    assert 0 < len(sampled) < 10  # about 5 % of 60, the same panels every time
    assert sorted(queued_panels()) == sorted(flagged + sampled)


def test_the_worklist_filters_by_reason_class_and_age_and_shows_the_oldest_first(version, settings):
    settings.THYROWEB_REVIEW_SAMPLE_RATE = 0.0
    patient = make_patient()
    now = timezone.now()
    old = stored_prediction(
        make_panel(patient),
        version,
        "hypothyroid",
        outcome=rules.REFER,
        reasons=["context_not_covered"],
        at=now - timedelta(days=10),
    )
    middle = stored_prediction(make_panel(patient), version, "hyperthyroid", at=now - timedelta(days=3))
    new = stored_prediction(make_panel(patient), version, "normal", outcome=rules.REFER, reasons=["low_confidence"])

    assert queued_panels() == [old.panel_id, middle.panel_id, new.panel_id]
    assert queued_panels(reason="low_confidence") == [new.panel_id]
    assert queued_panels(reason="context_not_covered") == [old.panel_id]
    assert queued_panels(reason="refer") == [old.panel_id, new.panel_id]
    assert queued_panels(reason="abnormal") == [old.panel_id, middle.panel_id]
    assert queued_panels(predicted_class="hyperthyroid") == [middle.panel_id]
    assert queued_panels(older_than_days=7) == [old.panel_id]
    assert queued_panels(older_than_days=1) == [old.panel_id, middle.panel_id]


def test_a_clinician_reviews_an_item_and_it_leaves_the_worklist(version, client_for, clinician, settings):
    settings.THYROWEB_REVIEW_SAMPLE_RATE = 0.0
    patient = make_patient("MRN-REVIEW-1")
    prediction = stored_prediction(make_panel(patient, TSH=0.01, TT4=200), version, "hyperthyroid")
    client = client_for(clinician)
    page = client.get("/reviews/").content.decode()
    assert "MRN-REVIEW-1" in page and f"/panels/{prediction.panel_id}/" in page

    response = client.post(
        f"/panels/{prediction.panel_id}/review/", {"decision": "agree", "comment": "TRAb positive", "next": "/reviews/"}
    )

    assert response.status_code == 302 and response["Location"] == "/reviews/"
    review = PanelReview.objects.get(panel_id=prediction.panel_id)
    assert review.agrees and review.diagnosis == "hyperthyroid" and review.comment == "TRAb positive"
    assert review.reviewed_by == clinician and review.prediction == prediction
    assert timezone.now() - review.reviewed_at < timedelta(minutes=1)
    assert "MRN-REVIEW-1" not in client.get("/reviews/").content.decode()
    assert queued_panels() == []
    event = AuditEvent.objects.get(action="review.create")
    assert event.actor == clinician and event.details["panel_id"] == prediction.panel_id
    assert "TRAb" not in str(event.details)  # the comment stays out of the trail
    assert "Agreed with the prediction" in client.get(f"/panels/{prediction.panel_id}/").content.decode()


def test_an_amended_review_keeps_its_history_on_the_panel_and_patient_pages(version, client_for, clinician):
    patient = make_patient("MRN-AMEND")
    prediction = stored_prediction(make_panel(patient, TSH=6.5), version, "hypothyroid")
    client = client_for(clinician)
    client.post(f"/panels/{prediction.panel_id}/review/", {"decision": "agree"})
    client.post(
        f"/panels/{prediction.panel_id}/review/",
        {"decision": "subclinical_hypothyroid", "comment": "TT4 normal on repeat"},
    )

    first, second = PanelReview.objects.filter(panel_id=prediction.panel_id).order_by("id")
    assert (first.agrees, first.diagnosis) == (True, "hypothyroid")
    assert (second.agrees, second.diagnosis, second.amends) == (False, "subclinical_hypothyroid", first)
    panel_page = client.get(f"/panels/{prediction.panel_id}/").content.decode()
    assert "Review history" in panel_page and "subclinical hypothyroidism" in panel_page
    assert panel_page.index("TT4 normal on repeat") < panel_page.index("agreed (hypothyroid)")
    patient_page = client.get(f"/patients/{patient.pk}/").content.decode()
    assert "amendment" in patient_page and "subclinical hypothyroidism" in patient_page
    assert list(AuditEvent.objects.filter(action__startswith="review.").values_list("action", flat=True)) == [
        "review.amend",
        "review.create",
    ]


def test_a_review_needs_a_diagnosis_when_there_is_no_class_to_agree_with(version, clinician, client_for):
    prediction = stored_prediction(make_panel(make_patient(), TSH=None), version, outcome=rules.NOT_ASSESSED)
    client_for(clinician).post(f"/panels/{prediction.panel_id}/review/", {"decision": "agree"})
    assert not PanelReview.objects.exists()

    response = api(token_client(clinician), "post", f"/api/v1/panels/{prediction.panel_id}/reviews/", {"agrees": True})
    assert response.status_code == 400 and "agrees" in response.json()["errors"]
    assert not PanelReview.objects.exists()


def test_the_api_lists_the_worklist_and_takes_a_review(version, clinician, no_role_user, settings):
    settings.THYROWEB_REVIEW_SAMPLE_RATE = 0.0
    prediction = stored_prediction(
        make_panel(make_patient()), version, "normal", outcome=rules.REFER, reasons=["unusual_combination"]
    )
    client = token_client(clinician)
    listed = api(client, "get", "/api/v1/review-worklist/?reason=unusual_combination").json()
    assert [item["panel"] for item in listed["results"]] == [prediction.panel_id]
    assert listed["results"][0]["queue_reason"] == "refer" and listed["results"][0]["reasons"][0]["code"]

    bad = api(client, "post", f"/api/v1/panels/{prediction.panel_id}/reviews/", {"agrees": False, "diagnosis": "x"})
    assert bad.status_code == 400 and "diagnosis" in bad.json()["errors"]
    missing = api(client, "post", f"/api/v1/panels/{prediction.panel_id}/reviews/", {"agrees": False})
    assert missing.status_code == 400 and "diagnosis" in missing.json()["errors"]
    bad_filter = api(client, "get", "/api/v1/review-worklist/?older_than_days=2")
    assert bad_filter.status_code == 400 and "older_than_days" in bad_filter.json()["errors"]
    assert not PanelReview.objects.exists()
    refused = api(
        token_client(no_role_user), "post", f"/api/v1/panels/{prediction.panel_id}/reviews/", {"agrees": True}
    )
    assert refused.status_code == 403

    created = api(
        client,
        "post",
        f"/api/v1/panels/{prediction.panel_id}/reviews/",
        {"agrees": False, "diagnosis": "other_thyroid", "comment": "thyroiditis"},
    )
    assert created.status_code == 201
    assert created.json()["diagnosis"] == "other_thyroid" and created.json()["label"] is None
    assert api(client, "get", "/api/v1/review-worklist/").json()["results"] == []
    history = api(client, "get", f"/api/v1/panels/{prediction.panel_id}/reviews/").json()["results"]
    assert [r["reviewed_by"] for r in history] == [clinician.username]


def test_reviewed_panels_become_labels_with_subclinical_forms_as_their_class(version, clinician, settings):
    patient = make_patient()
    diagnoses = ["normal", "subclinical_hyperthyroid", "subclinical_hypothyroid", "other_thyroid", "not_thyroid"] * 8
    panels = []
    for diagnosis in diagnoses:
        panel = make_panel(patient)
        stored_prediction(panel, version, "normal")
        record_review(panel=panel, user=clinician, agrees=False, diagnosis=diagnosis)
        panels.append(panel)
    # an amendment replaces the label: the first panel is finally hypothyroid
    record_review(panel=panels[0], user=clinician, agrees=False, diagnosis="hypothyroid")

    run = TrainingRun.objects.create(params={"include_reviews": True})
    records = [r for r in training_records(run) if "review_id" in r]
    labels = {r["panel_id"]: r["label"] for r in records}
    trainable = {p.pk: d for p, d in zip(panels, diagnoses, strict=True) if not is_held_out(f"panel:{p.pk}")}
    expected = {
        "normal": "normal",
        "subclinical_hyperthyroid": "hyperthyroid",
        "subclinical_hypothyroid": "hypothyroid",
    }
    assert labels == {
        pk: "hypothyroid" if pk == panels[0].pk else expected[d] for pk, d in trainable.items() if d in expected
    }
    counts = reviewed_label_counts()
    assert counts["left_out"] == 16 and counts["total"] == len(labels)
    assert counts["held_out"] == 24 - len(labels)
    assert not [r for r in training_records(TrainingRun.objects.create()) if "review_id" in r]  # not asked for
