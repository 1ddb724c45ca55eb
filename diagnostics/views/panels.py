import logging

from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from diagnostics import selectors
from diagnostics.access import CLINICIAN, role_required
from diagnostics.forms import LabPanelForm, tidy_message
from diagnostics.indices import derived_indices
from diagnostics.labels import panel_flags, referral_label
from diagnostics.models import LabPanel, Patient
from diagnostics.services.audit import record_event
from diagnostics.services.panels import create_panel, get_or_create_patient
from diagnostics.services.report import comparison, lab_rows
from diagnostics.services.scoring import explanation_of, score_panel
from diagnostics.templatetags.pages import lab_number
from mlcore.schema import LAB_TESTS, value_warning

logger = logging.getLogger(__name__)


def _save_and_score(form: LabPanelForm, request) -> LabPanel:
    """Store the panel (and a new patient) and score it, all in one transaction."""
    with transaction.atomic():
        patient = get_or_create_patient(
            record_number=form.cleaned_data["record_number"],
            sex=form.cleaned_data.get("sex") or None,
            date_of_birth=form.cleaned_data.get("date_of_birth"),
            user=request.user,
            request=request,
        )
        panel = create_panel(
            patient=patient,
            clean=form.clean_panel,
            user=request.user,
            request=request,
            collected_at=form.cleaned_data["collected_at"],
        )
        score_panel(panel=panel, user=request.user, request=request)
    return panel


@role_required(CLINICIAN)
def panel_create(request):
    if request.method == "POST":
        form = LabPanelForm(request.POST)
        if form.is_valid():
            try:
                panel = _save_and_score(form, request)
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
        "lab_rows": lab_rows(panel),
        "comparison": comparison(panel),
        "warnings": [_unusual_value(name, values[name]) for name in LAB_TESTS if value_warning(name, values[name])],
        "flags": panel_flags(panel),
        "referral": referral_label(panel.referral_source),
    }
    return render(request, "diagnostics/panel_detail.html", context)


def _probability_rows(prediction) -> list[dict]:
    if prediction is None:
        return []
    return [
        {"class": name, "p": p, "percent": round(100 * p), "top": name == prediction.predicted_class}
        for name, p in prediction.probabilities.items()
    ]


def _unusual_value(name: str, value: float) -> str:
    """mlcore's warning for an accepted but unusual value (outside the data's 0.1-99.9th percentiles), translated."""
    test = LAB_TESTS[name]
    params = {"test": name, "value": lab_number(value), "unit": test.unit}
    if test.warn_min is not None and value < test.warn_min:
        params["bound"] = lab_number(test.warn_min)
        return tidy_message(
            _("%(test)s %(value)s %(unit)s is unusually low (below %(bound)s %(unit)s): please check it.") % params
        )
    params["bound"] = lab_number(test.warn_max)
    return tidy_message(
        _("%(test)s %(value)s %(unit)s is unusually high (above %(bound)s %(unit)s): please check it.") % params
    )

