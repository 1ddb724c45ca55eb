"""The lab entry form (a panel for a new or existing patient, recorded and scored by the one intake service)
and the result page."""

import logging

from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from diagnostics import selectors
from diagnostics.access import CLINICIAN, role_required
from diagnostics.forms import LabPanelForm
from diagnostics.indices import derived_indices
from diagnostics.labels import panel_flags, referral_label
from diagnostics.models import LabPanel, Patient
from diagnostics.patterns import not_used_fields, not_used_message, pattern_message
from diagnostics.services.audit import record_event
from diagnostics.services.intake import (
    PatientDeleted,
    explanation_of,
    panel_warnings,
    patient_for,
    record_panel,
)
from diagnostics.services.registry import NoActiveModel
from diagnostics.services.report import comparison, lab_rows
from diagnostics.views.reviews import review_box
from mlcore import units

logger = logging.getLogger(__name__)


def _save_and_score(form: LabPanelForm, request) -> LabPanel:
    """Store the panel (and a new patient) and score it, all in one transaction."""
    with transaction.atomic():
        patient = patient_for(
            record_number=form.cleaned_data["record_number"],
            sex=form.cleaned_data.get("sex") or None,
            date_of_birth=form.cleaned_data.get("date_of_birth"),
            user=request.user,
            request=request,
        )
        panel, _prediction = record_panel(
            patient=patient,
            panel=form.panel,
            source=LabPanel.Source.FORM,
            collected_at=form.cleaned_data["collected_at"],
            user=request.user,
            request=request,
        )
    return panel


@role_required(CLINICIAN)
def panel_create(request):
    if request.method == "POST":
        form = LabPanelForm(request.POST)
        if form.is_valid() and not form.needs_confirmation():
            try:
                panel = _save_and_score(form, request)
            except PatientDeleted:  # deleted between the form's check and the save
                form.add_error("record_number", _("This record number belongs to a deleted patient."))
            except NoActiveModel as error:  # nothing to fix in the form: say who can help
                form.add_error(None, str(error))
            except Exception as error:  # the model could not score: nothing was saved
                logger.exception("lab entry: scoring failed (%s); nothing saved", type(error).__name__)
                form.add_error(None, _("The panel could not be scored, so nothing was saved. Please try again."))
            else:
                return redirect("panel_detail", pk=panel.pk)
    else:
        initial = {}
        patient = None
        if request.GET.get("patient", "").isdigit():
            patient = Patient.objects.visible().filter(pk=int(request.GET["patient"])).first()
        if patient is not None:
            initial = {"record_number": patient.record_number, "sex": patient.sex}
            initial["date_of_birth"] = patient.date_of_birth
        form = LabPanelForm(initial=initial)
    return render(request, "diagnostics/panel_form.html", {"form": form})


@role_required(CLINICIAN)
def panel_detail(request, pk: int):
    panel = get_object_or_404(LabPanel.objects.select_related("patient"), pk=pk, patient__deleted_at__isnull=True)
    prediction = selectors.latest_prediction(panel)
    values = panel.lab_values()
    record_event(action="patient.view", request=request, obj=panel.patient, panel_id=panel.pk)
    context = {
        "panel": panel,
        "patient": panel.patient,
        "prediction": prediction,
        "probabilities": _probability_rows(prediction),
        "explanation": explanation_of(prediction) if prediction is not None else [],
        "indices": derived_indices(values),
        "pattern": prediction.pattern if prediction is not None else None,
        "pattern_message": pattern_message(prediction.pattern) if prediction is not None else "",
        "not_used": not_used_message(not_used_fields(prediction.warnings)) if prediction is not None else "",
        "lab_rows": [
            {**row, "received": _as_received(panel.received.get(row["test"].name), row["test"].name)}
            for row in lab_rows(panel)
        ],
        "any_received": bool(panel.received),
        "comparison": comparison(panel),
        "warnings": panel_warnings(panel),
        "flags": panel_flags(panel),
        "referral": referral_label(panel.referral_source),
        "review_box": review_box(request, panel, prediction),
    }
    return render(request, "diagnostics/panel_detail.html", context)


def _as_received(received, name: str) -> dict | None:
    """The value and unit a lab sent, when they were not already ThyroWeb's (nothing to add otherwise)."""
    if not isinstance(received, dict) or "value" not in received:
        return None
    if units.ucum_code(name, str(received.get("unit") or "")) == units.our_unit(name):
        return None
    return {"value": received["value"], "unit": received.get("unit", "")}


def _probability_rows(prediction) -> list[dict]:
    if prediction is None or prediction.probabilities is None:  # not assessed: no class, no probabilities
        return []
    return [
        {"class": name, "p": p, "percent": round(100 * p), "top": name == prediction.predicted_class}
        for name, p in prediction.probabilities.items()
    ]
