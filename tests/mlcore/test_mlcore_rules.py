"""The clinical rules around the model (mlcore.rules), read against docs/clinical-facts.md line by line.

Each rule fires on its pattern and stays silent on clear cases; every unit mistake warns."""

import pytest

from mlcore import rules
from mlcore.rules import ModelScope, Reason
from mlcore.schema import InputError, check_has_lab_value, check_value, validate_panel

NO_SCOPE = ModelScope()
CONFIDENT = {"normal": 0.98, "hyperthyroid": 0.01, "hypothyroid": 0.01}


def panel(**values):
    return validate_panel({"age": 50, "sex": "F", **values})


def codes(reasons):
    return [reason.code for reason in reasons]


CLEAR_NORMAL = {"TSH": 1.3, "T3": 2.0, "TT4": 104, "T4U": 0.96, "FTI": 108}
CLEAR_HYPO = {"TSH": 45, "T3": 0.9, "TT4": 40, "T4U": 0.95, "FTI": 42}
CLEAR_HYPER = {"TSH": 0.01, "T3": 4.5, "TT4": 200, "T4U": 1.1, "FTI": 182}


# --- referral rules: each fires on its pattern ---


@pytest.mark.parametrize(
    ("values", "code"),
    [
        # low or normal TSH with low thyroxine: central hypothyroidism / non-thyroidal illness
        ({"TSH": 0.01, "TT4": 30}, rules.DISCORDANT_LOW_TSH_LOW_THYROXINE),
        ({"TSH": 1.3, "TT4": 40}, rules.DISCORDANT_LOW_TSH_LOW_THYROXINE),
        ({"TSH": 2.0, "TT4": 104, "T4U": 1.0, "FTI": 60}, rules.DISCORDANT_LOW_TSH_LOW_THYROXINE),
        # normal or high TSH with high thyroxine: inappropriate TSH
        ({"TSH": 8.0, "TT4": 180, "T4U": 1.0, "FTI": 180}, rules.DISCORDANT_HIGH_TSH_HIGH_THYROXINE),
        ({"TSH": 2.0, "FTI": 170}, rules.DISCORDANT_HIGH_TSH_HIGH_THYROXINE),
    ],
)
def test_discordant_tsh_and_thyroxine_refers(values, code):
    assert codes(rules.discordant_tsh_thyroxine(panel(**values))) == [code]


def test_thyroxine_is_read_by_preference_fti_before_total_t4():
    # High TT4 explained by high binding (T4U 1.4): FTI normal, so no discordance.
    values = panel(TSH=2.0, TT4=160, T4U=1.4, FTI=114)
    assert rules.preferred_thyroxine(values) == ("FTI", 114)
    assert rules.discordant_tsh_thyroxine(values) == []


@pytest.mark.parametrize(
    "values", [CLEAR_NORMAL, CLEAR_HYPO, CLEAR_HYPER, {"TSH": 0.05, "FTI": 190}, {"TSH": 30, "FTI": 50}]
)
def test_discordance_stays_silent_on_concordant_panels(values):
    assert rules.discordant_tsh_thyroxine(panel(**values)) == []


@pytest.mark.parametrize(
    ("values", "field", "direction"),
    [
        ({"TSH": 0.2, "T3": 2.0, "TT4": 150, "T4U": 0.9, "FTI": 167}, "FTI", "high"),
        ({"TSH": 1.0, "T3": 2.9, "TT4": 104, "T4U": 0.96, "FTI": 108}, "T3", "high"),
        ({"TSH": 1.0, "T3": 0.8, "TT4": 104, "T4U": 0.96, "FTI": 108}, "T3", "low"),
        ({"TSH": 1.0, "TT4": 150}, "TT4", "high"),  # total T4 read only without FTI
    ],
)
def test_normal_class_with_a_hormone_out_of_its_interval_refers(values, field, direction):
    reasons = rules.normal_with_abnormal_hormone(panel(**values), "normal")
    assert [(r.params["field"], r.params["direction"]) for r in reasons] == [(field, direction)]


def test_normal_with_abnormal_hormone_is_silent_for_other_classes_and_clear_normals():
    assert rules.normal_with_abnormal_hormone(panel(**CLEAR_HYPER), "hyperthyroid") == []
    assert rules.normal_with_abnormal_hormone(panel(**CLEAR_NORMAL), "normal") == []
    # TT4 above its interval explained by binding (FTI normal): not a reason
    assert rules.normal_with_abnormal_hormone(panel(TSH=2.0, TT4=160, T4U=1.4, FTI=114), "normal") == []


