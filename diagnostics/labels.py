"""Plain-language labels for the UCI codes shown on pages and reports (CSV and API keep the codes).

The Garvan/UCI documentation (thyroid0387.names) gives the history flags and the
referral sources as bare codes; the flag wording below says what each flag
records, and the referral sources, which the data documents only as codes,
are shown as "referring centre <code>".
"""

from django.utils.translation import gettext_lazy as _

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
    from mlcore.schema import HISTORY_FLAGS

    return [str(FLAG_LABELS[flag]) for flag in HISTORY_FLAGS if getattr(panel, flag, False)]
