"""Clinical rules around the model: the outcome, coded referral reasons and input warnings.

A prediction is only as good as the panel it reads. These small named rules
decide whether the model's class can be given as it is (``assessed``), must be
looked at by a clinician (``refer``, with its reasons) or cannot be given at
all (``not_assessed``: the panel lacks what the model needs). Every reason and
warning is a code with parameters; the app renders it in English and French.

Thresholds are the default adult reference intervals of ``mlcore.schema``
(shared/DOMAIN.md, "Default adult reference intervals") and the guideline
cut-offs of DOMAIN.md's pattern table: ETA 2013 (subclinical hypothyroidism),
ETA 2015 (subclinical hyperthyroidism: TSH below 0.1 mU/L is grade 2,
"suppressed"), ATA 2016 (hyperthyroidism), ETA 2018 (central hypothyroidism).
Contexts the model was not made for come from DOMAIN.md, "Not interpretable
without clinical review". Unit factors come from DOMAIN.md's LOINC table.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from mlcore import units
from mlcore.schema import LAB_TESTS

ASSESSED = "assessed"
REFER = "refer"
NOT_ASSESSED = "not_assessed"
OUTCOMES = (ASSESSED, REFER, NOT_ASSESSED)

# Reasons for `refer`.
LOW_CONFIDENCE = "low_confidence"  # probability, threshold
OUTSIDE_TRAINING_RANGE = "outside_training_range"  # field, value, low, high, unit
UNUSUAL_COMBINATION = "unusual_combination"  # score, threshold
DISCORDANT_LOW_TSH_LOW_THYROXINE = "discordant_low_tsh_low_thyroxine"  # TSH, field, value, low, unit
DISCORDANT_HIGH_TSH_HIGH_THYROXINE = "discordant_high_tsh_high_thyroxine"  # TSH, field, value, high, unit
NORMAL_WITH_ABNORMAL_HORMONE = "normal_with_abnormal_hormone"  # field, value, low, high, unit, direction
SUPPRESSED_TSH_WITHOUT_THYROXINE = "suppressed_tsh_without_thyroxine"  # TSH
CONTEXT_NOT_COVERED = "context_not_covered"  # context (a history flag, or "under_18" with age)
MODEL_DISAGREES_WITH_READING = "model_disagrees_with_reading"  # predicted_class, pattern
# Reason for `not_assessed`.
TSH_MISSING = "tsh_missing"
# Warnings: the answer stands, but an input needs a second look.
UNIT_SUSPECTED = "unit_suspected"  # field, value, unit, suspected_unit, factor, converted
FTI_CONVENTION_SUSPECTED = "fti_convention_suspected"  # field, value
FTI_INCONSISTENT = "fti_inconsistent"  # FTI, expected, TT4, T4U, tolerance
VALUE_UNUSUAL = "value_unusual"  # field, value, bound, direction, unit
NOT_USED_BY_MODEL = "not_used_by_model"  # fields: entered values the model does not read (free T4, free T3)

REFERRAL_CODES = (
    UNIT_SUSPECTED,
    FTI_CONVENTION_SUSPECTED,
    LOW_CONFIDENCE,
    OUTSIDE_TRAINING_RANGE,
    UNUSUAL_COMBINATION,
    DISCORDANT_LOW_TSH_LOW_THYROXINE,
    DISCORDANT_HIGH_TSH_HIGH_THYROXINE,
    NORMAL_WITH_ABNORMAL_HORMONE,
    SUPPRESSED_TSH_WITHOUT_THYROXINE,
    CONTEXT_NOT_COVERED,
    MODEL_DISAGREES_WITH_READING,
)
NOT_ASSESSED_CODES = (TSH_MISSING,)
WARNING_CODES = (UNIT_SUSPECTED, FTI_CONVENTION_SUSPECTED, FTI_INCONSISTENT, VALUE_UNUSUAL, NOT_USED_BY_MODEL)

# History flags that put a panel outside what the model was made for (DOMAIN.md: thyroid drugs,
# pregnancy, pituitary disease; thyroid surgery and I-131 change the gland the TSH drives).
CONTEXT_FLAGS = (
    "on_thyroxine",
    "on_antithyroid_medication",
    "thyroid_surgery",
    "I131_treatment",
    "lithium",
    "hypopituitary",
    "pregnant",
)
ADULT_AGE = 18

# ETA 2015: TSH below 0.1 mU/L is "suppressed" (grade 2 subclinical hyperthyroidism when T4 is normal).
SUPPRESSED_TSH = 0.1
# DOMAIN.md: FTI = TT4/T4U holds within ±1 for 98% of records; 0.7% differ by more than 5%.
FTI_TOLERANCE = 0.05
FTI_TOLERANCE_ABSOLUTE = 1.0

# Thyroxine measures in order of preference (DOMAIN.md: prefer free T4; without it FTI, then total T4).
THYROXINE_PREFERENCE = ("FT4", "FTI", "TT4")


@dataclass(frozen=True)
class Reason:
    """A coded reason or warning: ``code`` is stable (API, CSV), ``params`` fill its message."""

    code: str
    params: Mapping[str, object] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"code": self.code, "params": dict(self.params)}


@dataclass(frozen=True)
class ModelScope:
    """What a model version knows of its training data, for the rules (all optional for old models)."""

    uncertain_threshold: float = 0.0
    ranges: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    novelty_threshold: float | None = None

    @classmethod
    def from_metadata(cls, metadata: Mapping) -> ModelScope:
        scope = metadata.get("scope") or {}
        novelty = scope.get("novelty") or {}
        return cls(
            uncertain_threshold=float(metadata.get("uncertain_threshold", 0.0)),
            ranges={name: (float(low), float(high)) for name, (low, high) in (scope.get("ranges") or {}).items()},
            novelty_threshold=float(novelty["threshold"]) if "threshold" in novelty else None,
        )


@dataclass(frozen=True)
class Assessment:
    """The outcome of one panel with its reasons (why refer / why not assessed), its notes (findings shown
    beside the answer that do not change the outcome) and its input warnings."""

    outcome: str
    reasons: tuple[Reason, ...] = ()
    warnings: tuple[Reason, ...] = ()
    notes: tuple[Reason, ...] = ()


def lab_value(panel: Mapping, name: str) -> float | None:
    """A panel's numeric value (None when absent, not a number or NaN)."""
    value = panel.get(name)
    if value is None or isinstance(value, bool):
        return None
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) else value


