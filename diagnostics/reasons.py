"""Coded reasons and warnings of ``mlcore.rules`` in plain words, in the user's language.

mlcore gives every referral reason, not-assessed reason and input warning as a code with
parameters; this module is the one place that words them (pages, API ``message``, FHIR notes).
A code without a message here fails tests/test_reasons.py.
"""

import math
from collections.abc import Callable, Mapping

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from diagnostics.labels import class_label, number, tidy_message
from diagnostics.patterns import not_used_message, pattern_message
from mlcore import rules
from mlcore.schema import LAB_TESTS


def _unit(params: Mapping) -> str:
    unit = params.get("unit")
    if unit is None:
        unit = LAB_TESTS[params["field"]].unit if params.get("field") in LAB_TESTS else ""
    return str(unit)


def _value_params(params: Mapping) -> dict:
    return {"field": params.get("field", ""), "value": number(params.get("value")), "unit": _unit(params)}


def _unit_suspected(p: Mapping) -> str:
    return _(
        "%(field)s %(value)s %(unit)s looks like %(suspected_unit)s: × %(factor)s = %(converted)s %(unit)s"
        " — check the unit."
    ) % {
        **_value_params(p),
        "suspected_unit": p.get("suspected_unit", ""),
        "factor": number(p.get("factor")),
        "converted": number(p.get("converted")),
    }


def _fti_convention(p: Mapping) -> str:
    return _(
        "FTI %(value)s looks like the US free thyroxine index (TT4 × T3 uptake, values 1–5); ThyroWeb's FTI "
        "is TT4/T4U (about 70–155) — check the value."
    ) % {"value": number(p.get("value"))}


def _low_confidence(p: Mapping) -> str:
    if p.get("probability") is None or p.get("threshold") is None:  # stored before the parameters existed
        return _("Low confidence: the top probability is below the model's threshold.")
    # Rounded down, the probability never reads as high as the threshold it fell below.
    return _("Low confidence: top probability %(probability)s below the threshold %(threshold)s.") % {
        "probability": f"{math.floor(100 * float(p['probability']))} %",
        "threshold": f"{number(round(100 * float(p['threshold']), 1))} %",
    }


def _outside_training_range(p: Mapping) -> str:
    unit = _("years") if p.get("field") == "age" else _unit(p)
    return _(
        "%(field)s %(value)s %(unit)s is outside the range of the model's training data (%(low)s–%(high)s %(unit)s)."
    ) % {**_value_params(p), "unit": unit, "low": number(p.get("low")), "high": number(p.get("high"))}


def _unusual_combination(p: Mapping) -> str:
    return _(
        "The combination of values is unlike the model's training panels (novelty score %(score)s above %(threshold)s)."
    ) % {"score": number(p.get("score")), "threshold": number(p.get("threshold"))}


def _discordant_low(p: Mapping) -> str:
    return _(
        "TSH %(tsh)s mU/L is not high while %(field)s %(value)s %(unit)s is below %(low)s %(unit)s: consider "
        "central hypothyroidism or non-thyroidal illness."
    ) % {**_value_params(p), "tsh": number(p.get("TSH")), "low": number(p.get("low"))}


def _discordant_high(p: Mapping) -> str:
    return _(
        "TSH %(tsh)s mU/L is not low while %(field)s %(value)s %(unit)s is above %(high)s %(unit)s: consider "
        "assay interference, thyroxine intake or poor adherence, or a TSH-secreting adenoma."
    ) % {**_value_params(p), "tsh": number(p.get("TSH")), "high": number(p.get("high"))}


def _normal_with_abnormal(p: Mapping) -> str:
    params = {**_value_params(p), "low": number(p.get("low")), "high": number(p.get("high"))}
    if p.get("direction") == "low":
        return (
            _(
                "The class is normal while %(field)s %(value)s %(unit)s is below its reference interval "
                "%(low)s–%(high)s %(unit)s."
            )
            % params
        )
    return (
        _(
            "The class is normal while %(field)s %(value)s %(unit)s is above its reference interval "
            "%(low)s–%(high)s %(unit)s."
        )
        % params
    )


def _suppressed_tsh(p: Mapping) -> str:
    return _(
        "TSH %(tsh)s mU/L is suppressed (below %(threshold)s mU/L) and no thyroxine (free T4, FTI or total T4) "
        "was measured: overt and subclinical hyperthyroidism cannot be told apart."
    ) % {"tsh": number(p.get("TSH")), "threshold": number(p.get("threshold", rules.SUPPRESSED_TSH))}


