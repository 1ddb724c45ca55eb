"""The command line, run as users run it: ``python -m mlcore ...`` in a subprocess."""

import json
import subprocess
import sys
from pathlib import Path

from mlcore.schema import INPUT_FIELDS

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mlcore", *args], capture_output=True, text=True, cwd=ROOT)


def test_evaluate_json_prints_one_object_with_the_headline_metrics(dev_data_path):
    done = run("evaluate", "--data", str(dev_data_path), "--json")
    assert done.returncode == 0, done.stderr
    metrics = json.loads(done.stdout)
    assert metrics["n"] + metrics["n_not_assessed"] == 5415 + 181 + 532
    for key in ("accuracy", "macro_f1", "roc_auc_ovr", "ece"):
        assert 0 <= metrics[key] <= 1
    for key in ("recall", "precision"):
        assert set(metrics[key]) == {"normal", "hyperthyroid", "hypothyroid"}


def test_evaluate_with_only_some_labs_counts_not_assessed_and_referred_rows(dev_data_path):
    done = run("evaluate", "--data", str(dev_data_path), "--labs", "TSH,TT4", "--json")
    assert done.returncode == 0, done.stderr
    metrics = json.loads(done.stdout)
    assert metrics["labs"] == ["TSH", "TT4"]
    assert metrics["n"] + metrics["n_not_assessed"] == 5415 + 181 + 532
    assert metrics["n_not_assessed"] > 0 and 0 <= metrics["n_refer"] <= metrics["n"]
    assert metrics["referral_rate"] == metrics["n_refer"] / metrics["n"]
    assert 0 <= metrics["accuracy_not_referred"] <= 1 and 0 <= metrics["macro_f1"] <= 1
    complete = json.loads(run("evaluate", "--data", str(dev_data_path), "--json").stdout)
    assert metrics["n_not_assessed"] == complete["n_not_assessed"]  # TSH kept: the same rows lack it
    # what the application would answer: every low-confidence referral and more (contexts, discordance...)
    rules = metrics["all_rules"]
    assert metrics["n_refer"] == rules["reasons"]["low_confidence"] <= rules["n_refer_any_rule"] <= metrics["n"]
    assert rules["reasons"]["context_not_covered"] > 0 and rules["reasons"]["discordant_low_tsh_low_thyroxine"] > 0
    assert rules["accuracy_not_referred_any_rule"] >= metrics["accuracy_not_referred"] - 0.01


def test_evaluate_refuses_an_unknown_lab(dev_data_path):
    done = run("evaluate", "--data", str(dev_data_path), "--labs", "TSH,FT9")
    assert done.returncode != 0 and "unknown lab test(s) FT9" in done.stderr


def test_predict_scores_a_csv_and_reports_bad_rows(tmp_path):
    rows = [
        {"age": "60", "sex": "F", "TSH": "55", "T3": "0.9", "TT4": "35", "T4U": "0.9", "FTI": "39"},
        {"age": "35", "sex": "M", "TSH": "1.1", "T3": "2.1", "TT4": "100", "T4U": "1.0", "FTI": "100"},
        {"age": "35", "sex": "M", "TSH": "1200"},
    ]
    lines = [",".join(INPUT_FIELDS)] + [",".join(row.get(name, "") for name in INPUT_FIELDS) for row in rows]
    path = tmp_path / "panels.csv"
    path.write_text("\n".join(lines) + "\n")
    done = run("predict", "--csv", str(path))
    assert done.returncode == 1
    output = done.stdout.strip().splitlines()
    assert output[0].startswith("line,record_id,predicted_class,p_normal")
    assert output[1].startswith("2,,hypothyroid,") and output[2].startswith("3,,normal,")
    assert "TSH 55 mU/L pushed towards hypothyroid" in output[1]
    assert ":4: rejected: TSH 1200 mU/L is above the plausible maximum 1000 mU/L" in done.stderr


def test_unknown_file_is_a_clear_error():
    done = run("evaluate", "--data", "/nonexistent/file.data")
    assert done.returncode != 0 and "no such file" in done.stderr
