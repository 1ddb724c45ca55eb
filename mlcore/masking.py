"""Lab masking: training panels with some lab values removed, labels kept.

In the Garvan records a missing value is a habit of the laboratory, not
chance: FTI is missing in 2 % of hyperthyroid rows but 9 % of normal ones, so
a model learns "no FTI, so not hyperthyroid" and finds no hyperthyroid
patient in a TSH + TT4 panel (shared/MODELING.md, 2026-11-29). Training on a
duplicate of the rows with labs removed at random teaches it to read a panel
from the labs that are present.

The recipe is fixed in advance, not tuned on reported folds: each masked copy
takes one of the partial panels seen in practice. TSH is never masked: a panel
without TSH is not assessed (mlcore/evaluate.py, the referral rules).
"""

from __future__ import annotations

import numpy as np

# (labs removed, share of the masked copies). T4U and FTI always go together: FTI is derived
# from TT4 / T4U when T4U is present (mlcore.preprocessing.derive_fti).
MASKING_RECIPE: tuple[tuple[tuple[str, ...], float], ...] = (
    (("T4U", "FTI", "TBG"), 0.40),  # TSH + T3 + TT4: the panel of labs without T4 uptake
    (("T3", "T4U", "FTI", "TBG"), 0.35),  # TSH + TT4: the most common short panel
    (("T3",), 0.25),  # T3 not ordered (29 % of normal rows lack it)
)


def masked_copy(frame, *, seed: int, recipe=MASKING_RECIPE):
    """A copy of ``frame`` (a DataFrame of panels) with labs removed by the recipe, labels untouched.

    Each row draws one pattern of the recipe with its probability, with a seeded generator.
    """
    rng = np.random.default_rng(seed)
    shares = np.array([share for _, share in recipe], dtype=float)
    drawn = rng.choice(len(recipe), size=len(frame), p=shares / shares.sum())
    masked = frame.copy()
    for pattern, (labs, _) in enumerate(recipe):
        rows = drawn == pattern
        if rows.any():
            for lab in labs:
                if lab in masked.columns:
                    masked.loc[rows, lab] = np.nan
    return masked


def with_masked_copy(frame, *, seed: int, recipe=MASKING_RECIPE):
    """The rows followed by their masked copy (twice as many rows, the same labels twice)."""
    import pandas as pd

    return pd.concat([frame, masked_copy(frame, seed=seed, recipe=recipe)], ignore_index=True)


def keep_labs(frame, labs, *, all_labs) -> object:
    """A copy of ``frame`` where only ``labs`` are kept: every other lab of ``all_labs`` is not measured."""
    kept = frame.copy()
    for lab in all_labs:
        if lab not in labs and lab in kept.columns:
            kept[lab] = np.nan
    return kept
