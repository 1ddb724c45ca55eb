"""The guideline reading (mlcore.reading) and the values the model did not use, in plain words (EN/FR).

The pages and the API word a reading's code here, once. Wording follows docs/clinical-facts.md, "Reading TSH
with thyroxine".
"""

from collections.abc import Mapping

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from mlcore import reading

PATTERN_MESSAGES = {
    reading.OVERT_PRIMARY_HYPOTHYROIDISM: gettext_lazy("Overt primary hypothyroidism: high TSH with low thyroxine."),
    reading.MILD_SUBCLINICAL_HYPOTHYROIDISM: gettext_lazy(
        "Mild subclinical hypothyroidism: TSH high but below 10 mU/L, thyroxine and T3 normal; repeat in 2-3 months."
    ),
    reading.SUBCLINICAL_HYPOTHYROIDISM: gettext_lazy(
        "Subclinical hypothyroidism: TSH 10 mU/L or more, thyroxine and T3 normal; treatment usually considered."
    ),
    reading.OVERT_HYPERTHYROIDISM: gettext_lazy(
        "Overt hyperthyroidism: low TSH with high thyroxine (T3 high or normal)."
    ),
    reading.T3_TOXICOSIS: gettext_lazy("T3 toxicosis: low TSH, normal thyroxine, high T3."),
    reading.SUBCLINICAL_HYPERTHYROIDISM_GRADE_1: gettext_lazy(
        "Subclinical hyperthyroidism, grade 1: TSH low but 0.1 mU/L or more, thyroxine and T3 normal."
    ),
    reading.SUBCLINICAL_HYPERTHYROIDISM_GRADE_2: gettext_lazy(
        "Subclinical hyperthyroidism, grade 2: TSH below 0.1 mU/L, thyroxine and T3 normal."
    ),
    reading.CENTRAL_OR_NON_THYROIDAL_ILLNESS: gettext_lazy(
        "Central hypothyroidism or non-thyroidal illness (or recent treatment of hyperthyroidism): low thyroxine "
        "without a high TSH."
    ),
    reading.INAPPROPRIATE_TSH: gettext_lazy(
        "Inappropriate TSH: high thyroxine without a low TSH (assay interference, thyroxine intake, TSH-secreting "
        "adenoma, hormone resistance)."
    ),
    reading.EUTHYROID: gettext_lazy("Euthyroid: TSH, thyroxine and T3 normal."),
    reading.UNCLASSIFIED: gettext_lazy(
        "No guideline pattern fits this combination of values: a clinician must read it."
    ),
    reading.NOT_READABLE: gettext_lazy("Not readable: the guideline reading needs TSH and a thyroxine measure."),
}


def pattern_message(pattern: Mapping | None) -> str:
    """The reading in plain words, with the thyroxine and T3 measures it read."""
    if not pattern:
        return ""
    message = str(PATTERN_MESSAGES.get(str(pattern.get("code")), pattern.get("code")))
    read = [name for name in (pattern.get("thyroxine"), pattern.get("T3")) if name]
    if read:
        message += " " + _("Read from: TSH, %(tests)s.") % {"tests": ", ".join(read)}
    return message


def with_message(pattern: Mapping | None) -> dict | None:
    """A reading as the API gives it: its code and fields, and its ``message``."""
    if not pattern:
        return None
    return {**pattern, "message": pattern_message(pattern)}


def not_used_fields(warnings) -> list[str]:
    """The entered lab values the model did not use (the not_used_by_model warning), if any."""
    for warning in warnings or []:
        if isinstance(warning, Mapping) and warning.get("code") == "not_used_by_model":
            return list((warning.get("params") or {}).get("fields") or [])
    return []


def not_used_message(fields: list[str]) -> str:
    if not fields:
        return ""
    return _(
        "The model did not use %(fields)s: it was trained without free hormones. The guideline reading uses them."
    ) % {"fields": ", ".join(fields)}
