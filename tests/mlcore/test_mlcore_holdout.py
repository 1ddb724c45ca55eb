"""The fixed hash held-out split: train_model never trains on held-out records, and the shipped model used it."""

import json
import math

import pandas as pd
import pytest

from mlcore.evaluate import evaluate_model
from mlcore.holdout import HOLDOUT_PERCENT, SPLIT_DESCRIPTION, holdout_key, is_held_out
from mlcore.predictor import DEFAULT_MODEL_DIR, Predictor
from mlcore.schema import CLASSES
from mlcore.train import TrainingConfig, labelled_frame, split_for_training


def held_out_ids(records) -> set[str]:
    return {r["record_id"] for r in records if is_held_out(holdout_key(r))}


def test_the_key_is_the_given_holdout_key_else_the_uci_record_id_else_none():
    assert holdout_key({"holdout_key": "panel:7", "record_id": "840801013"}) == "panel:7"
    assert holdout_key({"record_id": "840801013"}) == "uci:840801013"
    assert holdout_key({"record_id": None, "holdout_key": float("nan")}) is None
    assert holdout_key({"TSH": 1.0}) is None


def test_about_holdout_percent_of_keys_are_held_out_and_always_the_same_ones():
    keys = [f"uci:{n}" for n in range(5000)]
    held = [key for key in keys if is_held_out(key)]
    assert abs(len(held) / len(keys) - HOLDOUT_PERCENT / 100) < 0.03
    assert held == [key for key in keys if is_held_out(key)]
    # first 4 bytes of sha256, big-endian, mod 100: "uci:2" -> 0x14bc1c3e -> 18 (held out), "uci:0" -> 73
    assert int("14bc1c3e", 16) % 100 == 18 and is_held_out("uci:2")
    assert int("282fdf35", 16) % 100 == 73 and not is_held_out("uci:0")


def test_records_with_ids_are_tested_on_exactly_the_held_out_rows(sample_records):
    frame = labelled_frame(sample_records)
    train, val, test, split = split_for_training(frame, seed=0, config=TrainingConfig())
    held = held_out_ids(frame.to_dict("records"))
    assert set(test["record_id"]) == held and len(test) == len(held) > 0
    assert not held & (set(train["record_id"]) | set(val["record_id"]))
    assert len(train) + len(val) + len(test) == len(frame)
    assert split.startswith(SPLIT_DESCRIPTION)
    # the validation rows depend on the seed, the test rows never do
    _, other_val, other_test, _ = split_for_training(frame, seed=1, config=TrainingConfig())
    assert set(other_test["record_id"]) == held and set(other_val["record_id"]) != set(val["record_id"])


def test_records_without_ids_keep_the_stratified_random_split(sample_records):
    without_ids = [{**r, "record_id": None} for r in sample_records]
    frame = labelled_frame(without_ids)
    train, val, test, split = split_for_training(frame, seed=0, config=TrainingConfig())
    assert "stratified, seed 0" in split and SPLIT_DESCRIPTION not in split
    assert len(test) == math.ceil(0.15 * len(frame)) and len(train) + len(val) + len(test) == len(frame)
    # one record without an id is enough: the hash split would not cover every row
    mixed = labelled_frame([{**sample_records[0], "record_id": None}, *sample_records[1:]])
    assert SPLIT_DESCRIPTION not in split_for_training(mixed, seed=0, config=TrainingConfig())[3]


def test_train_model_with_record_ids_never_trains_on_held_out_records(small_model, sample_records):
    out, _ = small_model
    metadata = json.loads((out / "metadata.json").read_text())
    metrics = json.loads((out / "metrics.json").read_text())
    held = [r for r in labelled_frame(sample_records).to_dict("records") if is_held_out(holdout_key(r))]
    assert metrics["n"] + metrics["n_not_assessed"] == len(held) and metrics["split"].startswith(SPLIT_DESCRIPTION)
    assert metadata["training_rows"]["test"] == {c: sum(r["label"] == c for r in held) for c in CLASSES}
    trained_on = sum(metadata["training_rows"]["train"].values())
    assert trained_on == len(labelled_frame(sample_records)) - len(held)
    # the saved test metrics are those of exactly the held-out rows
    again = evaluate_model(Predictor.load(out), labelled_frame(held))
    assert again["confusion_matrix"] == metrics["confusion_matrix"]


def test_the_shipped_model_was_tested_on_the_fixed_hash_held_out_split(dev_records):
    metadata = json.loads((DEFAULT_MODEL_DIR / "metadata.json").read_text())
    assert metadata["split"].startswith(SPLIT_DESCRIPTION)
    assert metadata["metrics"]["split"].startswith(SPLIT_DESCRIPTION)
    assert SPLIT_DESCRIPTION in (DEFAULT_MODEL_DIR / "model_card.md").read_text()
    held = [r for r in labelled_frame(dev_records).to_dict("records") if is_held_out(holdout_key(r))]
    assert metadata["training_rows"]["test"] == {c: sum(r["label"] == c for r in held) for c in CLASSES}
    assert metadata["metrics"]["n"] + metadata["metrics"]["n_not_assessed"] == len(held)


@pytest.mark.parametrize("rows", [0, 5])
def test_too_few_rows_outside_the_held_out_split_is_a_clear_error(sample_records, rows):
    frame = labelled_frame(sample_records)
    keys = [holdout_key(r) for r in frame.to_dict("records")]
    held = frame[[is_held_out(k) for k in keys]]
    rest = frame[[not is_held_out(k) for k in keys]].head(rows)
    with pytest.raises(ValueError, match="fixed held-out split leaves"):
        split_for_training(pd.concat([held, rest]), seed=0, config=TrainingConfig())
