"""Template helpers for the pages: class names in the user's language, percentages, the model card."""

import re

from django import template
from django.utils.formats import get_format
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from diagnostics import labels, reasons
from diagnostics.labels import CLASS_LABELS, METRIC_LABELS, OUTCOME_LABELS, ROLE_LABELS, flag_label, referral_label
from diagnostics.services.jobs import recovery_message
from mlcore.schema import HISTORY_FLAGS, LAB_TESTS

register = template.Library()

# Derived inputs that mlcore names itself (the lab tests keep their names).
_FEATURE_LABELS = {"age": gettext_lazy("age"), "T3_TT4_ratio": gettext_lazy("T3/TT4 ratio")}


@register.filter
def role_label(role: str | None) -> str:
    return ROLE_LABELS.get(role, gettext_lazy("no role")) if role else gettext_lazy("no role")


@register.filter
def class_label(name: str) -> str:
    return labels.class_label(name)


@register.filter
def metric_label(key: str) -> str:
    return METRIC_LABELS.get(key, key)


@register.filter
def lab_number(value) -> str:
    """A lab value with up to 4 significant digits and no padding zeros, in the page's notation (0,96 in French)."""
    return labels.number(value)


@register.filter
def attr(obj, name: str):
    """getattr for templates: a panel's value by field name."""
    return getattr(obj, name, None)


_INLINE = re.compile(r"\*\*(.+?)\*\*|`([^`]+)`|\*([^*\s][^*]*?)\*")


def _inline(text: str) -> str:
    """Escape a line and render **bold**, *italic* and `code` (nothing else: no links, no HTML)."""
    out, last = [], 0
    for match in _INLINE.finditer(text):
        out.append(escape(text[last : match.start()]))
        if match.group(1) is not None:
            out.append(f"<strong>{escape(match.group(1))}</strong>")
        elif match.group(2) is not None:
            out.append(f"<code>{escape(match.group(2))}</code>")
        else:
            out.append(f"<em>{escape(match.group(3))}</em>")
        last = match.end()
    out.append(escape(text[last:]))
    return "".join(out)


