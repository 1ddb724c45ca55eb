"""The guideline reading of a panel: TSH read with thyroxine and T3, beside the model's answer.

Deterministic, one small named rule per row of the pattern table in shared/DOMAIN.md ("Reading TSH
with thyroxine: the patterns guidelines use"; sources ETA 2013 for subclinical hypothyroidism, ETA 2015
for subclinical hyperthyroidism, ATA 2016 for hyperthyroidism, ETA 2018 for central hypothyroidism).
Thyroxine is free T4 first, then FTI, then total T4; T3 is free T3 first, then total T3. "Low", "normal"
and "high" are against the default adult reference intervals of ``mlcore.schema`` (DOMAIN.md).

Choices where the table leaves room:
- Subclinical hyperthyroidism needs a TSH below the reference interval (0.27 mU/L); its grades split at
  0.1 mU/L (grade 2 below). A TSH of 0.27-0.4 mU/L (grade 1 by ETA 2015's 0.4 lower limit) lies inside
  our reference interval and reads euthyroid.
- T3 not measured does not stop a reading that needs "normal" T3 (most labs send no T3): the pattern
  says which T3 was read (``"T3": None`` when none). A measured T3 that no row allows (low T3 with high
  TSH and normal thyroxine, for example) gives ``unclassified``.
- Without TSH or without any thyroxine measure the panel is ``not_readable``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from mlcore.rules import SUPPRESSED_TSH, lab_value, preferred_thyroxine
from mlcore.schema import LAB_TESTS

LOW, NORMAL, HIGH = "low", "normal", "high"
# ETA 2013: TSH of 10 mU/L or more with normal thyroxine is subclinical hypothyroidism where treatment is
# usually considered; below it, mild (repeat in 2-3 months).
SUBCLINICAL_HYPO_TREAT_TSH = 10.0
T3_PREFERENCE = ("FT3", "T3")

OVERT_PRIMARY_HYPOTHYROIDISM = "overt_primary_hypothyroidism"
MILD_SUBCLINICAL_HYPOTHYROIDISM = "mild_subclinical_hypothyroidism"
SUBCLINICAL_HYPOTHYROIDISM = "subclinical_hypothyroidism"
OVERT_HYPERTHYROIDISM = "overt_hyperthyroidism"
T3_TOXICOSIS = "t3_toxicosis"
SUBCLINICAL_HYPERTHYROIDISM_GRADE_1 = "subclinical_hyperthyroidism_grade_1"
SUBCLINICAL_HYPERTHYROIDISM_GRADE_2 = "subclinical_hyperthyroidism_grade_2"
CENTRAL_OR_NON_THYROIDAL_ILLNESS = "central_hypothyroidism_or_non_thyroidal_illness"
INAPPROPRIATE_TSH = "inappropriate_tsh"
EUTHYROID = "euthyroid"
UNCLASSIFIED = "unclassified"
NOT_READABLE = "not_readable"

# The class a reading points to, for comparing with the model's (the one mapping). Central, inappropriate,
# unclassified and not readable have none: the discordance rule (mlcore.rules) refers those already.
PATTERN_CLASS = {
    OVERT_PRIMARY_HYPOTHYROIDISM: "hypothyroid",
    MILD_SUBCLINICAL_HYPOTHYROIDISM: "hypothyroid",
    SUBCLINICAL_HYPOTHYROIDISM: "hypothyroid",
    OVERT_HYPERTHYROIDISM: "hyperthyroid",
    T3_TOXICOSIS: "hyperthyroid",
    SUBCLINICAL_HYPERTHYROIDISM_GRADE_1: "hyperthyroid",
    SUBCLINICAL_HYPERTHYROIDISM_GRADE_2: "hyperthyroid",
    EUTHYROID: "normal",
}


def level(name: str, value: float | None) -> str | None:
    """low / normal / high against the test's reference interval (None when not measured)."""
    if value is None:
        return None
    test = LAB_TESTS[name]
    if value < test.reference_low:
        return LOW
    if value > test.reference_high:
        return HIGH
    return NORMAL


def preferred_t3(panel: Mapping) -> tuple[str, float] | None:
    """The T3 measure read (free T3 first, then total T3), if any."""
    for name in T3_PREFERENCE:
        value = lab_value(panel, name)
        if value is not None:
            return name, value
    return None


# --- The rows of DOMAIN.md's table, in its order: (TSH value, TSH level, thyroxine level, T3 level). ---


def overt_primary_hypothyroidism(tsh: float, tsh_level: str, t4: str, t3: str | None) -> bool:
    """High TSH, low thyroxine, any T3."""
    return tsh_level == HIGH and t4 == LOW


def mild_subclinical_hypothyroidism(tsh: float, tsh_level: str, t4: str, t3: str | None) -> bool:
    """High TSH below 10 mU/L, normal thyroxine and T3: repeat in 2-3 months."""
    return tsh_level == HIGH and tsh < SUBCLINICAL_HYPO_TREAT_TSH and t4 == NORMAL and t3 in (NORMAL, None)


