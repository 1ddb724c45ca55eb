"""Every coded reason and warning of mlcore.rules in plain words, in English and French, with its values;
probabilities on pages as capped percentages; explanations worded by the sign of their attribution."""

import pytest
from django.utils import translation

from diagnostics import reasons
from diagnostics.templatetags.pages import explanation_text, percent
from mlcore import rules
from mlcore.schema import validate_panel

# Notes (findings shown beside an answer that stands) are worded as reasons are, once mlcore.rules has them.
NOTE_CODES = set(getattr(rules, "NOTE_CODES", ()))
ALL_CODES = {
    *rules.REFERRAL_CODES,
    *rules.NOT_ASSESSED_CODES,
    *rules.WARNING_CODES,
    *NOTE_CODES,
    rules.MODEL_DISAGREES_WITH_READING,
}

# One example of each code with the parameters mlcore.rules gives it.
EXAMPLES = {
    rules.UNIT_SUSPECTED: {
        "field": "TT4",
        "value": 17.0,
        "unit": "nmol/L",
        "suspected_unit": "ug/dL",
        "factor": 12.87,
        "converted": 218.8,
    },
    rules.FTI_CONVENTION_SUSPECTED: {"field": "FTI", "value": 3.2},
    rules.LOW_CONFIDENCE: {"probability": 0.7234, "threshold": 0.9},
    rules.OUTSIDE_TRAINING_RANGE: {"field": "TSH", "value": 600.0, "low": 0.005, "high": 530.0, "unit": "mU/L"},
    rules.UNUSUAL_COMBINATION: {"score": 4.25, "threshold": 3.1},
    rules.DISCORDANT_LOW_TSH_LOW_THYROXINE: {"TSH": 0.01, "field": "FTI", "value": 50.0, "unit": "nmol/L", "low": 70.0},
    rules.DISCORDANT_HIGH_TSH_HIGH_THYROXINE: {
        "TSH": 5.0,
        "field": "FTI",
        "value": 200.0,
        "unit": "nmol/L",
        "high": 155.0,
    },
    rules.NORMAL_WITH_ABNORMAL_HORMONE: {
        "field": "T3",
        "value": 2.9,
        "low": 1.1,
        "high": 2.8,
        "unit": "nmol/L",
        "direction": "high",
    },
    rules.SUPPRESSED_TSH_WITHOUT_THYROXINE: {"TSH": 0.005, "threshold": 0.1},
    rules.CONTEXT_NOT_COVERED: {"context": "on_thyroxine"},
    rules.MODEL_DISAGREES_WITH_READING: {"predicted_class": "normal", "pattern": "overt_hyperthyroidism"},
    rules.TSH_MISSING: {},
    rules.FTI_INCONSISTENT: {"FTI": 120.0, "expected": 108.3, "TT4": 104.0, "T4U": 0.96, "tolerance": 0.05},
    rules.VALUE_UNUSUAL: {"field": "TT4", "value": 400.0, "bound": 363.0, "direction": "high", "unit": "nmol/L"},
    rules.NOT_USED_BY_MODEL: {"fields": ["FT4", "FT3"]},
}


def test_every_code_of_mlcore_rules_has_an_example_here():
    assert set(EXAMPLES) == ALL_CODES


@pytest.mark.parametrize("code", sorted(ALL_CODES))
def test_every_code_has_a_message_in_english_and_in_french(code):
    reason = {"code": code, "params": EXAMPLES[code]}
    assert code in reasons.MESSAGES
    with translation.override("en"):
        english = reasons.message(reason)
    with translation.override("fr"):
        french = reasons.message(reason)
    for text in (english, french):
        assert text and "%(" not in text and code not in text and code.replace("_", " ") != text
    assert french != english  # translated, not the English fallback


@pytest.mark.parametrize("context", [*rules.CONTEXT_FLAGS, "under_18"])
def test_every_context_the_model_was_not_made_for_has_its_own_message(context):
    reason = rules.Reason(rules.CONTEXT_NOT_COVERED, {"context": context, "age": 15.0})
    with translation.override("en"):
        english = reasons.message(reason)
    with translation.override("fr"):
        french = reasons.message(reason)
    assert "not made for this context" not in english and english != french


