from django.shortcuts import render

from diagnostics import selectors
from diagnostics.access import CLINICIAN, role_required


@role_required(CLINICIAN)
def dashboard(request):
    summary = selectors.dashboard_summary()
    charts = {"distribution": summary["distribution"], "per_day": summary["per_day"]}
    return render(request, "diagnostics/dashboard.html", {**summary, "charts": charts})