def subclinical_hypothyroidism(tsh: float, tsh_level: str, t4: str, t3: str | None) -> bool:
    """TSH 10 mU/L or more, normal thyroxine and T3: treatment usually considered."""
    return tsh_level == HIGH and tsh >= SUBCLINICAL_HYPO_TREAT_TSH and t4 == NORMAL and t3 in (NORMAL, None)


def overt_hyperthyroidism(tsh: float, tsh_level: str, t4: str, t3: str | None) -> bool:
    """Low TSH, high thyroxine, high or normal T3."""
    return tsh_level == LOW and t4 == HIGH and t3 in (HIGH, NORMAL, None)


def t3_toxicosis(tsh: float, tsh_level: str, t4: str, t3: str | None) -> bool:
    """Low TSH, normal thyroxine, high T3."""
    return tsh_level == LOW and t4 == NORMAL and t3 == HIGH


def subclinical_hyperthyroidism_grade_1(tsh: float, tsh_level: str, t4: str, t3: str | None) -> bool:
    """Low TSH of 0.1 mU/L or more, normal thyroxine and T3."""
    return tsh_level == LOW and tsh >= SUPPRESSED_TSH and t4 == NORMAL and t3 in (NORMAL, None)


def subclinical_hyperthyroidism_grade_2(tsh: float, tsh_level: str, t4: str, t3: str | None) -> bool:
    """TSH below 0.1 mU/L, normal thyroxine and T3."""
    return tsh < SUPPRESSED_TSH and t4 == NORMAL and t3 in (NORMAL, None)


def central_or_non_thyroidal_illness(tsh: float, tsh_level: str, t4: str, t3: str | None) -> bool:
    """Low or normal TSH, low thyroxine, any T3 (or recent treatment of hyperthyroidism)."""
    return tsh_level in (LOW, NORMAL) and t4 == LOW


def inappropriate_tsh(tsh: float, tsh_level: str, t4: str, t3: str | None) -> bool:
    """Normal or high TSH, high thyroxine, any T3: interference, thyroxine intake, adenoma, resistance."""
    return tsh_level in (NORMAL, HIGH) and t4 == HIGH


def euthyroid(tsh: float, tsh_level: str, t4: str, t3: str | None) -> bool:
    """Normal TSH, thyroxine and T3."""
    return tsh_level == NORMAL and t4 == NORMAL and t3 in (NORMAL, None)


PATTERNS: tuple[tuple[str, Callable[[float, str, str, str | None], bool]], ...] = (
    (OVERT_PRIMARY_HYPOTHYROIDISM, overt_primary_hypothyroidism),
    (MILD_SUBCLINICAL_HYPOTHYROIDISM, mild_subclinical_hypothyroidism),
    (SUBCLINICAL_HYPOTHYROIDISM, subclinical_hypothyroidism),
    (OVERT_HYPERTHYROIDISM, overt_hyperthyroidism),
    (T3_TOXICOSIS, t3_toxicosis),
    (SUBCLINICAL_HYPERTHYROIDISM_GRADE_1, subclinical_hyperthyroidism_grade_1),
    (SUBCLINICAL_HYPERTHYROIDISM_GRADE_2, subclinical_hyperthyroidism_grade_2),
    (CENTRAL_OR_NON_THYROIDAL_ILLNESS, central_or_non_thyroidal_illness),
    (INAPPROPRIATE_TSH, inappropriate_tsh),
    (EUTHYROID, euthyroid),
)
CODES = (*(code for code, _rule in PATTERNS), UNCLASSIFIED, NOT_READABLE)


def read_panel(panel: Mapping) -> dict:
    """The guideline reading of a validated panel: ``{"code", "thyroxine", "T3", "levels"}``.

    ``thyroxine`` and ``T3`` name the measures read (FT4/FTI/TT4, FT3/T3, or None); ``levels`` gives
    each one's place against its reference interval. ``not_readable`` lists what is ``missing``."""
    tsh = lab_value(panel, "TSH")
    thyroxine = preferred_thyroxine(panel)
    t3 = preferred_t3(panel)
    if tsh is None or thyroxine is None:
        missing = [name for name, absent in (("TSH", tsh is None), ("thyroxine", thyroxine is None)) if absent]
        return {"code": NOT_READABLE, "thyroxine": None, "T3": None, "missing": missing}
    levels = {"TSH": level("TSH", tsh), thyroxine[0]: level(*thyroxine)}
    if t3 is not None:
        levels[t3[0]] = level(*t3)
    t3_level = levels[t3[0]] if t3 is not None else None
    code = next(
        (code for code, rule in PATTERNS if rule(tsh, levels["TSH"], levels[thyroxine[0]], t3_level)),
        UNCLASSIFIED,
    )
    return {"code": code, "thyroxine": thyroxine[0], "T3": t3[0] if t3 is not None else None, "levels": levels}


def pattern_class(pattern: Mapping | None) -> str | None:
    """The class a reading points to (None: no class to compare with the model's)."""
    if not pattern:
        return None
    return PATTERN_CLASS.get(str(pattern.get("code")))