def test_messages_fill_in_the_values_in_each_language():
    unit = {"code": rules.UNIT_SUSPECTED, "params": EXAMPLES[rules.UNIT_SUSPECTED]}
    low = {"code": rules.LOW_CONFIDENCE, "params": EXAMPLES[rules.LOW_CONFIDENCE]}
    thyroxine = {"code": rules.CONTEXT_NOT_COVERED, "params": {"context": "on_thyroxine"}}
    with translation.override("en"):
        assert reasons.message(unit) == "TT4 17 nmol/L looks like ug/dL: × 12.87 = 218.8 nmol/L — check the unit."
        assert reasons.message(low) == "Low confidence: top probability 72 % below the threshold 90 %."
        assert reasons.message(thyroxine) == "Patient on thyroxine: the model was not made for treated patients."
        assert reasons.message({"code": rules.LOW_CONFIDENCE, "params": {}}) == (
            "Low confidence: the top probability is below the model's threshold."  # stored before parameters
        )
    with translation.override("fr"):
        assert reasons.message(unit) == (
            "TT4 17 nmol/L ressemble à une valeur en ug/dL : × 12,87 = 218,8 nmol/L — vérifiez l’unité."
        )
        assert reasons.message(low) == "Confiance faible : probabilité la plus haute 72 %, sous le seuil de 90 %."


def test_the_reasons_mlcore_gives_read_as_messages():
    """From the rules themselves (not hand-written params): the TT4-in-ug/dL panel's reasons and warnings."""
    panel = validate_panel({"age": 50, "sex": "F", "TSH": 0.01, "TT4": 17})
    assessment = rules.assess(panel, "normal", {"normal": 0.99, "hyperthyroid": 0.005, "hypothyroid": 0.005},
                              rules.ModelScope(uncertain_threshold=0.9))  # fmt: skip
    with translation.override("en"):
        texts = reasons.messages(assessment.reasons) + reasons.messages(assessment.warnings)
    assert "TT4 17 nmol/L looks like ug/dL: × 12.87 = 218.8 nmol/L — check the unit." in texts
    assert (
        "TSH 0.01 mU/L is not high while TT4 17 nmol/L is below 64 nmol/L: consider central hypothyroidism "
        "or non-thyroidal illness." in texts
    )


def test_low_confidence_never_reads_as_high_as_its_threshold():
    reason = {"code": rules.LOW_CONFIDENCE, "params": {"probability": 0.8996, "threshold": 0.9}}
    fitted = {"code": rules.LOW_CONFIDENCE, "params": {"probability": 0.87, "threshold": 0.885}}
    with translation.override("en"):
        assert reasons.message(reason) == "Low confidence: top probability 89 % below the threshold 90 %."
        assert reasons.message(fitted) == "Low confidence: top probability 87 % below the threshold 88.5 %."


def test_an_unknown_code_is_shown_rather_than_hidden():
    assert reasons.message({"code": "some_new_rule", "params": {}}) == "some new rule"


@pytest.mark.parametrize(
    ("probability", "shown"),
    [(0.9991, "> 99 %"), (0.995, "> 99 %"), (0.99, "99 %"), (0.724, "72 %"), (0.01, "1 %"), (0.004, "< 1 %"),
     (0.0, "< 1 %"), (None, "")],
)  # fmt: skip
def test_probabilities_show_as_percentages_capped_at_both_ends(probability, shown):
    assert percent(probability) == shown


def test_explanation_text_names_the_class_raised_and_the_one_lowered_in_each_language():
    item = {
        "feature": "T3",
        "label": "T3",
        "value": 2.9,
        "unit": "nmol/L",
        "towards": "hyperthyroid",
        "against": "normal",
        "contributions": {"normal": -0.0073, "hyperthyroid": 0.0069, "hypothyroid": 0.0004},
        "text": "...",
    }
    with translation.override("en"):
        assert explanation_text(item) == (
            "T3 2.9 nmol/L pushed towards hyperthyroid (+0.7 points), away from normal (-0.7 points)"
        )
        assert explanation_text({**item, "against": None}) == "T3 2.9 nmol/L pushed towards hyperthyroid (+0.7 points)"
    with translation.override("fr"):
        assert explanation_text(item) == (
            "T3 2,9 nmol/L a orienté vers : hyperthyroïdie (+0,7 points), en s’éloignant de : normal (-0,7 points)"
        )
