"""Lab masking for training: labels kept, only lab values removed, by the recipe."""

import numpy as np
import pandas as pd

from mlcore.masking import MASKING_RECIPE, keep_labs, masked_copy, with_masked_copy
from mlcore.preprocessing import MODEL_LABS
from mlcore.schema import HISTORY_FLAGS
from mlcore.train import labelled_frame


def test_masking_keeps_labels_and_every_field_but_lab_values(dev_frame):
    rows = labelled_frame(dev_frame).head(2000)
    masked = masked_copy(rows, seed=0)
    assert masked["label"].tolist() == rows["label"].tolist()
    untouched = [c for c in rows.columns if c not in MODEL_LABS]
    pd.testing.assert_frame_equal(masked[untouched], rows[untouched])
    for lab in MODEL_LABS:
        # a value is only ever removed, never changed or invented
        kept = masked[lab].notna()
        assert np.array_equal(masked.loc[kept, lab], rows.loc[kept, lab])
        assert not (masked[lab].notna() & rows[lab].isna()).any()
    assert rows.equals(labelled_frame(dev_frame).head(2000))  # the input is not changed


def test_masking_follows_the_recipe_and_never_removes_tsh(dev_frame):
    rows = labelled_frame(dev_frame)
    rows = rows[rows[list(MODEL_LABS[:5])].notna().all(axis=1)].reset_index(drop=True)
    masked = masked_copy(rows, seed=1)
    assert masked["TSH"].notna().all()
    # T4U and FTI go together (FTI would be derived back from TT4 / T4U)
    assert (masked["T4U"].isna() == masked["FTI"].isna()).all()
    no_t4u = masked["T4U"].isna()
    share = dict(MASKING_RECIPE)
    expected_no_t4u = share[("T4U", "FTI", "TBG")] + share[("T3", "T4U", "FTI", "TBG")]
    assert abs(no_t4u.mean() - expected_no_t4u) < 0.03
    assert abs(masked["T3"].isna().mean() - (1 - share[("T4U", "FTI", "TBG")])) < 0.03


def test_masked_copy_is_seeded_and_appended_to_the_rows(dev_frame):
    rows = labelled_frame(dev_frame).head(500)
    assert masked_copy(rows, seed=4).equals(masked_copy(rows, seed=4))
    assert not masked_copy(rows, seed=4).equals(masked_copy(rows, seed=5))
    doubled = with_masked_copy(rows, seed=4)
    assert len(doubled) == 1000 and doubled["label"].tolist() == rows["label"].tolist() * 2


def test_keep_labs_leaves_only_the_named_labs():
    rows = pd.DataFrame([{"TSH": 2.0, "T3": 1.5, "TT4": 90.0, "T4U": 1.0, "FTI": 90.0, "TBG": 20.0, "age": 40}])
    kept = keep_labs(rows, ("TSH", "TT4"), all_labs=MODEL_LABS)
    assert kept.iloc[0][["TSH", "TT4", "age"]].tolist() == [2.0, 90.0, 40]
    assert kept.iloc[0][["T3", "T4U", "FTI", "TBG"]].isna().all()
    assert not set(HISTORY_FLAGS) & set(kept.columns)  # nothing added