def test_suppressed_tsh_without_any_thyroxine_refers():
    assert codes(rules.suppressed_tsh_without_thyroxine(panel(TSH=0.005))) == [rules.SUPPRESSED_TSH_WITHOUT_THYROXINE]
    assert codes(rules.suppressed_tsh_without_thyroxine(panel(TSH=0.05, T3=3.0))) == [
        rules.SUPPRESSED_TSH_WITHOUT_THYROXINE
    ]
    assert rules.suppressed_tsh_without_thyroxine(panel(TSH=0.05, TT4=180)) == []
    assert rules.suppressed_tsh_without_thyroxine(panel(TSH=0.3)) == []  # not suppressed (ETA 2015: < 0.1)


@pytest.mark.parametrize("flag", rules.CONTEXT_FLAGS)
def test_each_context_the_model_was_not_made_for_refers(flag):
    reasons = rules.context_not_covered(panel(**CLEAR_NORMAL, **{flag: True}))
    assert [r.params["context"] for r in reasons] == [flag]


def test_children_are_referred_and_adults_are_not():
    reasons = rules.context_not_covered(validate_panel({**CLEAR_NORMAL, "age": 12}))
    assert [r.params["context"] for r in reasons] == ["under_18"]
    assert rules.context_not_covered(validate_panel({**CLEAR_NORMAL, "age": 18})) == []
    assert rules.context_not_covered(validate_panel({**CLEAR_NORMAL, "age": None})) == []


@pytest.mark.parametrize("flag", ["query_on_thyroxine", "sick", "goitre", "tumor", "psych", "query_hypothyroid"])
def test_other_history_flags_do_not_refer(flag):
    assert rules.context_not_covered(panel(**CLEAR_NORMAL, **{flag: True})) == []


def test_low_confidence_uses_the_fitted_threshold():
    assert rules.low_confidence(CONFIDENT, 0.9) == []
    reasons = rules.low_confidence({"normal": 0.6, "hyperthyroid": 0.1, "hypothyroid": 0.3}, 0.9)
    assert reasons == [Reason(rules.LOW_CONFIDENCE, {"probability": 0.6, "threshold": 0.9})]


def test_values_outside_the_training_range_refer():
    ranges = {"TSH": (0.005, 200.0), "age": (1.0, 95.0)}
    reasons = rules.outside_training_range(validate_panel({"age": 99, "TSH": 400}), ranges)
    assert [(r.params["field"], r.params["value"]) for r in reasons] == [("TSH", 400.0), ("age", 99.0)]
    assert rules.outside_training_range(panel(**CLEAR_NORMAL), ranges) == []


def test_unusual_combination_fires_past_its_threshold_only():
    assert codes(rules.unusual_combination(12.0, 9.0)) == [rules.UNUSUAL_COMBINATION]
    assert rules.unusual_combination(3.0, 9.0) == []
    assert rules.unusual_combination(12.0, None) == []  # a model saved without a detector


def test_scope_reads_the_model_metadata_and_tolerates_old_models():
    scope = ModelScope.from_metadata(
        {"uncertain_threshold": 0.9, "scope": {"ranges": {"TSH": [0.005, 200]}, "novelty": {"threshold": 7.5}}}
    )
    assert scope == ModelScope(0.9, {"TSH": (0.005, 200.0)}, 7.5)
    assert ModelScope.from_metadata({"uncertain_threshold": 0.92}) == ModelScope(0.92, {}, None)


# --- unit guards: every unit mistake warns, with the suggested conversion ---


@pytest.mark.parametrize(
    ("field", "value", "suspected", "converted"),
    [
        ("TT4", 17.0, "ug/dL", 218.8),  # a ug/dL value typed as nmol/L
        ("TT4", 8.0, "ug/dL", 103.0),
        ("TSH", 0.0013, "mU/mL", 1.3),
        ("T3", 130.0, "ng/dL", 1.997),
        ("T3", 0.4, "ng/mL", 0.6144),
    ],
)
def test_a_value_that_fits_another_unit_far_better_warns(field, value, suspected, converted):
    reason = rules.unit_suspicion(field, value)
    assert reason.code == rules.UNIT_SUSPECTED
    assert reason.params["suspected_unit"] == suspected
    assert reason.params["converted"] == pytest.approx(converted, rel=1e-3)


