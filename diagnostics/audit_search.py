"""Searching and exporting the audit trail (admins only): one filter form for the page and the API."""

import csv
from collections.abc import Iterable, Iterator
from datetime import datetime, time, timedelta

from django import forms
from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from diagnostics.csv_safety import safe_cell
from diagnostics.models import AuditEvent

CSV_COLUMNS = ("time", "actor", "action", "object_type", "object_id", "ip_address", "details")


class AuditSearchForm(forms.Form):
    actor = forms.CharField(label=_("Actor"), max_length=150, required=False)
    action = forms.CharField(label=_("Action"), max_length=48, required=False, help_text=_("e.g. panel.create"))
    object_type = forms.CharField(label=_("Object type"), max_length=48, required=False)
    object_id = forms.CharField(label=_("Object id"), max_length=64, required=False)
    date_from = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", _("The end date is before the start date."))
        return data


def search_events(
    *,
    actor: str = "",
    action: str = "",
    object_type: str = "",
    object_id: str = "",
    date_from=None,
    date_to=None,
) -> QuerySet[AuditEvent]:
    """Events newest first. ``action`` matches a prefix (``auth.`` finds every login event); dates are inclusive."""
    events = AuditEvent.objects.all()
    if actor:
        events = events.filter(actor_username__iexact=actor)
    if action:
        events = events.filter(action__startswith=action)
    if object_type:
        events = events.filter(object_type=object_type)
    if object_id:
        events = events.filter(object_id=object_id)
    zone = timezone.get_current_timezone()
    if date_from:
        events = events.filter(created_at__gte=datetime.combine(date_from, time.min, tzinfo=zone))
    if date_to:
        events = events.filter(created_at__lt=datetime.combine(date_to + timedelta(days=1), time.min, tzinfo=zone))
    return events.order_by("-created_at", "-id")


def event_row(event: AuditEvent) -> list:
    details = "; ".join(f"{key}={value}" for key, value in sorted(event.details.items()))
    return [
        timezone.localtime(event.created_at).isoformat(timespec="seconds"),
        event.actor_username,
        event.action,
        event.object_type,
        event.object_id,
        event.ip_address or "",
        details,
    ]


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_lines(events: Iterable[AuditEvent]) -> Iterator[str]:
    """The events as CSV lines, cells that a spreadsheet would run as formulas neutralised."""
    writer = csv.writer(_Echo())
    yield writer.writerow(CSV_COLUMNS)
    for event in events:
        yield writer.writerow([safe_cell(value) for value in event_row(event)])


def csv_response(events) -> StreamingHttpResponse:
    """Stream the events as a CSV download (the page and the API)."""
    response = StreamingHttpResponse(
        csv_lines(events.iterator(chunk_size=2000)), content_type="text/csv; charset=utf-8"
    )
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="thyroweb-audit-{stamp}.csv"'
    return response
