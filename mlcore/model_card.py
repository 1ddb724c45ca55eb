"""The model card (Markdown) written beside each trained model."""

from __future__ import annotations

from pathlib import Path

from mlcore.schema import CLASSES


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def render_model_card(metadata: dict) -> str:
    metrics = metadata.get("metrics", {})
    rows = metadata["training_rows"]
    lines = [
        f"# Model card: ThyroWeb thyroid function classifier `{metadata['version']}`",
        "",
        "## Intended use",
        "",
        "A decision aid for clinical staff: from one panel of thyroid function tests (TSH, total T3,",
        "total T4, T4 uptake, FTI, TBG) with age, sex, history flags and referral source, it gives",
        "calibrated probabilities of **normal**, **hyperthyroid** and **hypothyroid**, the inputs that",
        "drove them, and an *uncertain / refer* flag. It is not a medical device and does not",
        "diagnose: the clinician decides. Not for children, pregnancy or patients under thyroid",
        "therapy without clinical review (few such records in the training data).",
        "",
        "Free T4 and free T3 are not inputs of the network: the Garvan data has none. A panel with",
        "them is assessed from the tests the network knows, beside the guideline reading of TSH with",
        "free T4 (mlcore.reading), and the answer names the values the network did not use. Free T4 is",
        "not mapped onto the FTI input: no benchmark shows that such a mapping helps and does no harm.",
        "",
        "## Training data",
        "",
        "Garvan Institute thyroid archive (UCI thyroid0387, 1984-1987, an Australian referral",
        "laboratory; TSH assay of unknown generation; units inferred from the values). Only records",
        "whose diagnosis maps to the three classes are used (`X|Y` read as Y; `-` normal; A-D",
        "hyperthyroid; E-H hypothyroid); other diagnoses are left out.",
        "",
        "| split | " + " | ".join(CLASSES) + " |",
        "| --- | " + " | ".join("---" for _ in CLASSES) + " |",
    ]
    for split, counts in rows.items():
        lines.append(f"| {split} | " + " | ".join(str(counts[c]) for c in CLASSES) + " |")
    lines += [
        "",
        f"Split: {metadata.get('split') or 'stratified by class, seed ' + str(metadata['seed'])}. "
        "Preprocessing, early stopping, temperature, decision weights and the",
        "uncertainty threshold are fitted on the training and validation splits only; the test rows",
        "are never trained on.",
        "",
        "## Model",
        "",
        metadata["architecture"] + ".",
        "",
        "Why: tree-cut piecewise-linear encoding lets the network follow the thresholds on TSH, FTI",
        "and T3 that the labels follow; the TabM ensemble averages members cheaply; batch",
        "normalization and dropout sit inside each member block, where they did not hurt the",
        "benchmark (`bench/model_quality.py`). Early stopping on the averaged prediction's",
        f"validation log-loss (best epoch {metadata['best_epoch']} of {metadata['epochs_run']} run).",
        "",
        f"- Temperature scaling: T = {metadata['temperature']:.3f} (fitted on validation log-loss).",
        "- Decision rule: argmax of the calibrated probabilities times per-class weights "
        + ", ".join(f"{c} {w:.2f}" for c, w in metadata["decision_weights"].items())
        + (
            " (tuned on validation for macro-F1)."
            if metadata["config"].get("tune_decision_weights")
            else " (fixed costs, not tuned: missing a rare dysfunction costs more than a false alarm;"
            " the reported probabilities stay calibrated)."
        ),
        f"- Uncertain flag: top probability below {metadata['uncertain_threshold']:.2f}.",
        "- Explanations: integrated gradients from a typical normal panel, summed per input.",
        f"- Training time: {metadata['training_seconds']} s on 2 CPU cores.",
        "",
        "## Metrics (held-out test split)",
        "",
    ]
    if metrics:
        lines += [
            f"n = {metrics['n']}; accuracy {_pct(metrics['accuracy'])}; macro-F1 {metrics['macro_f1']:.3f}; "
            f"ROC AUC (one vs rest, macro) {metrics['roc_auc_ovr']:.3f}; expected calibration error "
            f"{metrics['ece']:.3f} (before temperature scaling {metrics['ece_uncalibrated']:.3f}).",
            "",
            "| class | precision | recall | F1 |",
            "| --- | --- | --- | --- |",
        ]
        for c in CLASSES:
            lines.append(
                f"| {c} | {metrics['precision'][c]:.3f} | {metrics['recall'][c]:.3f} | {metrics['f1'][c]:.3f} |"
            )
        lines += [
            "",
            "The test split is small (few hyperthyroid cases): per-class figures carry wide",
            "uncertainty. `bench/model_quality.py` gives 5-fold figures against XGBoost and LightGBM.",
        ]
    lines += [
        "",
        "## Reproduce",
        "",
        "```",
        "python -m mlcore train --data $THYROWEB_DATA_DIR/thyroid0387-dev.data \\",
        f"    --out mlcore/default_model --seed {metadata['seed']}",
        "```",
        "",
        "## Known limits",
        "",
        "- Data from 1984-1987, one laboratory: modern TSH assays, reference intervals and",
        "  populations differ; validate locally before use.",
        "- FTI here is TT4 / T4U (nmol/L-equivalent), not the US convention (1-5).",
        "- No free T4 or free T3 inputs; TBG is rarely measured.",
        "- Rare situations (pregnancy, lithium, hypopituitarism, therapy) have few training",
        "  records; such panels and values outside the training range deserve review.",
        "- Labels are the laboratory's comments, not confirmed clinical diagnoses.",
        "- The network is not constrained to be monotone: raising TSH in a normal panel raises",
        "  p(hypothyroid) overall, with small local dips (checked in the tests).",
        "",
    ]
    return "\n".join(lines)


def write_model_card(path: str | Path, metadata: dict) -> None:
    Path(path).write_text(render_model_card(metadata))
