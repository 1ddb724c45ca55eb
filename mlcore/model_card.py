"""The model card (Markdown) written beside each trained model."""

from __future__ import annotations

from pathlib import Path

from mlcore.schema import CLASSES


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def _fmt(value, spec: str = ".3f") -> str:
    return "n/a" if value is None or value != value else format(value, spec)


def _summary_rows(groups: dict) -> list[str]:
    lines = [
        "| rows | n | macro-F1 | accuracy | hyper recall | hypo recall | referred | accuracy answered | not assessed |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, m in groups.items():
        lines.append(
            f"| {name} | {m['n']} | {_fmt(m['macro_f1'])} | {_fmt(m['accuracy'])} | "
            f"{_fmt(m['recall']['hyperthyroid'])} | {_fmt(m['recall']['hypothyroid'])} | "
            f"{_fmt(m['referral_rate'], '.1%')} | {_fmt(m['accuracy_not_referred'])} | {m['n_not_assessed']} |"
        )
    return lines


def render_model_card(metadata: dict) -> str:
    metrics = metadata.get("metrics", {})
    rows = metadata["training_rows"]
    config = metadata["config"]
    lines = [
        f"# Model card: ThyroWeb thyroid function classifier `{metadata['version']}`",
        "",
        "## Intended use and scope",
        "",
        "A decision aid for clinical staff: from one panel of thyroid function tests (TSH, required; total",
        "T3, total T4, T4 uptake, FTI, TBG as available) with age, sex and history flags, it gives",
        "calibrated probabilities of **normal**, **hyperthyroid** and **hypothyroid**, the inputs that",
        "drove them, and a *refer* outcome when it is not confident. It is not a medical device and does",
        "not diagnose: the clinician decides.",
        "",
        "Scope: adults, not pregnant, not on thyroid drugs (thyroxine, antithyroid drugs, lithium),",
        "no thyroid surgery or I-131 treatment, no hypopituitarism. Panels outside it are referred by",
        "the referral rules (mlcore/rules.py), as are panels without TSH (not assessed), values outside",
        "the training ranges and unusual combinations of values (see Scope below). The referral source",
        "is stored by the application but is not a model input: it acted as a shortcut to the",
        "referring site of the training laboratory.",
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
        "Preprocessing, early stopping, temperature, decision weights, the low-confidence",
        "threshold and the scope are fitted on the training rows only; the test rows are never",
        "trained on.",
        "",
        "## Model",
        "",
        metadata["architecture"] + ".",
        "",
        "Why: tree-cut piecewise-linear encoding lets the network follow the thresholds on TSH, FTI",
        "and T3 that the labels follow, and a step bit at each edge where the class the bins point to",
        "changes lets it draw them as steps (a ramp alone called TSH 6.1-6.4 with normal thyroxine normal,",
        "where every such training record is hypothyroid); edges inside a class's range get no step, so",
        "the probabilities there only bend and the lab sweeps stay monotone. Step edges: "
        + (
            "; ".join(f"{name} {', '.join(f'{v:g}' for v in edges)}" for name, edges in metadata["step_edges"].items())
            if metadata.get("step_edges")
            else "none"
        )
        + ". The TabM ensemble averages members cheaply; averaging",
        f"{config.get('members', 1)} independently initialised networks keeps the shipped model from being one",
        "draw of the seed lottery (the single-network recipe gave held-out macro-F1 0.929-0.947 over",
        "four seeds; `bench/model_quality.py` reports the seed spread of this recipe); batch",
        "normalization and dropout sit inside each member block, as in the previous recipe. Each",
        "network leaves out its own validation rows; early stopping on the mean of the networks'",
        f"validation log-loss (best epoch {metadata['best_epoch']} of {metadata['epochs_run']} run).",
        "",
        "Lab masking: in these records a missing value follows the laboratory's ordering habit (FTI is",
        "almost never missing in hyperthyroid rows), so a model trained on the rows as they are finds",
        "no hyperthyroid patient in a TSH + TT4 panel. The network is trained on the rows plus a copy",
        "with lab values removed (labels kept); each copied row takes one pattern:",
        "",
        "| labs removed | share of the copy |",
        "| --- | --- |",
    ]
    for pattern in metadata.get("masking", []):
        lines.append(f"| {', '.join(pattern['labs'])} | {pattern['share']:.0%} |")
    oof = metadata.get("out_of_fold", {})
    given = oof.get("given_panels", {})
    lines += [
        "",
        "Its validation rows get a masked copy too (early stopping judges partial panels as well);",
        "TSH is never masked (a panel without it is not assessed). FTI missing with TT4 and T4U",
        "measured is derived as TT4 / T4U, in training and in serving.",
        "",
        f"- Temperature scaling: T = {metadata['temperature']:.3f}, and the low-confidence threshold: top",
        f"  probability below {metadata['uncertain_threshold']:.2f} is *refer*, both fitted on pooled",
        f"  out-of-fold predictions ({oof.get('folds', '?')}-fold cross-validation of the training rows,",
        "  the same recipe in each fold). Rule: " + oof.get("rule", "n/a") + ".",
        f"  Out of fold, complete panels: macro-F1 {_fmt(given.get('macro_f1'))}, referred "
        f"{_fmt(given.get('referral_rate'), '.1%')}, accuracy on the answered "
        f"{_fmt(given.get('accuracy_not_referred'))}.",
        "- Decision rule: argmax of the calibrated probabilities times per-class weights "
        + ", ".join(f"{c} {w:.2f}" for c, w in metadata["decision_weights"].items())
        + (
            " (tuned for macro-F1)."
            if config.get("tune_decision_weights")
            else " (fixed costs, not tuned: missing a rare dysfunction costs more than a false alarm;"
            " the reported probabilities stay calibrated)."
        ),
        "- Explanations: integrated gradients from a typical normal panel, summed per input, through",
        "  the averaged networks.",
        f"- Training time: {metadata['training_seconds']} s on 2 shared CPU cores.",
        "",
    ]
    lines += _scope_section(metadata.get("scope"))
    lines += ["## Metrics (held-out test split)", ""]
    if metrics:
        lines += [
            f"n = {metrics['n']} assessed or referred ({metrics.get('n_not_assessed', 0)} without TSH not assessed); "
            f"accuracy {_pct(metrics['accuracy'])}; macro-F1 {metrics['macro_f1']:.3f}; ROC AUC (one vs rest, "
            f"macro) {metrics['roc_auc_ovr']:.3f}; expected calibration error {metrics['ece']:.3f} (before "
            f"temperature scaling {metrics['ece_uncalibrated']:.3f}); referred "
            f"{_fmt(metrics.get('referral_rate'), '.1%')} with accuracy "
            f"{_fmt(metrics.get('accuracy_not_referred'))} on the rows answered.",
            *_all_rules_lines(metrics.get("all_rules"), metrics["n"]),
            "",
            "| class | precision | recall | F1 |",
            "| --- | --- | --- | --- |",
        ]
        for c in CLASSES:
            lines.append(
                f"| {c} | {metrics['precision'][c]:.3f} | {metrics['recall'][c]:.3f} | {metrics['f1'][c]:.3f} |"
            )
        if metrics.get("partial_panels"):
            lines += ["", "Partial panels (the same held-out rows, only the named labs kept):", ""]
            lines += _summary_rows(metrics["partial_panels"])
        if metrics.get("subgroups"):
            lines += ["", "By sex and age band (complete panels):", ""]
            lines += _summary_rows(metrics["subgroups"])
        lines += [
            "",
            "The test split is small (few hyperthyroid cases, fewer still in a subgroup): per-class and",
            "per-group figures carry wide uncertainty. `bench/model_quality.py` gives cross-validated",
            "figures, complete and partial panels, against XGBoost and LightGBM.",
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
        "  records; the referral rules send such panels to review.",
        "- Labels are the laboratory's comments, not confirmed clinical diagnoses; some look like label",
        "  noise to a clinician (a suppressed TSH with a high FTI labelled normal).",
        "- Partial panels are assessed less well than complete ones (figures above): the model refers",
        "  more of them.",
        "- The network is not constrained to be monotone: raising TSH in a normal panel raises",
        "  p(hypothyroid) overall, with small local dips (checked in the tests).",
        "",
    ]
    return "\n".join(lines)


def _scope_section(scope: dict | None) -> list[str]:
    if not scope:
        return []
    novelty = scope["novelty"]
    low, high = scope.get("range_percentiles", ["?", "?"])
    lines = [
        "## Scope (out-of-distribution checks, fitted on the training rows)",
        "",
        f"Ranges: the {low}th-{high}th percentiles of the training values; beyond them the network",
        "extrapolates from a handful of rows.",
        "",
        "| input | low | high |",
        "| --- | --- | --- |",
    ]
    for name, (lo, hi) in scope["ranges"].items():
        lines.append(f"| {name} | {lo:g} | {hi:g} |")
    lines += [
        "",
        f"Novelty (`{novelty['kind']}`): per diagnostic class, a Gaussian on the log values of",
        f"{', '.join(novelty['labs'])}; a panel's Mahalanobis distance over the labs it has, put on one",
        "scale whatever their number by the Wilson-Hilferty transform of its chi-square law; the score",
        "is the smallest over the classes (a panel like any class is typical). Why: each value can be in",
        "range while their combination is unlike anything trained on (a suppressed TSH with a low TT4);",
        "log values of these labs are close to Gaussian within a class, the measure costs microseconds",
        "and explains itself (distance from the nearest class). FTI is left out (it is TT4 / T4U) and",
        f"TBG (rarely measured). Threshold: {_fmt(novelty['threshold'], '.2f')}, the "
        f"{novelty.get('percentile', 99.5)}th percentile of the training rows' scores.",
        "",
    ]
    return lines


def _all_rules_lines(rules: dict | None, n: int) -> list[str]:
    """The application's referral on the held-out rows: every rule of mlcore/rules.py, by reason."""
    if not rules:
        return []
    reasons = ", ".join(f"{code.replace('_', ' ')} {count}" for code, count in rules["reasons"].items())
    return [
        "",
        f"With every referral rule, as the application answers, {rules['n_refer_any_rule']} of {n} are referred "
        f"({rules['n_refer_any_rule'] / max(n, 1):.1%}; accuracy on the rows answered "
        f"{_fmt(rules['accuracy_not_referred_any_rule'])}). Rows referred for each reason (a row can have several): "
        f"{reasons or 'none'}. Most come from the contexts out of scope and from the guideline reading: a",
        "subclinical pattern (TSH just outside its interval, thyroxine normal) that the 1980s labels call normal.",
    ]


def write_model_card(path: str | Path, metadata: dict) -> None:
    Path(path).write_text(render_model_card(metadata))
