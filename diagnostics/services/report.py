"""The patient report (PDF, A4, English or French) and the comparison with the previous panel.

The report holds what a clinician files: patient identifier, collection date,
requesting user, lab values with units, reference intervals and high/low
marks, the outcome with its reasons and warnings, a compact trend table of
the previous panels, the change since the previous panel, the model version
and the decision-aid statement (docs/clinical-facts.md, "What a diagnostic
aid owes its users": the basis of the result visible, an audit trail, not a
medical device claim). WeasyPrint lays the HTML template
out with Pango; nothing outside the template and its stylesheet is fetched.
"""

from dataclasses import dataclass

from django.contrib.staticfiles import finders
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone, translation

from diagnostics import selectors
from diagnostics.labels import panel_flags, referral_label
from diagnostics.models import LabPanel, Prediction
from diagnostics.patterns import pattern_message
from diagnostics.reasons import messages
from mlcore.schema import LAB_TESTS, LabTest

TREND_PANELS = 8
REPORT_LANGUAGES = ("en", "fr")


def out_of_range(test: LabTest, value: float | None) -> str:
    """'high' or 'low' against the test's default adult reference interval (docs/clinical-facts.md), else ''."""
    if value is None:
        return ""
    level = test.level(value)
    return "" if level == "normal" else level


def lab_rows(panel: LabPanel) -> list[dict]:
    values = panel.lab_values()
    return [
        {"test": test, "value": values[name], "out_of_range": out_of_range(test, values[name])}
        for name, test in LAB_TESTS.items()
    ]


def previous_panel(panel: LabPanel) -> LabPanel | None:
    """The same patient's panel collected just before this one (ties broken by id)."""
    earlier = Q(collected_at__lt=panel.collected_at) | Q(collected_at=panel.collected_at, pk__lt=panel.pk)
    return LabPanel.objects.filter(earlier, patient_id=panel.patient_id).order_by("-collected_at", "-id").first()


@dataclass
class Change:
    test: LabTest
    previous: float | None
    current: float | None

    @property
    def difference(self) -> float | None:
        if self.previous is None or self.current is None:
            return None
        return self.current - self.previous

    @property
    def percent(self) -> float | None:
        if self.difference is None or not self.previous:
            return None
        return 100 * self.difference / self.previous

    @property
    def direction(self) -> str:
        if not self.difference:
            return "same" if self.difference == 0 else ""
        return "up" if self.difference > 0 else "down"


def comparison(panel: LabPanel) -> dict | None:
    """The previous panel, its prediction and the change of every test measured in either panel."""
    previous = previous_panel(panel)
    if previous is None:
        return None
    changes = [
        Change(test=test, previous=getattr(previous, name), current=getattr(panel, name))
        for name, test in LAB_TESTS.items()
        if getattr(previous, name) is not None or getattr(panel, name) is not None
    ]
    return {"panel": previous, "prediction": selectors.latest_prediction(previous), "changes": changes}


def trend_rows(panel: LabPanel, *, limit: int = TREND_PANELS) -> list[selectors.PanelRow]:
    """This panel and the ones before it, newest first, each with its latest prediction."""
    earlier = Q(collected_at__lt=panel.collected_at) | Q(collected_at=panel.collected_at, pk__lte=panel.pk)
    panels = list(
        LabPanel.objects.filter(earlier, patient_id=panel.patient_id).order_by("-collected_at", "-id")[:limit]
    )
    latest: dict[int, Prediction] = {}
    for prediction in Prediction.objects.filter(panel__in=panels).order_by("panel_id", "created_at", "id"):
        latest[prediction.panel_id] = prediction
    return [selectors.PanelRow(panel=p, prediction=latest.get(p.pk)) for p in panels]


def requested_by(panel: LabPanel, prediction: Prediction | None) -> str:
    """Who asked for the result: the user the prediction was made for, else who entered the panel."""
    user = (prediction.requested_by if prediction is not None else None) or panel.created_by
    return user.get_username() if user is not None else ""


def report_context(*, panel: LabPanel, user) -> dict:
    prediction = selectors.latest_prediction(panel)
    return {
        "panel": panel,
        "patient": panel.patient,
        "prediction": prediction,
        "requested_by": requested_by(panel, prediction),
        "generated_by": user.get_username(),
        "generated_at": timezone.localtime(),
        "lab_rows": lab_rows(panel),
        "flags": panel_flags(panel),
        "referral": referral_label(panel.referral_source),
        "reasons": messages(prediction.reasons if prediction else []),
        "warnings": messages(prediction.warnings if prediction else []),
        "pattern_message": pattern_message(prediction.pattern) if prediction else "",
        "comparison": comparison(panel),
        "trend": trend_rows(panel),
        "trend_limit": TREND_PANELS,
        "lab_tests": LAB_TESTS,
    }


def report_language(requested: str | None) -> str:
    """The report's language: the one asked for if ThyroWeb has it, else the page's."""
    if requested in REPORT_LANGUAGES:
        return requested
    current = (translation.get_language() or "en")[:2]
    return current if current in REPORT_LANGUAGES else "en"


def render_report_pdf(*, panel: LabPanel, user, language: str) -> bytes:
    """The report as PDF bytes, laid out by WeasyPrint from templates/diagnostics/report.html."""
    # WeasyPrint loads Pango and its fonts (about 0.5 s, 60 MB): only for a report, never in every process.
    from weasyprint import CSS, HTML
    from weasyprint.urls import URLFetcher

    # Nothing is fetched: the stylesheet is read here and the template links to nothing.
    no_fetching = URLFetcher(allowed_protocols=set())
    with translation.override(language):
        html = render_to_string("diagnostics/report.html", report_context(panel=panel, user=user))
    with open(finders.find("css/report.css"), encoding="utf-8") as stylesheet:
        css = CSS(string=stylesheet.read(), url_fetcher=no_fetching)
    return HTML(string=html, url_fetcher=no_fetching).write_pdf(stylesheets=[css])
