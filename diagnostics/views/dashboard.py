"""The dashboard: counts, the class distribution, predictions per day, what needs review and, for data
managers, the active model's monitoring alerts."""

from django.shortcuts import render

from diagnostics import selectors
from diagnostics.access import CLINICIAN, DATA_MANAGER, has_role, role_required
from diagnostics.labels import class_label
from diagnostics.services.monitoring import active_alerts


@role_required(CLINICIAN)
def dashboard(request):
    summary = selectors.dashboard_summary()
    charts = {
        "distribution": [{**row, "label": class_label(row["class"])} for row in summary["distribution"]],
        "per_day": summary["per_day"],
    }
    alerts = active_alerts() if has_role(request.user, DATA_MANAGER) else []
    return render(request, "diagnostics/dashboard.html", {**summary, "charts": charts, "alerts": alerts})
