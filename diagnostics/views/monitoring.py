"""Monitoring of the active model, for data managers: stored figures by week or month, refreshed on demand."""

from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from diagnostics.access import DATA_MANAGER, role_required
from diagnostics.labels import class_label
from diagnostics.models import ModelVersion
from diagnostics.review_forms import MonitoringPeriodForm
from diagnostics.services.monitoring import PSI_BANDS, latest_snapshot, refresh_monitoring
from mlcore.schema import CLASSES


@role_required(DATA_MANAGER)
def monitoring(request):
    form = MonitoringPeriodForm(request.GET or None)
    period = (form.cleaned_data.get("period") if form.is_valid() else "") or "week"
    version = ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE).first()
    snapshot = latest_snapshot(version, period)
    figures = snapshot.figures if snapshot else None
    context = {
        "form": form,
        "period": period,
        "version": version,
        "snapshot": snapshot,
        "figures": figures,
        "min_values": settings.THYROWEB_MONITORING_MIN_VALUES,
    }
    if figures:
        agreement = figures["agreement"]
        context["confusion"] = [
            {"class": name, "counts": row} for name, row in zip(CLASSES, agreement["matrix"], strict=True)
        ]
        context["latest"] = figures["periods"][-1] if figures["periods"] else None
        context["charts"] = {
            "periods": figures["periods"],
            "class_labels": {name: class_label(name) for name in CLASSES},
            "bands": PSI_BANDS,
        }
    return render(request, "diagnostics/monitoring.html", context)


@require_POST
@role_required(DATA_MANAGER)
def monitoring_refresh(request):
    refresh_monitoring(user=request.user, request=request)
    messages.success(request, _("The monitoring figures are up to date."))
    period = request.POST.get("period")
    query = f"?period={period}" if period in ("week", "month") else ""
    return redirect(reverse("monitoring") + query)
