"""The thyroid conditions ThyroWeb answers beside the function class, and how the Garvan letters map to them.

The Garvan Institute's diagnosis string is the laboratory endocrinologist's comment on a panel, one
letter per condition (the archive's ``thyroid0387.names``, "Class"; docs/clinical-facts.md, "The data:
the Garvan thyroid archive", and "Treated patients, pregnancy, binding proteins, illness"). Letters A-D
and E-H make the function class (``mlcore.schema.label_from_diagnosis``); the others are conditions,
coded here. A record may carry several (``GK``: compensated hypothyroid with concurrent non-thyroidal
illness). In ``X|Y`` ("consistent
with X, but more likely Y") the conditions are read from Y, as the class is. T (elevated thyroid
hormones) has no code: no record of the archive carries it.
"""

from __future__ import annotations

# Code -> the Garvan letters that mean it, in the order the answer lists them.
CONDITIONS: dict[str, str] = {
    "binding_protein_increased": "I",
    "binding_protein_decreased": "J",
    "non_thyroidal_illness": "K",
    "replacement_consistent": "L",
    "replacement_under": "M",
    "replacement_over": "N",
    "antithyroid_treatment": "OPQ",
    "discordant_assays": "R",
    "elevated_tbg": "S",
}
CONDITION_CODES = tuple(CONDITIONS)
# The replacement status of a patient on thyroxine, from its three conditions.
REPLACEMENT_CODES = ("replacement_consistent", "replacement_under", "replacement_over")


def comment_letters(diagnosis: str | None) -> str:
    """The letters the comment settles on: Y of ``X|Y``, the whole string otherwise ("" for "-" or none)."""
    text = (diagnosis or "").strip()
    if "|" in text:
        text = text.rsplit("|", 1)[1].strip()
    return "" if text == "-" else text


def conditions_from_diagnosis(diagnosis: str | None) -> frozenset[str]:
    """The condition codes of a Garvan diagnosis string (empty for ``-``, a pure class, or none)."""
    letters = comment_letters(diagnosis)
    return frozenset(code for code, codes in CONDITIONS.items() if any(letter in letters for letter in codes))