def _table(lines: list[str]) -> str:
    rows = [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in lines]
    rows = [row for row in rows if not all(re.fullmatch(r":?-{2,}:?", cell) for cell in row if cell)]
    if not rows:
        return ""
    head = "".join(f'<th scope="col">{_inline(cell)}</th>' for cell in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{_inline(cell)}</td>" for cell in row) + "</tr>" for row in rows[1:])
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


@register.filter
def markdown_card(text: str) -> str:
    """A model card's Markdown as safe HTML: headings, lists, tables, code blocks, paragraphs; all text escaped."""
    html, paragraph, items, table, code = [], [], [], [], None
    list_tag = "ul"

    def flush():
        nonlocal paragraph, items, table
        if paragraph:
            html.append("<p>" + " ".join(_inline(line) for line in paragraph) + "</p>")
        if items:
            html.append(f"<{list_tag}>" + "".join(f"<li>{_inline(i)}</li>" for i in items) + f"</{list_tag}>")
        if table:
            html.append(_table(table))
        paragraph, items, table = [], [], []

    for line in (text or "").splitlines():
        stripped = line.strip()
        if code is not None:
            if stripped.startswith("```"):
                html.append("<pre><code>" + escape("\n".join(code)) + "</code></pre>")
                code = None
            else:
                code.append(line)
            continue
        if stripped.startswith("```"):
            flush()
            code = []
        elif not stripped:
            flush()
        elif heading := re.match(r"(#{1,6})\s+(.*)", stripped):
            flush()
            level = min(6, len(heading.group(1)) + 2)  # the page has its own h1 and h2
            html.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
        elif stripped.startswith("|"):
            if paragraph or items:
                flush()
            table.append(stripped)
        elif item := re.match(r"(?:[-*+]|(\d+)[.)])\s+(.*)", stripped):
            if paragraph or table:
                flush()
            if not items:
                list_tag = "ol" if item.group(1) else "ul"
            items.append(item.group(2))
        elif items and line.startswith(("  ", "\t")):
            items[-1] += " " + stripped
        else:
            if items or table:
                flush()
            paragraph.append(stripped)
    if code is not None:
        html.append("<pre><code>" + escape("\n".join(code)) + "</code></pre>")
    flush()
    return mark_safe("\n".join(html))


@register.filter
def top_probability(prediction) -> float | None:
    probabilities = prediction.probabilities
    return max(probabilities.values()) if probabilities else None


@register.filter
def percent(probability) -> str:
    """0.9991 -> '> 99 %', 0.004 -> '< 1 %', 0.724 -> '72 %' (the API keeps the floats)."""
    return labels.percent(probability)


@register.filter
def reason_text(reason) -> str:
    """A coded reason or warning of mlcore.rules in plain words, in the page's language."""
    return reasons.message(reason)


@register.filter
def outcome_label(outcome: str) -> str:
    return OUTCOME_LABELS.get(outcome, outcome)


def _number(value: float) -> str:
    return f"{value:.3g}".replace(".", get_format("DECIMAL_SEPARATOR"))


def _explained_input(item: dict) -> str:
    """The input of an explanation item in the clinician's language (mlcore words it in English)."""
    feature, value, label = item.get("feature", ""), item.get("value"), item.get("label", "")
    if feature in LAB_TESTS or feature == "age" or isinstance(value, (int, float)) and not isinstance(value, bool):
        if value is None:
            return _("%(test)s not measured") % {"test": _FEATURE_LABELS.get(feature, label)}
        unit = _("years") if feature == "age" else item.get("unit", "")
        return f"{_FEATURE_LABELS.get(feature, label)} {_number(value)} {unit}".rstrip()
    if feature == "sex":
        return _("sex %(sex)s") % {"sex": value} if value else _("sex unknown")
    if feature == "referral_source":
        return referral_label(value)
    if feature in HISTORY_FLAGS:
        flag = flag_label(feature)
        answer = _("yes") if value else _("no")
        return f"{flag}: {answer}"
    return ""


def _points(value) -> str:
    """A change of probability in percentage points (within ±100: the integration error can pass it)."""
    points = max(-100.0, min(100.0, 100 * float(value)))
    return f"{points:+.1f}".replace(".", get_format("DECIMAL_SEPARATOR"))


@register.filter
def explanation_text(item) -> str:
    """'TSH 45 mU/L pushed towards hypothyroid (+97.1 points)', translated; falls back to mlcore's text.

    The class named is the one whose probability the input raised (the sign of the attribution); when the
    input lowered the predicted class's probability, the text says so ('away from normal')."""
    if not isinstance(item, dict):
        return str(item)
    what = _explained_input(item)
    towards = item.get("towards")
    if not what or towards not in CLASS_LABELS:
        return item.get("text", "")
    params = {"input": what, "class": CLASS_LABELS[towards]}
    contributions = item.get("contributions") or {}
    if towards not in contributions:
        return _("%(input)s pushed towards %(class)s") % params
    params["points"] = _points(contributions[towards])
    against = item.get("against")
    if against in CLASS_LABELS and against != towards and contributions.get(against, 0) < 0:
        return _("%(input)s pushed towards %(class)s (%(points)s points), away from %(against)s (%(down)s points)") % {
            **params,
            "against": CLASS_LABELS[against],
            "down": _points(contributions[against]),
        }
    return _("%(input)s pushed towards %(class)s (%(points)s points)") % params


@register.filter
def has_field_errors(form) -> bool:
    """Whether a form has errors on its fields (not only errors of the whole form)."""
    return any(name != "__all__" for name in form.errors)


@register.filter
def signed_number(value) -> str:
    """A change with its sign (+0,5 / −1.2), in the page's notation."""
    if value is None:
        return ""
    text = lab_number(abs(value))
    return f"+{text}" if value > 0 else (f"−{text}" if value < 0 else text)


@register.filter
def signed_percent(value) -> str:
    """A relative change, rounded to a whole percent, with its sign: +12 %."""
    if value is None:
        return ""
    rounded = round(value)
    sign = "+" if rounded > 0 else ("−" if rounded < 0 else "")
    return f"{sign}{abs(rounded)} %"


@register.filter
def recovery_messages(recoveries: list[dict]) -> list[str]:
    """What the job healer did, one sentence each ("Worker lost at …, resumed (attempt 2).")."""
    return [recovery_message(entry) for entry in recoveries or []]
