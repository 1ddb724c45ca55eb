"""Derived indices beside a prediction: FTI check, T3/TT4 ratio, SPINA-GT, SPINA-GD, Jostel's TSH index."""

import math

import pytest

from diagnostics.indices import derived_indices, fti_check, jostel_tsh_index, spina_gd, spina_gt, t3_tt4_ratio


def test_spina_gt_of_a_typical_euthyroid_panel_is_inside_its_reference_interval():
    index = spina_gt(tsh=1.3, tt4=104.0)
    assert index.value == pytest.approx(3.564, abs=0.001)  # 1.1e-6 * 4.05 * 104e-9 / 0.13 mol/s in pmol/s
    assert index.unit == "pmol/s" and not index.warning


def test_spina_gt_is_high_when_tsh_is_suppressed_and_t4_high():
    assert spina_gt(tsh=0.01, tt4=250.0).warning


def test_spina_gt_needs_a_positive_tsh_and_a_tt4():
    assert not spina_gt(tsh=0.0, tt4=100.0).computable
    assert not spina_gt(tsh=None, tt4=100.0).computable


def test_fti_check_flags_a_recorded_fti_that_disagrees_with_tt4_over_t4u():
    assert not fti_check(104.0, 0.96, 108.0).warning
    disagreeing = fti_check(104.0, 0.96, 150.0)
    assert disagreeing.warning and disagreeing.value == pytest.approx(108.33, abs=0.01)
    assert not fti_check(None, 0.96, 108.0).computable


def test_t3_tt4_ratio():
    assert t3_tt4_ratio(2.0, 100.0).value == pytest.approx(0.02)
    assert not t3_tt4_ratio(2.0, None).computable


def test_indices_needing_free_t4_are_reported_as_not_computable():
    indices = {index.key: index for index in derived_indices({"TSH": 1.0, "TT4": 100.0, "T3": 2.0, "T4U": 1.0})}
    assert not indices["spina_gd"].computable
    assert "free T4" in str(indices["spina_gd"].note)
    assert not indices["jostel_tshi"].computable


def test_spina_gd_with_free_t4_and_total_t3():
    # 8e-6 /s * (5e-7 + 16e-12) mol/L * 1.8e-9 mol/L / (0.026 /L * 16e-12 mol/L) = 1.7308e-8 mol/s
    index = spina_gd(ft4=16.0, t3=1.8)
    assert index.value == pytest.approx(17.308, abs=0.001)
    assert index.unit == "nmol/s" and index.reference == (20.0, 40.0) and index.warning


def test_spina_gd_needs_free_t4_and_t3():
    assert not spina_gd(ft4=None, t3=1.8).computable
    assert not spina_gd(ft4=16.0, t3=None).computable
    assert not spina_gd(ft4=0.0, t3=1.8).computable


def test_jostel_tsh_index_of_a_euthyroid_panel_is_inside_its_reference_interval():
    index = jostel_tsh_index(tsh=1.3, ft4=16.0)
    assert index.value == pytest.approx(math.log(1.3) + 0.1345 * 16.0)
    assert not index.warning


def test_jostel_tsh_index_is_high_in_primary_hypothyroidism_of_low_free_t4():
    assert jostel_tsh_index(tsh=45.0, ft4=9.0).warning  # 3.81 + 1.21 = 5.02 > 4.1
    assert not jostel_tsh_index(tsh=None, ft4=9.0).computable
    assert not jostel_tsh_index(tsh=0.0, ft4=9.0).computable


def test_indices_with_free_t4_become_computable():
    indices = {index.key: index for index in derived_indices({"TSH": 1.3, "T3": 1.8, "FT4": 16.0})}
    assert indices["spina_gd"].computable and indices["jostel_tshi"].computable
