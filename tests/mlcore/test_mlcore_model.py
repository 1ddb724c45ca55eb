"""End-to-end training on a sample, Predictor against Keras, explanations."""

import json
import subprocess
import sys

import numpy as np
import pytest

from mlcore.evaluate import evaluate_model
from mlcore.predictor import PredictionResult, Predictor
from mlcore.schema import CLASSES, validate_panel
from mlcore.train import labelled_frame


def test_training_on_a_sample_reports_progress_and_writes_the_model_directory(small_model):
    out, reports = small_model
    assert reports and reports[0]["epoch"] == 1 and reports[0]["stage"] == "fit"
    assert all(
        {"stage", "epoch", "epochs", "loss", "val_loss", "val_macro_f1", "step", "steps"} <= set(r) for r in reports
    )
    # the final model, then one model per out-of-fold fold
    assert [r["stage"] for r in reports if r["epoch"] == 1] == ["fit", "cv", "cv", "cv"]
    assert [r["fold"] for r in reports if r["epoch"] == 1 and r["stage"] == "cv"] == [0, 1, 2]
    assert [r["step"] for r in reports if r["epoch"] == 1] == [1, 2, 3, 4] and reports[-1]["steps"] == 4
    names = {path.name for path in out.iterdir()}
    assert {
        "model.keras",
        "weights.npz",
        "preprocessing.json",
        "metadata.json",
        "metrics.json",
        "model_card.md",
    } <= names
    assert {p.name for p in (out / "plots").iterdir()} >= {"roc.png", "pr.png", "reliability.png"}
    card = (out / "model_card.md").read_text()
    assert "Intended use" in card and "Known limits" in card and "hyperthyroid" in card


def test_sample_model_beats_the_majority_baseline_clearly(small_model, dev_records, sample_records):
    out, _ = small_model
    seen = {record["record_id"] for record in sample_records}
    unseen = labelled_frame([record for record in dev_records if record["record_id"] not in seen])
    metrics = evaluate_model(Predictor.load(out), unseen)
    majority_macro_f1 = (2 * (unseen["label"] == "normal").mean() / (1 + (unseen["label"] == "normal").mean())) / 3
    assert majority_macro_f1 < 0.32
    assert metrics["macro_f1"] > majority_macro_f1 + 0.4
    # a lean test model (2 networks, at most 60 epochs, 480 training rows half of them masked)
    assert metrics["recall"]["hypothyroid"] > 0.75


def test_predictor_matches_keras_to_1e_5(small_model, dev_frame):
    from mlcore.model import load_model, mean_probabilities

    out, _ = small_model
    predictor = Predictor.load(out)
    rows = dev_frame.head(500)
    keras_probabilities = mean_probabilities(load_model(out / "model.keras"), predictor.preprocessor.transform(rows))
    assert np.max(np.abs(predictor.raw_probabilities(rows) - keras_probabilities)) < 1e-5


