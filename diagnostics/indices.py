"""Derived thyroid indices shown beside a panel's prediction (docs/clinical-facts.md, "Derived indices").

Pure arithmetic on a panel's values; each index says whether it could be computed and why not.
"""

import math
from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

# SPINA-GT constants: alpha_T in /L, beta_T in /s, D_T in mU/L.
SPINA_ALPHA_T = 0.1
SPINA_BETA_T = 1.1e-6
SPINA_D_T = 2.75
SPINA_GT_REFERENCE = (1.41, 8.67)  # pmol/s
# SPINA-GD with total T3: the SPINA model's constants (Dietrich et al. 2016, Front Endocrinol 7:57; see
# docs/clinical-facts.md, "Derived indices"): alpha_31 0.026 /L, beta_31 8e-6 /s, K_M1 5e-7 mol/L;
# reference 20-40 nmol/s in adults.
SPINA_ALPHA_31 = 0.026
SPINA_BETA_31 = 8e-6
SPINA_K_M1 = 5e-7
SPINA_GD_REFERENCE = (20.0, 40.0)  # nmol/s
# Jostel's TSH index = ln(TSH) + 0.1345 FT4 (pmol/L), reference 1.3-4.1 (docs/clinical-facts.md).
JOSTEL_FT4_COEFFICIENT = 0.1345
JOSTEL_TSHI_REFERENCE = (1.3, 4.1)
# FTI recorded vs TT4/T4U: beyond this relative difference the values probably hold an entry error.
FTI_TOLERANCE = 0.05


@dataclass(frozen=True)
class DerivedIndex:
    key: str
    name: str
    value: float | None
    unit: str = ""
    reference: tuple[float, float] | None = None
    note: str = ""
    warning: bool = False

    @property
    def computable(self) -> bool:
        return self.value is not None


def fti_check(tt4: float | None, t4u: float | None, fti: float | None) -> DerivedIndex:
    """FTI recomputed as TT4/T4U and compared with the recorded FTI."""
    name = _("FTI check (TT4 / T4U)")
    if tt4 is None or not t4u:
        return DerivedIndex("fti_check", name, None, note=_("needs TT4 and T4U"))
    computed = tt4 / t4u
    if fti is None:
        return DerivedIndex("fti_check", name, computed, "nmol/L", note=_("no FTI recorded to compare"))
    differs = abs(computed - fti) > FTI_TOLERANCE * max(abs(fti), 1e-9)
    note = (
        _("differs from the recorded FTI by more than 5%: check the values")
        if differs
        else _("agrees with the recorded FTI")
    )
    return DerivedIndex("fti_check", name, computed, "nmol/L", note=note, warning=differs)


def t3_tt4_ratio(t3: float | None, tt4: float | None) -> DerivedIndex:
    name = _("T3 / TT4 ratio")
    if t3 is None or not tt4:
        return DerivedIndex("t3_tt4", name, None, note=_("needs T3 and TT4"))
    return DerivedIndex("t3_tt4", name, t3 / tt4)


def spina_gt(tsh: float | None, tt4: float | None) -> DerivedIndex:
    """SPINA-GT = beta_T (D_T + TSH) TT4 / (alpha_T TSH), TT4 in mol/L, result in pmol/s."""
    name = _("SPINA-GT (thyroid secretory capacity)")
    if tsh is None or tt4 is None:
        return DerivedIndex("spina_gt", name, None, note=_("needs TSH and TT4"))
    if tsh <= 0:
        return DerivedIndex("spina_gt", name, None, note=_("needs a TSH above 0"))
    tt4_mol_per_l = tt4 * 1e-9
    value = SPINA_BETA_T * (SPINA_D_T + tsh) * tt4_mol_per_l / (SPINA_ALPHA_T * tsh) * 1e12
    return _with_reference("spina_gt", name, value, "pmol/s", SPINA_GT_REFERENCE)


def _with_reference(key: str, name, value: float, unit: str, reference: tuple[float, float]) -> DerivedIndex:
    low, high = reference
    return DerivedIndex(key, name, value, unit, reference=reference, warning=not (low <= value <= high))


def spina_gd(ft4: float | None, t3: float | None) -> DerivedIndex:
    """SPINA-GD = beta_31 (K_M1 + FT4) TT3 / (alpha_31 FT4), FT4 and TT3 in mol/L, result in nmol/s."""
    name = _("SPINA-GD (deiodinase activity)")
    if ft4 is None or t3 is None:
        return DerivedIndex("spina_gd", name, None, note=_("not computable: needs free T4 and total T3"))
    if ft4 <= 0:
        return DerivedIndex("spina_gd", name, None, note=_("needs a free T4 above 0"))
    ft4_mol_per_l, t3_mol_per_l = ft4 * 1e-12, t3 * 1e-9
    value = SPINA_BETA_31 * (SPINA_K_M1 + ft4_mol_per_l) * t3_mol_per_l / (SPINA_ALPHA_31 * ft4_mol_per_l) * 1e9
    return _with_reference("spina_gd", name, value, "nmol/s", SPINA_GD_REFERENCE)


def jostel_tsh_index(tsh: float | None, ft4: float | None) -> DerivedIndex:
    """Jostel's TSH index = ln(TSH) + 0.1345 FT4 (pmol/L) (docs/clinical-facts.md)."""
    name = _("Jostel's TSH index")
    if tsh is None or ft4 is None:
        return DerivedIndex("jostel_tshi", name, None, note=_("not computable: needs TSH and free T4"))
    if tsh <= 0:
        return DerivedIndex("jostel_tshi", name, None, note=_("needs a TSH above 0"))
    value = math.log(tsh) + JOSTEL_FT4_COEFFICIENT * ft4
    return _with_reference("jostel_tshi", name, value, "", JOSTEL_TSHI_REFERENCE)


def derived_indices(values: dict) -> list[DerivedIndex]:
    """The indices for a panel's lab values (keys TSH, T3, TT4, T4U, FTI, FT4; None = not measured)."""
    return [
        fti_check(values.get("TT4"), values.get("T4U"), values.get("FTI")),
        t3_tt4_ratio(values.get("T3"), values.get("TT4")),
        spina_gt(values.get("TSH"), values.get("TT4")),
        spina_gd(values.get("FT4"), values.get("T3")),
        jostel_tsh_index(values.get("TSH"), values.get("FT4")),
    ]
