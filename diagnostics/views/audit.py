"""The audit trail for admins: search and export as CSV."""

from django.core.paginator import Paginator
from django.shortcuts import render
from django.urls import path

from diagnostics.access import ADMIN, role_required
from diagnostics.audit_search import AuditSearchForm, csv_response, search_events
from diagnostics.services.audit import record_event

PAGE_SIZE = 50


@role_required(ADMIN)
def audit_trail(request):
    form = AuditSearchForm(request.GET or None)
    events = search_events(**form.cleaned_data) if form.is_valid() else search_events()
    if form.is_bound and not form.is_valid():
        events = events.none()
    page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "diagnostics/audit.html", {"form": form, "page": page, "query": query.urlencode()})


@role_required(ADMIN)
def audit_export(request):
    form = AuditSearchForm(request.GET or None)
    if form.is_bound and not form.is_valid():
        return render(request, "diagnostics/audit.html", {"form": form, "page": None, "query": ""}, status=400)
    filters = form.cleaned_data if form.is_bound else {}
    record_event(action="audit.export", request=request, filters={k: str(v) for k, v in filters.items() if v})
    return csv_response(search_events(**filters))


urlpatterns = [
    path("", audit_trail, name="audit"),
    path("export.csv", audit_export, name="audit_export"),
]