_value = lab_value


def _flag(panel: Mapping, name: str) -> bool:
    value = panel.get(name)
    return value is not None and not (isinstance(value, float) and math.isnan(value)) and bool(value)


def _unit(name: str) -> str:
    test = LAB_TESTS.get(name)
    return test.unit if test is not None else ""


def _reference(name: str) -> tuple[float, float] | None:
    test = LAB_TESTS.get(name)
    return (test.reference_low, test.reference_high) if test is not None else None


def preferred_thyroxine(panel: Mapping) -> tuple[str, float] | None:
    """The thyroxine measure a guideline reads first (free T4, then FTI, then total T4), if any."""
    for name in THYROXINE_PREFERENCE:
        value = _value(panel, name)
        if value is not None and _reference(name) is not None:
            return name, value
    return None


def has_lab_value(panel: Mapping) -> bool:
    return any(_value(panel, name) is not None for name in LAB_TESTS)


# --- Referral rules: each returns the reasons it finds (usually none or one). ---


def low_confidence(probabilities: Mapping[str, float], threshold: float) -> list[Reason]:
    """The top calibrated probability is below the threshold fitted on out-of-fold predictions."""
    top = max(probabilities.values())
    if top < threshold:
        return [Reason(LOW_CONFIDENCE, {"probability": round(top, 4), "threshold": round(threshold, 4)})]
    return []


