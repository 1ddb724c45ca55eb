from django.shortcuts import render

from diagnostics.access import CLINICIAN, role_required
from diagnostics.models import LabPanel, Patient, Prediction


@role_required(CLINICIAN)
def dashboard(request):
    counts = {
        "patients": Patient.objects.visible().count(),
        "panels": LabPanel.objects.count(),
        "predictions": Prediction.objects.count(),
    }
    return render(request, "diagnostics/dashboard.html", {"counts": counts})
