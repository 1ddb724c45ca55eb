"""Model performance: per-class metrics, curves, confusion matrix, calibration, model card; activation."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from diagnostics import selectors
from diagnostics.access import CLINICIAN, DATA_MANAGER, role_required
from diagnostics.forms import ModelActivationForm, ModelCompareForm
from diagnostics.labels import class_label
from diagnostics.models import ModelVersion
from diagnostics.services import registry


@role_required(CLINICIAN)
def model_list(request):
    versions = list(selectors.model_versions())
    active = next((v for v in versions if v.status == ModelVersion.Status.ACTIVE), None)
    return render(
        request,
        "diagnostics/model_list.html",
        {"versions": versions, "active": active, "compare_form": ModelCompareForm()},
    )


@role_required(CLINICIAN)
def model_detail(request, pk: int):
    version = get_object_or_404(ModelVersion, pk=pk)
    performance = selectors.model_performance(version)
    return render(
        request,
        "diagnostics/model_detail.html",
        {
            "performance": performance,
            "version": version,
            "model_card": selectors.version_model_card(version),
            "promotion": selectors.promotion_comparison(version),
            "charts": {"versions": [_chart_data(performance)]},
            "activation_form": ModelActivationForm(),
        },
    )


@role_required(CLINICIAN)
def model_compare(request):
    form = ModelCompareForm(request.GET or None)
    performances = []
    if form.is_valid():
        performances = [selectors.model_performance(form.cleaned_data[key]) for key in ("a", "b")]
    return render(
        request,
        "diagnostics/model_compare.html",
        {
            "form": form,
            "performances": performances,
            "rows": _comparison_rows(performances) if performances else [],
            "charts": {"versions": [_chart_data(p) for p in performances]},
        },
    )


@require_POST
@role_required(DATA_MANAGER)
def model_activate(request, pk: int):
    version = get_object_or_404(ModelVersion, pk=pk)
    form = ModelActivationForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("The override reason is too long."))
        return redirect("model_detail", pk=pk)
    try:
        registry.activate_model_version(
            version=version, user=request.user, request=request, override_reason=form.cleaned_data["override_reason"]
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("Model version %(version)s is now active.") % {"version": version.version})
    return redirect("model_detail", pk=pk)


def _chart_data(performance: dict) -> dict:
    return {
        "version": performance["version"].version,
        "class_labels": {name: class_label(name) for name in selectors.CLASSES},
        **performance["charts"],
    }


def _comparison_rows(performances: list[dict]) -> list[dict]:
    """Metric rows with one value per compared version: the summary metrics, then per-class ones."""
    rows = []
    summary_keys = []
    for performance in performances:
        summary_keys += [m["key"] for m in performance["summary"] if m["key"] not in summary_keys]
    for key in summary_keys:
        values = [next((m["value"] for m in p["summary"] if m["key"] == key), None) for p in performances]
        rows.append({"key": key, "class": "", "values": values})
    for index, name in enumerate(selectors.CLASSES):
        for metric in ("precision", "recall", "f1", "auc"):
            values = [p["per_class"][index][metric] for p in performances]
            if any(v is not None for v in values):
                rows.append({"key": metric, "class": name, "values": values})
    return rows
