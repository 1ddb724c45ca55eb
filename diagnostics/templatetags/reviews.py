"""Review and monitoring boxes that other pages include with one tag (result, patient, dashboard, model pages)."""

from django import template

from diagnostics.access import CLINICIAN, DATA_MANAGER, has_role
from diagnostics.models import PanelReview
from diagnostics.review_forms import ReviewForm
from diagnostics.services.reviews import panel_review_history

register = template.Library()


@register.inclusion_tag("diagnostics/_review_form.html", takes_context=True)
def review_box(context, panel, prediction=None):
    """The panel's current review and its history, and the form to review (or amend) it."""
    request = context.get("request")
    history = panel_review_history(panel)
    can_agree = bool(prediction is not None and prediction.predicted_class)
    return {
        "panel": panel,
        "prediction": prediction,
        "current": history[0] if history else None,
        "history": history,
        "form": ReviewForm(can_agree=can_agree),
        "can_review": request is not None and has_role(request.user, CLINICIAN),
        "next": request.GET.get("next", "") if request is not None else "",
        "csrf_token": context.get("csrf_token"),
    }


@register.inclusion_tag("diagnostics/_patient_reviews.html")
def patient_reviews(patient):
    """Every review of the patient's panels, latest first (amendments included)."""
    reviews = (
        PanelReview.objects.filter(panel__patient=patient)
        .select_related("panel", "reviewed_by", "prediction")
        .order_by("-reviewed_at", "-id")[:200]
    )
    return {"reviews": list(reviews)}


@register.inclusion_tag("diagnostics/_monitoring_alerts.html", takes_context=True)
def monitoring_alerts(context):
    """Drift and agreement alerts of the active model, for data managers."""
    from diagnostics.services.monitoring import active_alerts

    request = context.get("request")
    if request is None or not has_role(request.user, DATA_MANAGER):
        return {"alerts": []}
    return {"alerts": active_alerts()}


@register.inclusion_tag("diagnostics/_promotion_comparison.html")
def promotion_comparison(version):
    """A candidate against the active model: on the fixed held-out rows and on recent reviewed panels."""
    from diagnostics.models import ModelVersion
    from diagnostics.services.registry import PromotionRefused, compare_with_active

    active = ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE).first()
    stored = active is None or active.pk == version.pk
    if stored:
        comparison = version.metrics.get("promotion") if isinstance(version.metrics, dict) else None
    else:
        try:
            comparison = compare_with_active(version, active)
        except (PromotionRefused, OSError, ValueError):
            comparison = None
    reviewed = (comparison or {}).get("reviewed") or {}
    return {
        "comparison": comparison,
        "stored": stored,
        "version": version,
        "held_out_rows": _metric_rows(comparison) if comparison else [],
        "reviewed_rows": _metric_rows(reviewed) if reviewed.get("candidate") else [],
    }


def _metric_rows(scores: dict) -> list[dict]:
    return [
        {
            "key": key,
            "candidate": (scores.get("candidate") or {}).get(key),
            "active": (scores.get("active") or {}).get(key),
        }
        for key in ("macro_f1", "recall_hyperthyroid", "accuracy")
    ]