def outside_training_range(panel: Mapping, ranges: Mapping[str, tuple[float, float]]) -> list[Reason]:
    """A value outside the range the model saw in its training rows (scope ranges of the model)."""
    reasons = []
    for name, (low, high) in ranges.items():
        value = _value(panel, name)
        if value is not None and not low <= value <= high:
            unit = "years" if name == "age" else _unit(name)
            reasons.append(
                Reason(OUTSIDE_TRAINING_RANGE, {"field": name, "value": value, "low": low, "high": high, "unit": unit})
            )
    return reasons


def unusual_combination(score: float | None, threshold: float | None) -> list[Reason]:
    """The multivariate novelty score of the panel is beyond what the training rows reached."""
    if score is None or threshold is None or not score > threshold:
        return []
    return [Reason(UNUSUAL_COMBINATION, {"score": round(float(score), 3), "threshold": round(threshold, 3)})]


def discordant_tsh_thyroxine(panel: Mapping) -> list[Reason]:
    """TSH and thyroxine pointing different ways (DOMAIN.md pattern table, ETA 2018):
    low or normal TSH with low thyroxine (central hypothyroidism, non-thyroidal illness) and
    normal or high TSH with high thyroxine (inappropriate TSH: assay interference, thyroxine
    intake or poor adherence, TSH-secreting adenoma, hormone resistance)."""
    tsh = _value(panel, "TSH")
    thyroxine = preferred_thyroxine(panel)
    if tsh is None or thyroxine is None:
        return []
    name, value = thyroxine
    low, high = _reference(name)
    tsh_low, tsh_high = _reference("TSH")
    params = {"TSH": tsh, "field": name, "value": value, "unit": _unit(name)}
    if value < low and tsh <= tsh_high:
        return [Reason(DISCORDANT_LOW_TSH_LOW_THYROXINE, {**params, "low": low})]
    if value > high and tsh >= tsh_low:
        return [Reason(DISCORDANT_HIGH_TSH_HIGH_THYROXINE, {**params, "high": high})]
    return []


def normal_with_abnormal_hormone(panel: Mapping, predicted_class: str | None) -> list[Reason]:
    """A `normal` class while thyroxine (the preferred measure) or T3 lies outside its reference
    interval. Total T4 is read only without FTI or free T4: binding proteins move it alone."""
    if predicted_class != "normal":
        return []
    thyroxine = preferred_thyroxine(panel)
    names = [thyroxine[0]] if thyroxine else []
    names += [name for name in ("FT3", "T3") if _value(panel, name) is not None][:1]  # free T3 first
    reasons = []
    for name in names:
        value, reference = _value(panel, name), _reference(name)
        if reference is None:
            continue
        low, high = reference
        if value < low or value > high:
            direction = "low" if value < low else "high"
            reasons.append(
                Reason(
                    NORMAL_WITH_ABNORMAL_HORMONE,
                    {
                        "field": name,
                        "value": value,
                        "low": low,
                        "high": high,
                        "unit": _unit(name),
                        "direction": direction,
                    },
                )
            )
    return reasons


def suppressed_tsh_without_thyroxine(panel: Mapping) -> list[Reason]:
    """TSH below 0.1 mU/L with no thyroxine measured: overt and subclinical hyperthyroidism (and
    central causes) cannot be told apart (ETA 2015, ATA 2016)."""
    tsh = _value(panel, "TSH")
    if tsh is not None and tsh < SUPPRESSED_TSH and preferred_thyroxine(panel) is None:
        return [Reason(SUPPRESSED_TSH_WITHOUT_THYROXINE, {"TSH": tsh, "threshold": SUPPRESSED_TSH})]
    return []


def context_not_covered(panel: Mapping) -> list[Reason]:
    """Contexts where thyroid tests are not interpretable without clinical review (DOMAIN.md):
    thyroid drugs, thyroid surgery or I-131, lithium, pituitary disease, pregnancy, children."""
    reasons = [Reason(CONTEXT_NOT_COVERED, {"context": flag}) for flag in CONTEXT_FLAGS if _flag(panel, flag)]
    age = _value(panel, "age")
    if age is not None and age < ADULT_AGE:
        reasons.append(Reason(CONTEXT_NOT_COVERED, {"context": "under_18", "age": age}))
    return reasons