def test_predictor_loads_and_predicts_without_tensorflow(small_model):
    out, _ = small_model
    script = (
        "import sys, time\n"
        "t = time.perf_counter()\n"
        "from mlcore.predictor import Predictor\n"
        f"p = Predictor.load({str(out)!r})\n"
        "load = time.perf_counter() - t\n"
        "p.predict([{'TSH': 40.0, 'FTI': 50.0, 'TT4': 45.0, 'T4U': 0.9}])\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'TF imported'\n"
        "print(load)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert float(done.stdout) < 1.0


def test_predict_returns_classes_probabilities_and_explanations(small_model):
    out, _ = small_model
    predictor = Predictor.load(out)
    panel = validate_panel({"age": 50, "sex": "F", "TSH": 80, "T3": 0.8, "TT4": 30, "T4U": 0.9, "FTI": 33})
    (result,) = predictor.predict([panel])
    assert isinstance(result, PredictionResult)
    assert set(result.probabilities) == set(CLASSES)
    assert abs(sum(result.probabilities.values()) - 1) < 1e-6
    assert result.predicted_class == "hypothyroid"
    top = result.explanation[0]
    assert {"feature", "value", "unit", "towards", "contribution", "text"} <= set(top)
    tsh = next(item for item in result.explanation if item["feature"] == "TSH")
    assert tsh["towards"] == "hypothyroid" and tsh["text"].startswith("TSH 80 mU/L pushed towards hypothyroid (+")
    contributions = [abs(item["contribution"]) for item in result.explanation]
    assert contributions == sorted(contributions, reverse=True)
    assert json.dumps(result.to_dict())
    (bulk,) = predictor.predict([panel], explain=False)
    assert bulk.explanation == [] and bulk.probabilities == result.probabilities


def test_explanation_contributions_add_up_to_the_change_from_the_reference(small_model):
    out, _ = small_model
    predictor = Predictor.load(out)
    panel = validate_panel({"age": 30, "sex": "M", "TSH": 0.01, "T3": 4.5, "TT4": 220, "T4U": 1.0, "FTI": 220})
    features = predictor.preprocessor.transform([panel])[0]
    attributions = predictor.attributions(features)
    total = np.sum(list(attributions.values()), axis=0)
    change = (
        predictor.predict_proba([panel])[0] - predictor.predict_proba([predictor.metadata["explanation_baseline"]])[0]
    )
    assert np.allclose(total, change, atol=0.03)
    # Inputs equal to the reference contribute nothing.
    assert np.allclose(attributions["pregnant"], 0) and np.allclose(attributions["TBG"], 0)


def test_probabilities_are_calibrated_and_uncertain_flag_follows_the_outcome(small_model, dev_frame):
    out, _ = small_model
    predictor = Predictor.load(out)
    rows = labelled_frame(dev_frame).head(300)
    probabilities = predictor.predict_proba(rows)
    results = predictor.predict(rows, explain=False)
    assert probabilities.shape == (300, 3)
    assert np.allclose(probabilities.sum(axis=1), 1, atol=1e-5)
    assert [r.uncertain for r in results] == [r.outcome != "assessed" for r in results]
    low_confidence = probabilities.max(axis=1) < predictor.uncertain_threshold
    assert all(r.outcome != "assessed" for r, low in zip(results, low_confidence, strict=True) if low)


@pytest.mark.slow
def test_training_is_deterministic_with_a_seed(sample_records, tmp_path):
    from mlcore.train import TrainingConfig, train_model

    config = TrainingConfig(members=2, oof_folds=2)
    first = train_model(sample_records[:300], tmp_path / "a", seed=3, epochs=8, config=config)
    second = train_model(sample_records[:300], tmp_path / "b", seed=3, epochs=8, config=config)
    a, b = np.load(first / "weights.npz"), np.load(second / "weights.npz")
    assert all(np.array_equal(a[name], b[name]) for name in a.files)


def test_the_networks_of_every_seed_are_saved_and_averaged(small_model, dev_frame):
    from mlcore.network import NumpyNetwork

    out, _ = small_model
    with np.load(out / "weights.npz") as data:
        arrays = {name: data[name] for name in data.files}
    assert {name.split("_", 1)[0] for name in arrays} == {"m0", "m1"}
    predictor = Predictor.load(out)
    assert predictor.network.networks == 2
    features = predictor.preprocessor.transform(dev_frame.head(200))
    each = [
        NumpyNetwork({name[3:]: value for name, value in arrays.items() if name.startswith(prefix)}).probabilities(
            features
        )
        for prefix in ("m0_", "m1_")
    ]
    assert not np.allclose(each[0], each[1], atol=1e-3)  # two different networks
    assert np.allclose(predictor.network.probabilities(features), (each[0] + each[1]) / 2, atol=1e-6)


def test_temperature_and_threshold_come_from_out_of_fold_predictions(small_model):
    out, _ = small_model
    metadata = json.loads((out / "metadata.json").read_text())
    oof = metadata["out_of_fold"]
    assert oof["folds"] == 3 and "threshold" in oof["rule"]
    assert oof["given_panels"]["n"] > 300 and oof["masked_panels"]["n"] > 300
    assert 0.2 <= metadata["temperature"] <= 5 and 0.4 <= metadata["uncertain_threshold"] <= 0.95
    assert oof["given_panels"]["referral_rate"] <= 0.1 + 1e-9
    assert metadata["config"]["members"] == 2 and metadata["masking"]


def test_referral_source_is_not_a_model_input(small_model, dev_frame):
    out, _ = small_model
    predictor = Predictor.load(out)
    assert "referral_source" not in predictor.preprocessor.feature_groups
    rows = labelled_frame(dev_frame).head(300)
    probabilities = predictor.predict_proba(rows)
    for source in ("SVI", "STMW", "other"):
        assert np.array_equal(predictor.predict_proba(rows.assign(referral_source=source)), probabilities)


def test_novelty_scores_an_absurd_panel_above_typical_ones(small_model, dev_frame):
    out, _ = small_model
    predictor = Predictor.load(out)
    threshold = predictor.metadata["scope"]["novelty"]["threshold"]
    typical = predictor.novelty(labelled_frame(dev_frame).head(500))
    assert typical.shape == (500,) and np.mean(typical > threshold) < 0.03
    absurd = predictor.novelty([validate_panel({"TSH": 0.01, "TT4": 17})])
    assert absurd[0] > threshold and absurd[0] > np.percentile(typical, 99)
