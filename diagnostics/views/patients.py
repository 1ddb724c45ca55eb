from django.shortcuts import get_object_or_404, render
from django.utils.translation import gettext as _

from diagnostics import selectors
from diagnostics.access import CLINICIAN, role_required
from diagnostics.forms import PatientSearchForm
from diagnostics.labels import CLASS_LABELS
from diagnostics.models import Patient, Prediction
from diagnostics.services.audit import record_event


def history_labels() -> dict:
    """The lab history chart's words in the page's language (the chart data holds codes)."""
    return {
        "classes": {name: str(label) for name, label in CLASS_LABELS.items()},
        "outcomes": {value: str(label) for value, label in Prediction.Outcome.choices},
        "unscored": _("not scored"),
        "date": _("Collected at"),
    }


def _page_number(request) -> int:
    try:
        return max(1, min(int(request.GET.get("page", 1)), 100_000))
    except ValueError:
        return 1


@role_required(CLINICIAN)
def patient_list(request):
    form = PatientSearchForm(request.GET)
    query = form.cleaned_data["q"] if form.is_valid() else ""
    page = selectors.patient_page(query=query, number=_page_number(request))
    return render(request, "diagnostics/patient_list.html", {"form": form, "page": page})


@role_required(CLINICIAN)
def patient_detail(request, pk: int):
    patient = get_object_or_404(Patient.objects.visible(), pk=pk)
    panels = selectors.patient_panels(patient)
    record_event(action="patient.view", request=request, obj=patient)
    return render(
        request,
        "diagnostics/patient_detail.html",
        {
            "patient": patient,
            "panels": panels,
            "lab_tests": selectors.LAB_TESTS,
            "history": selectors.lab_history_chart(panels),
            "history_labels": history_labels(),
            "panel_limit": selectors.PANELS_ON_PATIENT_PAGE,
            "reviews": selectors.patient_reviews(patient),
        },
    )
