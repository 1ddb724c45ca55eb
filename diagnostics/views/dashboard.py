from django.shortcuts import render

from diagnostics import selectors
from diagnostics.access import CLINICIAN, role_required
from diagnostics.templatetags.pages import class_label


@role_required(CLINICIAN)
def dashboard(request):
    summary = selectors.dashboard_summary()
    charts = {
        "distribution": [{**row, "label": class_label(row["class"])} for row in summary["distribution"]],
        "per_day": summary["per_day"],
    }
    return render(request, "diagnostics/dashboard.html", {**summary, "charts": charts})
