"""The review worklist, derived from the stored predictions (no queue table to keep in step).

A panel is on the worklist while it has no review and its latest prediction
- is a referral (``refer``) or could not be assessed (``not_assessed``), or
- has an abnormal class (hyperthyroid, hypothyroid), or
- is an assessed ``normal`` that falls in the review sample: a share
  THYROWEB_REVIEW_SAMPLE_RATE of panels chosen by a multiplicative hash of the
  panel id (Knuth's 2654435761, mod 10,000). The choice is fixed per panel and
  owes nothing to its values, so agreement on normals is measured without bias.
Reviewing a panel takes it off the worklist. Oldest prediction first.
"""

from datetime import timedelta

from django.conf import settings
from django.db.models import Exists, F, OuterRef, Q, TextField, Value
from django.db.models.functions import Cast, Mod
from django.utils import timezone

from diagnostics.models import PanelReview, Prediction
from mlcore import rules

SAMPLE_BUCKETS = 10_000
HASH_MULTIPLIER = 2654435761
ABNORMAL_CLASSES = ("hyperthyroid", "hypothyroid")
# Why a panel is on the worklist (a filter beside the coded referral reasons).
QUEUE_REASONS = ("refer", "not_assessed", "abnormal", "sample")
REASON_CODES = (*rules.REFERRAL_CODES, *rules.NOT_ASSESSED_CODES)
AGE_CHOICES = (1, 7, 30)
PER_PAGE = 25


def sample_threshold() -> int:
    return round(settings.THYROWEB_REVIEW_SAMPLE_RATE * SAMPLE_BUCKETS)


def in_review_sample(panel_id: int) -> bool:
    """The Python twin of the SQL sample rule (for tests and explanations)."""
    return (panel_id * HASH_MULTIPLIER) % SAMPLE_BUCKETS < sample_threshold()


def _latest_predictions():
    """Each visible panel's latest prediction: no later one exists for its panel (an anti-join, which
    PostgreSQL runs with the (panel, model version) index instead of a sorted subquery per row)."""
    later = Prediction.objects.filter(panel=OuterRef("panel")).filter(
        Q(created_at__gt=OuterRef("created_at")) | Q(created_at=OuterRef("created_at"), id__gt=OuterRef("id"))
    )
    return Prediction.objects.filter(~Exists(later), panel__patient__deleted_at__isnull=True)


def worklist(*, reason: str = "", predicted_class: str = "", older_than_days: int | None = None):
    """Unreviewed panels' latest predictions that need a look, oldest first (a queryset)."""
    sampled = Q(sample_bucket__lt=sample_threshold())
    needs_look = ~Q(outcome=rules.ASSESSED) | Q(predicted_class__in=ABNORMAL_CLASSES) | sampled
    items = (
        _latest_predictions()
        .annotate(
            sample_bucket=Mod(F("panel_id") * Value(HASH_MULTIPLIER), Value(SAMPLE_BUCKETS)),
            reviewed=Exists(PanelReview.objects.filter(panel=OuterRef("panel"))),
        )
        .filter(needs_look, reviewed=False)
    )
    if reason == "refer":
        items = items.filter(outcome=rules.REFER)
    elif reason == "not_assessed":
        items = items.filter(outcome=rules.NOT_ASSESSED)
    elif reason == "abnormal":
        items = items.filter(predicted_class__in=ABNORMAL_CLASSES)
    elif reason == "sample":
        items = items.filter(sampled, outcome=rules.ASSESSED, predicted_class="normal")
    elif reason in REASON_CODES:
        # The JSON text holds '"code": "<code>"' on PostgreSQL (jsonb) and SQLite (json.dumps) alike.
        items = items.annotate(reason_text=Cast("reasons", TextField())).filter(
            reason_text__contains=f'"code": "{reason}"'
        )
    if predicted_class:
        items = items.filter(predicted_class="" if predicted_class == "none" else predicted_class)
    if older_than_days:
        items = items.filter(created_at__lte=timezone.now() - timedelta(days=older_than_days))
    return items.select_related("panel__patient", "model_version").order_by("created_at", "id")


def why_queued(prediction: Prediction) -> str:
    """The first matching queue reason of a worklist item."""
    if prediction.outcome != rules.ASSESSED:
        return prediction.outcome
    if prediction.predicted_class in ABNORMAL_CLASSES:
        return "abnormal"
    return "sample"