def model_disagrees_with_reading(predicted_class: str | None, pattern: Mapping | None) -> list[Reason]:
    """The model's class is not the class the guideline reading points to (mlcore.reading.PATTERN_CLASS);
    readings with no class (central, inappropriate TSH, unclassified, not readable) compare with nothing."""
    from mlcore.reading import pattern_class  # the reading reads these rules' helpers: import late

    expected = pattern_class(pattern)
    if predicted_class is None or expected is None or expected == predicted_class:
        return []
    return [Reason(MODEL_DISAGREES_WITH_READING, {"predicted_class": predicted_class, "pattern": pattern["code"]})]


# --- Warnings on inputs. ---


def not_used_by_model(panel: Mapping, model_inputs) -> list[Reason]:
    """Entered lab values the model does not read (it was trained on the Garvan tests, without free
    hormones): the guideline reading uses them, the model's class does not."""
    unused = [name for name in LAB_TESTS if name not in model_inputs and _value(panel, name) is not None]
    return [Reason(NOT_USED_BY_MODEL, {"fields": unused})] if unused else []


# (field, suspected unit (UCUM code), the rule's cut-off, how the value compares to it). Factors: the one
# conversion table, mlcore.units (DOMAIN.md's LOINC table: 1 ug/dL T4 = 12.87 nmol/L, 1 ng/dL T3 =
# 0.01536 nmol/L, 1 pg/mL FT3 = 1.536 pmol/L; FT4: 1 ng/dL = 12.87 pmol/L; 1 mU/mL = 1000 mU/L).
_UNIT_SUSPECTS = (
    ("TSH", "m[IU]/mL", 0.005, "below"),  # below any assay's detection limit (DOMAIN.md: 0.005)
    ("TT4", "ug/dL", 25.0, "below"),  # issue 11: "TT4 below about 25 looks like ug/dL"
    ("T3", "ng/dL", 20.0, "above"),  # above T3's plausible maximum in nmol/L
    ("T3", "ng/mL", 0.5, "below"),
    ("FT4", "ng/dL", 5.0, "below"),
    ("FT3", "pg/mL", 2.0, "below"),
)


def unit_suspicion(name: str, value: float | None) -> Reason | None:
    """A value that fits another common unit far better than ours, with the suggested conversion.

    "Far better": past the cut-off the value is implausible (or near-impossible) in our unit,
    while converted from the suspected unit it lands inside our plausible range."""
    if value is None:
        return None
    test = LAB_TESTS.get(name)
    for field_name, unit, cutoff, side in _UNIT_SUSPECTS:
        if field_name != name or test is None:
            continue
        factor = units.CONVERSIONS[name][unit]
        beyond = value < cutoff if side == "below" else value > cutoff
        converted = value * factor
        if value > 0 and beyond and test.plausible_min <= converted <= test.plausible_max:
            return Reason(
                UNIT_SUSPECTED,
                {
                    "field": name,
                    "value": value,
                    "unit": test.unit,
                    "suspected_unit": units.display(unit),
                    "factor": factor,
                    "converted": float(f"{converted:.4g}"),
                },
            )
    return None


def unit_warnings(panel: Mapping) -> list[Reason]:
    warnings = [unit_suspicion(name, _value(panel, name)) for name in LAB_TESTS]
    fti = _value(panel, "FTI")
    if fti is not None and fti < 10:
        # DOMAIN.md: US labs report FTI as TT4 (ug/dL) x T3 uptake, values 1-5; ours is TT4/T4U.
        warnings.append(Reason(FTI_CONVENTION_SUSPECTED, {"field": "FTI", "value": fti}))
    return [warning for warning in warnings if warning is not None]


