"""The patient report as PDF, from the result page (one panel) or the patient page (the latest panel)."""

from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404

from diagnostics.access import CLINICIAN, role_required
from diagnostics.models import LabPanel, Patient
from diagnostics.services.audit import record_event
from diagnostics.services.report import render_report_pdf, report_language


def _pdf_response(request, panel: LabPanel) -> HttpResponse:
    language = report_language(request.GET.get("language"))
    pdf = render_report_pdf(panel=panel, user=request.user, language=language)
    record_event(action="report.download", request=request, obj=panel.patient, panel_id=panel.pk, language=language)
    response = HttpResponse(pdf, content_type="application/pdf")
    # The file name holds ids only: a download folder is no place for a record number.
    response["Content-Disposition"] = f'attachment; filename="thyroweb-report-{panel.pk}-{language}.pdf"'
    return response


@role_required(CLINICIAN)
def panel_report(request, pk: int):
    panel = get_object_or_404(LabPanel.objects.select_related("patient"), pk=pk, patient__deleted_at__isnull=True)
    return _pdf_response(request, panel)


@role_required(CLINICIAN)
def patient_report(request, pk: int):
    patient = get_object_or_404(Patient.objects.visible(), pk=pk)
    panel = patient.panels.select_related("patient").order_by("-collected_at", "-id").first()
    if panel is None:
        raise Http404("This patient has no lab panel to report.")
    return _pdf_response(request, panel)
