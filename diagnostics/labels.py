"""Names of things and numbers in the user's language: classes, outcomes, roles, metrics, history flags,
referral sources, and how a lab value, a probability or a message with an empty unit reads.

The wording modules sit below everything that shows words: ``labels`` (this one: names and numbers),
``reasons`` (the coded reasons, warnings and notes of mlcore.rules) and ``patterns`` (the guideline
reading). Pages, template tags, the API and the PDF report use them; they import nothing of the app.

The Garvan/UCI documentation (docs/clinical-facts.md) gives the history flags and the
referral sources as bare codes; the flag wording below says what each flag
records, and the referral sources, which the data documents only as codes,
are shown as "referring centre <code>".
"""

from django.utils.formats import get_format
from django.utils.translation import gettext_lazy as _

from mlcore import rules
from mlcore.schema import HISTORY_FLAGS

CLASS_LABELS = {
    "normal": _("normal"),
    "hyperthyroid": _("hyperthyroid"),
    "hypothyroid": _("hypothyroid"),
    "other": _("other"),
}

OUTCOME_LABELS = {
    rules.ASSESSED: _("assessed"),
    rules.REFER: _("refer: a clinician must look"),
    rules.NOT_ASSESSED: _("not assessed"),
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

ROLE_LABELS = {
    "clinician": _("clinician"),
    "data_manager": _("data manager"),
    "admin": _("administrator"),
}


def class_label(name: str) -> str:
    return CLASS_LABELS.get(name, name)


def number(value) -> str:
    """A value with up to 4 significant digits in the page's notation (0,96 in French); "" for none."""
    if value is None or value == "":
        return ""
    return f"{float(value):.4g}".replace(".", get_format("DECIMAL_SEPARATOR"))


def percent(probability) -> str:
    """A probability as a percentage, capped: '> 99 %' and '< 1 %' (no false certainty)."""
    if probability is None or probability == "":
        return ""
    p = float(probability)
    if p > 0.99:
        return "> 99 %"
    if p < 0.01:
        return "< 1 %"
    return f"{round(100 * p)} %"


def tidy_message(text: str) -> str:
    """A message built with an empty unit (T4U is a ratio) without the doubled or dangling spaces."""
    return " ".join(text.split()).replace(" .", ".").replace(" )", ")")


FLAG_LABELS = {
    "on_thyroxine": _("Taking thyroxine"),
    "query_on_thyroxine": _("Thyroxine intake uncertain"),
    "on_antithyroid_medication": _("Taking antithyroid medication"),
    "sick": _("Currently unwell"),
    "pregnant": _("Pregnant"),
    "thyroid_surgery": _("Previous thyroid surgery"),
    "I131_treatment": _("Radioiodine (I-131) treatment"),
    "query_hypothyroid": _("Hypothyroidism suspected by the referrer"),
    "query_hyperthyroid": _("Hyperthyroidism suspected by the referrer"),
    "lithium": _("Taking lithium"),
    "goitre": _("Goitre"),
    "tumor": _("Tumour"),
    "hypopituitary": _("Pituitary insufficiency"),
    "psych": _("Psychiatric condition"),
}


def flag_label(flag: str) -> str:
    return FLAG_LABELS.get(flag, flag)


def referral_label(source: str) -> str:
    """'Referring centre SVHC'; 'Other or unknown referrer' for `other`."""
    if not source or source == "other":
        return str(_("Other or unknown referrer"))
    return str(_("Referring centre %(code)s") % {"code": source})


def panel_flags(panel) -> list[str]:
    """The labels of the history flags set on a panel, in the schema's order."""
    return [str(FLAG_LABELS[flag]) for flag in HISTORY_FLAGS if getattr(panel, flag, False)]
