"""Template helpers for the pages: class names in the user's language, percentages, the model card."""

import re

from django import template
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

register = template.Library()

CLASS_LABELS = {
    "normal": _("normal"),
    "hyperthyroid": _("hyperthyroid"),
    "hypothyroid": _("hypothyroid"),
    "other": _("other"),
}

METRIC_LABELS = {
    "accuracy": _("Accuracy"),
    "macro_f1": _("Macro-F1"),
    "roc_auc_ovr": _("ROC AUC (one vs rest)"),
    "ece": _("Expected calibration error"),
    "n": _("Evaluation rows"),
    "recall_normal": _("Recall, normal"),
    "recall_hyperthyroid": _("Recall, hyperthyroid"),
    "recall_hypothyroid": _("Recall, hypothyroid"),
}


@register.filter
def class_label(name: str) -> str:
    return CLASS_LABELS.get(name, name)


@register.filter
def metric_label(key: str) -> str:
    return METRIC_LABELS.get(key, key)


@register.filter
def attr(obj, name: str):
    """getattr for templates: a panel's value by field name."""
    return getattr(obj, name, None)


_INLINE = re.compile(r"\*\*(.+?)\*\*|`([^`]+)`")


def _inline(text: str) -> str:
    """Escape a line and render **bold** and `code` (nothing else: no links, no HTML)."""
    out, last = [], 0
    for match in _INLINE.finditer(text):
        out.append(escape(text[last : match.start()]))
        if match.group(1) is not None:
            out.append(f"<strong>{escape(match.group(1))}</strong>")
        else:
            out.append(f"<code>{escape(match.group(2))}</code>")
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