@pytest.mark.parametrize(("field", "value"), [("TT4", 104.0), ("TT4", 40.0), ("TSH", 0.01), ("TSH", 45.0), ("T3", 2.0)])
def test_values_plausible_in_our_unit_do_not_warn(field, value):
    assert rules.unit_suspicion(field, value) is None


def test_a_t3_in_ng_dl_is_refused_with_the_conversion_it_looks_like():
    with pytest.raises(InputError, match=r"looks like ng/dL: x 0.01536 = 1.997 nmol/L"):
        check_value("T3", 130)


def test_an_fti_in_the_us_convention_warns():
    assert codes(rules.unit_warnings(panel(TSH=1.0, FTI=2.5))) == [rules.FTI_CONVENTION_SUSPECTED]


def test_fti_disagreeing_with_tt4_over_t4u_warns_beyond_tolerance():
    assert codes(rules.fti_inconsistent(panel(TT4=104, T4U=0.96, FTI=140))) == [rules.FTI_INCONSISTENT]
    assert rules.fti_inconsistent(panel(TT4=104, T4U=0.96, FTI=108)) == []
    assert rules.fti_inconsistent(panel(TT4=104, FTI=108)) == []


def test_unusual_values_warn_with_their_bound():
    warnings = rules.unusual_values(panel(TSH=1.0, TT4=400))
    assert [(w.params["field"], w.params["direction"], w.params["bound"]) for w in warnings] == [("TT4", "high", 363.0)]


# --- the outcome ---


def test_no_tsh_is_not_assessed_with_its_reason():
    assessment = rules.assess(panel(TT4=104, T3=2.0), None, None, NO_SCOPE)
    assert assessment.outcome == rules.NOT_ASSESSED
    assert codes(assessment.reasons) == [rules.TSH_MISSING]


def test_a_panel_without_any_lab_value_is_refused_at_input():
    with pytest.raises(InputError) as error:
        check_has_lab_value(panel())
    assert error.value.field == "labs"
    assert "TSH" in error.value.message and "TT4" in error.value.message
    check_has_lab_value(panel(TT4=100))


@pytest.mark.parametrize(
    ("values", "predicted"),
    [(CLEAR_NORMAL, "normal"), (CLEAR_HYPO, "hypothyroid"), (CLEAR_HYPER, "hyperthyroid")],
)
def test_clear_cases_are_assessed_without_reasons(values, predicted):
    assessment = rules.assess(panel(**values), predicted, CONFIDENT, ModelScope(0.9))
    assert (assessment.outcome, assessment.reasons, assessment.warnings) == (rules.ASSESSED, (), ())


def test_a_suspected_unit_refers_and_warns():
    assessment = rules.assess(panel(TSH=0.01, TT4=17), "normal", CONFIDENT, ModelScope(0.9))
    assert assessment.outcome == rules.REFER
    assert rules.UNIT_SUSPECTED in codes(assessment.reasons)
    assert codes(assessment.warnings) == [rules.UNIT_SUSPECTED]


def test_reasons_come_in_a_fixed_order_and_serialise():
    assessment = rules.assess(
        panel(TSH=0.005, pregnant=True),
        "normal",
        {"normal": 0.5, "hyperthyroid": 0.3, "hypothyroid": 0.2},
        ModelScope(0.9),
    )
    assert codes(assessment.reasons) == [
        rules.CONTEXT_NOT_COVERED,
        rules.SUPPRESSED_TSH_WITHOUT_THYROXINE,
        rules.LOW_CONFIDENCE,
    ]
    assert assessment.reasons[0].to_dict() == {"code": "context_not_covered", "params": {"context": "pregnant"}}


def test_codes_are_unique_and_only_unit_doubts_are_both_a_warning_and_a_referral_reason():
    lists = (rules.REFERRAL_CODES, rules.NOT_ASSESSED_CODES, rules.WARNING_CODES)
    assert all(len(codes) == len(set(codes)) for codes in lists)
    assert set(rules.REFERRAL_CODES) & set(rules.WARNING_CODES) == {
        rules.UNIT_SUSPECTED,
        rules.FTI_CONVENTION_SUSPECTED,
    }
