"""Clinicians' reviews of predictions, and reviewed panels as labels for training and promotion.

A review is never changed: amending one appends a new row that points at the
one it replaces (``amends``), so the latest review of a panel is its current
one and the earlier rows are its history.

Reviewed panels as three-class labels (``REVIEW_LABELS``): normal, hyperthyroid
and hypothyroid map to themselves; subclinical hyperthyroidism maps to
hyperthyroid and subclinical hypothyroidism to hypothyroid, as in the Garvan
labels the model learnt from, whose hyperthyroid (A-D) and hypothyroid (E-H)
groups include the compensated/subclinical forms (docs/clinical-facts.md,
"The data: the Garvan thyroid archive"; subclinical hypo- and hyperthyroidism
are TSH outside its interval with normal thyroxine). "Other thyroid condition"
and "not thyroid-related" have no class of the model's three and are left out
of training and of the agreement figures, as the Garvan "other" diagnoses are.
"""

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max, OuterRef, Q, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from diagnostics.access import CLINICIAN, has_role
from diagnostics.models import LabPanel, ModelVersion, PanelReview, Prediction, ReviewDiagnosis, TrainingRunReview
from diagnostics.services.audit import record_event
from diagnostics.services.holdout import is_held_out, panel_records
from mlcore import rules
from mlcore.schema import CLASSES

REVIEW_LABELS = {
    ReviewDiagnosis.NORMAL: "normal",
    ReviewDiagnosis.HYPERTHYROID: "hyperthyroid",
    ReviewDiagnosis.HYPOTHYROID: "hypothyroid",
    ReviewDiagnosis.SUBCLINICAL_HYPERTHYROID: "hyperthyroid",
    ReviewDiagnosis.SUBCLINICAL_HYPOTHYROID: "hypothyroid",
    ReviewDiagnosis.OTHER_THYROID: None,
    ReviewDiagnosis.NOT_THYROID: None,
}
LABELLED_DIAGNOSES = [d for d, label in REVIEW_LABELS.items() if label is not None]
COMMENT_MAX = 2000


def review_label(diagnosis: str) -> str | None:
    """The model class a reviewed diagnosis stands for, or None (left out)."""
    return REVIEW_LABELS.get(diagnosis)


def current_review_ids():
    """Subquery-able ids of every panel's current (latest) review."""
    return PanelReview.objects.values("panel").annotate(latest=Max("id")).values("latest")


def current_reviews():
    return PanelReview.objects.filter(id__in=current_review_ids())


def panel_review_history(panel: LabPanel) -> list[PanelReview]:
    """The panel's reviews, latest (current) first."""
    return list(panel.reviews.select_related("reviewed_by", "prediction__model_version").order_by("-id"))


@transaction.atomic
def record_review(
    *,
    panel: LabPanel,
    user,
    agrees: bool,
    diagnosis: str = "",
    comment: str = "",
    prediction: Prediction | None = None,
    request=None,
) -> PanelReview:
    """Record a clinician's review of the panel's prediction: agreement (the predicted class is the final
    diagnosis) or a final diagnosis; a second review amends the first, which stays in the history."""
    if not has_role(user, CLINICIAN):
        raise PermissionDenied("Only a clinician can review a panel.")
    if prediction is None:
        prediction = panel.predictions.order_by("-created_at", "-id").first()
    comment = (comment or "").strip()
    if len(comment) > COMMENT_MAX:
        raise ValidationError({"comment": _("The comment is longer than %(n)s characters.") % {"n": COMMENT_MAX}})
    if agrees:
        if prediction is None or prediction.outcome == rules.NOT_ASSESSED or not prediction.predicted_class:
            raise ValidationError({"agrees": _("There is no predicted class to agree with: give the final diagnosis.")})
        diagnosis = prediction.predicted_class
    elif diagnosis not in ReviewDiagnosis.values:
        raise ValidationError({"diagnosis": _("Choose the final diagnosis, or agree with the prediction.")})
    # Lock the panel so two amendments at once each point at the review they replace.
    LabPanel.objects.select_for_update().filter(pk=panel.pk).first()
    previous = panel.reviews.order_by("-id").first()
    review = PanelReview.objects.create(
        panel=panel,
        prediction=prediction,
        agrees=agrees,
        diagnosis=diagnosis,
        comment=comment,
        reviewed_by=user,
        amends=previous,
    )
    record_event(
        action="review.amend" if previous else "review.create",
        actor=user,
        request=request,
        obj=review,
        panel_id=panel.pk,
        prediction_id=prediction.pk if prediction else None,
        agrees=agrees,
        diagnosis=diagnosis,
        amends=previous.pk if previous else None,
    )
    return review