CONTEXT_MESSAGES = {
    "on_thyroxine": gettext_lazy("Patient on thyroxine: the model was not made for treated patients."),
    "on_antithyroid_medication": gettext_lazy(
        "Patient on antithyroid drugs: the model was not made for treated patients."
    ),
    "thyroid_surgery": gettext_lazy("Thyroid surgery: the model was not made for patients after thyroid surgery."),
    "I131_treatment": gettext_lazy(
        "Radioiodine (I-131) treatment: the model was not made for patients after radioiodine."
    ),
    "lithium": gettext_lazy("Patient on lithium: lithium changes thyroid function; the model was not made for it."),
    "hypopituitary": gettext_lazy(
        "Hypopituitarism: TSH does not reflect thyroid function; the model was not made for pituitary disease."
    ),
    "pregnant": gettext_lazy(
        "Pregnancy: TSH and thyroxine have trimester-specific intervals; the model was not made for pregnancy."
    ),
}


def _context(p: Mapping) -> str:
    context = p.get("context")
    if context == "under_18":
        return _("Age %(age)s: the model was made for adults (18 and over).") % {"age": number(p.get("age"))}
    if context in CONTEXT_MESSAGES:
        return str(CONTEXT_MESSAGES[context])
    return _("%(context)s: the model was not made for this context.") % {"context": context}


def _pattern_words(pattern) -> str:
    if not isinstance(pattern, Mapping):
        pattern = {"code": str(pattern or "")}
    return pattern_message(pattern).rstrip(".")


def _model_disagrees(p: Mapping) -> str:
    return _("The model's class (%(class)s) disagrees with the guideline reading of the values (%(pattern)s).") % {
        "class": class_label(p.get("predicted_class", "")),
        "pattern": _pattern_words(p.get("pattern")),
    }


def _not_used(p: Mapping) -> str:
    return not_used_message(list(p.get("fields") or []))


def _tsh_missing(p: Mapping) -> str:
    return _("TSH was not measured: the model needs TSH to assess a panel, so no class is given.")


def _fti_inconsistent(p: Mapping) -> str:
    return _(
        "FTI %(fti)s differs from TT4/T4U = %(tt4)s/%(t4u)s = %(expected)s by more than %(tolerance)s %% — "
        "check the values."
    ) % {
        "fti": number(p.get("FTI")),
        "tt4": number(p.get("TT4")),
        "t4u": number(p.get("T4U")),
        "expected": number(p.get("expected")),
        "tolerance": number(100 * float(p.get("tolerance", rules.FTI_TOLERANCE))),
    }


def _value_unusual(p: Mapping) -> str:
    params = {"test": p.get("field", ""), "value": number(p.get("value")), "unit": _unit(p)}
    params["bound"] = number(p.get("bound"))
    if p.get("direction") == "low":
        return _("%(test)s %(value)s %(unit)s is unusually low (below %(bound)s %(unit)s): please check it.") % params
    return _("%(test)s %(value)s %(unit)s is unusually high (above %(bound)s %(unit)s): please check it.") % params


MESSAGES: dict[str, Callable[[Mapping], str]] = {
    rules.UNIT_SUSPECTED: _unit_suspected,
    rules.FTI_CONVENTION_SUSPECTED: _fti_convention,
    rules.LOW_CONFIDENCE: _low_confidence,
    rules.OUTSIDE_TRAINING_RANGE: _outside_training_range,
    rules.UNUSUAL_COMBINATION: _unusual_combination,
    rules.DISCORDANT_LOW_TSH_LOW_THYROXINE: _discordant_low,
    rules.DISCORDANT_HIGH_TSH_HIGH_THYROXINE: _discordant_high,
    rules.NORMAL_WITH_ABNORMAL_HORMONE: _normal_with_abnormal,
    rules.SUPPRESSED_TSH_WITHOUT_THYROXINE: _suppressed_tsh,
    rules.CONTEXT_NOT_COVERED: _context,
    rules.MODEL_DISAGREES_WITH_READING: _model_disagrees,
    rules.TSH_MISSING: _tsh_missing,
    rules.FTI_INCONSISTENT: _fti_inconsistent,
    rules.VALUE_UNUSUAL: _value_unusual,
    rules.NOT_USED_BY_MODEL: _not_used,
}


def message(reason) -> str:
    """A coded reason or warning ({code, params} or mlcore.rules.Reason) in the current language."""
    if isinstance(reason, rules.Reason):
        code, params = reason.code, reason.params
    elif isinstance(reason, Mapping):
        code, params = reason.get("code", ""), reason.get("params") or {}
    else:
        return str(reason)
    words = MESSAGES.get(code)
    if words is None:  # a code from a newer mlcore than this app knows: say it rather than hide it
        return str(code).replace("_", " ")
    return tidy_message(words(params))


def messages(reasons) -> list[str]:
    return [message(reason) for reason in reasons or []]


def with_messages(reasons) -> list[dict]:
    """Coded reasons for the API: {code, params, message} (message in the request's language)."""
    out = []
    for reason in reasons or []:
        data = reason.to_dict() if isinstance(reason, rules.Reason) else dict(reason)
        out.append({"code": data.get("code"), "params": data.get("params") or {}, "message": message(data)})
    return out