def fti_inconsistent(panel: Mapping) -> list[Reason]:
    """FTI recorded vs TT4/T4U: beyond 5% (and 1 unit) the values probably hold an entry error."""
    fti, tt4, t4u = _value(panel, "FTI"), _value(panel, "TT4"), _value(panel, "T4U")
    if fti is None or tt4 is None or not t4u:
        return []
    expected = tt4 / t4u
    if abs(fti - expected) > max(FTI_TOLERANCE * expected, FTI_TOLERANCE_ABSOLUTE):
        return [
            Reason(
                FTI_INCONSISTENT,
                {"FTI": fti, "expected": round(expected, 1), "TT4": tt4, "T4U": t4u, "tolerance": FTI_TOLERANCE},
            )
        ]
    return []


def unusual_values(panel: Mapping) -> list[Reason]:
    """Accepted values outside the data's 0.1-99.9th percentiles (DOMAIN.md, input validation)."""
    warnings = []
    for name, test in LAB_TESTS.items():
        value = _value(panel, name)
        if value is None:
            continue
        if test.warn_min is not None and value < test.warn_min:
            warnings.append(
                Reason(
                    VALUE_UNUSUAL,
                    {"field": name, "value": value, "bound": test.warn_min, "direction": "low", "unit": test.unit},
                )
            )
        elif test.warn_max is not None and value > test.warn_max:
            warnings.append(
                Reason(
                    VALUE_UNUSUAL,
                    {"field": name, "value": value, "bound": test.warn_max, "direction": "high", "unit": test.unit},
                )
            )
    return warnings


def input_warnings(panel: Mapping) -> list[Reason]:
    """Every warning on a panel's inputs: suspected units, FTI inconsistency, unusual values."""
    return [*unit_warnings(panel), *fti_inconsistent(panel), *unusual_values(panel)]


# --- The outcome. ---


def can_assess(panel: Mapping) -> list[Reason]:
    """What the model needs and the panel lacks (TSH is required): the not-assessed reasons."""
    if _value(panel, "TSH") is None:
        return [Reason(TSH_MISSING)]
    return []


def referral_reasons(
    panel: Mapping,
    predicted_class: str | None,
    probabilities: Mapping[str, float],
    scope: ModelScope,
    *,
    novelty: float | None = None,
    pattern: Mapping | None = None,
) -> list[Reason]:
    """Every reason a clinician must look at this answer, in a fixed order."""
    return [
        *context_not_covered(panel),
        *suppressed_tsh_without_thyroxine(panel),
        *discordant_tsh_thyroxine(panel),
        *normal_with_abnormal_hormone(panel, predicted_class),
        *model_disagrees_with_reading(predicted_class, pattern),
        *outside_training_range(panel, scope.ranges),
        *unusual_combination(novelty, scope.novelty_threshold),
        *low_confidence(probabilities, scope.uncertain_threshold),
    ]


def assess(
    panel: Mapping,
    predicted_class: str | None,
    probabilities: Mapping[str, float] | None,
    scope: ModelScope,
    *,
    novelty: float | None = None,
    pattern: Mapping | None = None,
) -> Assessment:
    """The outcome of a validated panel scored by the model (probabilities may be None when the
    panel cannot be assessed): not_assessed, refer (with reasons) or assessed; warnings in all.
    ``pattern`` is the guideline reading (mlcore.reading.read_panel): a class it contradicts refers."""
    warnings = tuple(input_warnings(panel))
    missing = can_assess(panel)
    if missing or probabilities is None:
        return Assessment(NOT_ASSESSED, tuple(missing or [Reason(TSH_MISSING)]), warnings)
    reasons = referral_reasons(panel, predicted_class, probabilities, scope, novelty=novelty, pattern=pattern)
    # An answer read from a value in the wrong unit is not one to rely on: the same reason refers.
    reasons += [warning for warning in warnings if warning.code in (UNIT_SUSPECTED, FTI_CONVENTION_SUSPECTED)]
    return Assessment(REFER if reasons else ASSESSED, tuple(reasons), warnings)