# --- Reviewed panels as labels ---


def reviewed_panel_records(*, since=None) -> list[dict]:
    """The current reviews with a three-class label, as model records ("label", "holdout_key", "panel_id",
    "review_id")."""
    reviews = current_reviews().filter(diagnosis__in=LABELLED_DIAGNOSES, panel__patient__deleted_at__isnull=True)
    if since is not None:
        reviews = reviews.filter(reviewed_at__gte=since)
    latest = reviews.filter(panel=OuterRef("pk"))
    panels = LabPanel.objects.filter(Q(id__in=reviews.values("panel"))).annotate(
        review_id=Subquery(latest.values("id")[:1]), review_diagnosis=Subquery(latest.values("diagnosis")[:1])
    )
    return [
        {**record, "label": review_label(row["review_diagnosis"]), "review_id": row["review_id"]}
        for record, row in panel_records(panels, "review_id", "review_diagnosis")
    ]


def reviewed_label_counts() -> dict:
    """What a training run with reviewed panels would add: per class, and those left out or held out."""
    counts = {name: 0 for name in CLASSES}
    held_out = 0
    for record in reviewed_panel_records():
        if is_held_out(record["holdout_key"]):
            held_out += 1
        else:
            counts[record["label"]] += 1
    left_out = current_reviews().exclude(diagnosis__in=LABELLED_DIAGNOSES).count()
    return {"classes": counts, "total": sum(counts.values()), "held_out": held_out, "left_out": left_out}


def add_reviewed_panels(records: list[dict]) -> tuple[list[dict], list[dict]]:
    """Training records with the reviewed panels added (a review's label replaces a panel's stored
    diagnosis), and the reviewed records used. Reviewed panels in the fixed held-out bucket are not
    added: no model trains on them, so they stay available to compare models."""
    reviewed = [r for r in reviewed_panel_records() if not is_held_out(r["holdout_key"])]
    by_key = {r["holdout_key"]: r for r in reviewed}
    merged = [by_key.pop(r["holdout_key"], r) if r["holdout_key"] in by_key else r for r in records]
    merged += by_key.values()
    return merged, reviewed


def record_reviews_used(run, reviewed: list[dict]) -> None:
    TrainingRunReview.objects.filter(run=run).delete()  # a run started again after a lost worker
    TrainingRunReview.objects.bulk_create(
        TrainingRunReview(run=run, review_id=r["review_id"], panel_id=r["panel_id"], label=r["label"]) for r in reviewed
    )


def panels_trained_on(version: ModelVersion) -> set[int]:
    """Reviewed panels a version's training run used as labels."""
    return set(TrainingRunReview.objects.filter(run__result_version=version).values_list("panel_id", flat=True))


def unseen_reviewed_records(*versions: ModelVersion) -> list[dict]:
    """Recent reviewed panels (THYROWEB_REVIEW_COMPARISON_DAYS) that none of the versions trained on:
    not used as a reviewed label by their runs, and not a stored or UCI labelled panel outside the fixed
    held-out bucket (every run, and the shipped model, may have trained on those)."""
    since = timezone.now() - timedelta(days=settings.THYROWEB_REVIEW_COMPARISON_DAYS)
    trained = set().union(*(panels_trained_on(v) for v in versions))
    labelled_elsewhere = set(
        LabPanel.objects.filter(Q(diagnosis_class__in=CLASSES) | Q(source=LabPanel.Source.UCI))
        .filter(reviews__isnull=False)
        .values_list("id", flat=True)
    )
    return [
        r
        for r in reviewed_panel_records(since=since)
        if r["panel_id"] not in trained and (is_held_out(r["holdout_key"]) or r["panel_id"] not in labelled_elsewhere)
    ]
