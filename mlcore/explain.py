"""Per-prediction explanations: integrated gradients (Sundararajan et al. 2017) per input field.

The attribution of an input is measured from a reference panel, a typical
normal training panel saved with the model. For each class, the
contributions of all inputs add up to p(class | panel) - p(class | reference)
(up to the integration error of a few midpoint steps).

An item names the class whose probability the input raised most ("towards",
a positive attribution) and, when it lowered another class's probability by
as much as an item must move, that class ("against", a negative attribution):
an input can raise p(hyperthyroid) a little while the answer stays normal, and
the item then says it moved away from normal. Inputs that were not measured
(or not given) get no item: their absence is not a finding to show.
"""

from __future__ import annotations

import math

import numpy as np

from mlcore.network import NumpyNetwork
from mlcore.schema import CLASSES, LAB_TESTS

# Display names and units of the numeric features (lab tests come from the schema).
_NUMERIC_DISPLAY = {"age": ("age", "years"), "T3_TT4_ratio": ("T3/TT4 ratio", "")}


def integrated_gradients(
    network: NumpyNetwork, x: np.ndarray, baseline: np.ndarray, *, temperature: float, steps: int = 16
) -> np.ndarray:
    """(d, c) attributions of the encoded features of one row x to each calibrated class probability."""
    alphas = (np.arange(steps) + 0.5) / steps
    path = baseline[None, :] + alphas[:, None] * (x - baseline)[None, :]
    _, gradients = network.probabilities_and_gradients(path, temperature)  # (steps, c, d)
    return (gradients.mean(axis=0) * (x - baseline)[None, :]).T


def group_attributions(attributions: np.ndarray, groups: dict[str, list[int]]) -> dict[str, np.ndarray]:
    """Sum encoded-column attributions (d, c) into one vector (c,) per input field."""
    return {name: attributions[columns].sum(axis=0) for name, columns in groups.items()}


def _display(name: str, row: dict) -> tuple[str, object, str, str]:
    """(feature label, value, unit, phrase) in the clinician's terms."""
    if name in LAB_TESTS or name in _NUMERIC_DISPLAY:
        if name == "T3_TT4_ratio":
            t3, tt4 = row.get("T3"), row.get("TT4")
            value = t3 / tt4 if t3 is not None and tt4 not in (None, 0) else None
        else:
            value = row.get(name)
        label, unit = _NUMERIC_DISPLAY.get(name) or (name, LAB_TESTS[name].unit)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return label, None, unit, f"{label} not measured"
        shown = f"{value:.3g}" if name == "T3_TT4_ratio" else f"{value:g}"
        return label, value, unit, f"{label} {shown} {unit}".rstrip()
    if name == "sex":
        value = row.get("sex") if isinstance(row.get("sex"), str) else None
        return "sex", value, "", f"sex {value}" if value else "sex unknown"
    if name == "referral_source":
        value = row.get("referral_source")
        return "referral source", value, "", f"referral source {value}"
    value = bool(row.get(name))
    words = name.replace("_", " ")
    return words, value, "", f"{words}: {'yes' if value else 'no'}"


def _points(value: float) -> str:
    """A change of probability in percentage points (within ±100: the integration error can pass it)."""
    return f"{max(-100.0, min(100.0, 100 * value)):+.1f} points"


def explain_row(
    row: dict,
    attributions_by_field: dict[str, np.ndarray],
    *,
    top: int = 5,
    min_contribution: float = 0.005,
) -> list[dict]:
    """The inputs that moved the probabilities most, as dicts ready for a page or an API."""
    items = []
    for name, vector in attributions_by_field.items():
        towards = int(np.argmax(vector))
        contribution = float(vector[towards])
        if contribution < min_contribution:
            continue
        label, value, unit, phrase = _display(name, row)
        if value is None:  # not measured or not given: nothing the clinician can read as a finding
            continue
        against = int(np.argmin(vector))
        text = f"{phrase} pushed towards {CLASSES[towards]} ({_points(contribution)})"
        lowered = float(vector[against]) <= -min_contribution and against != towards
        if lowered:
            text += f", away from {CLASSES[against]} ({_points(float(vector[against]))})"
        items.append(
            {
                "feature": name,
                "label": label,
                "value": value,
                "unit": unit,
                "towards": CLASSES[towards],
                "against": CLASSES[against] if lowered else None,
                "contribution": round(contribution, 4),
                "contributions": {c: round(float(v), 4) for c, v in zip(CLASSES, vector, strict=True)},
                "text": text,
            }
        )
    items.sort(key=lambda item: -abs(item["contribution"]))
    return items[:top]
