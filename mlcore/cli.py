"""Command line: ``python -m mlcore train|evaluate|predict``."""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import time
from pathlib import Path

from mlcore.data import ReadResult, read_csv, read_uci
from mlcore.schema import CLASSES


def _read(path: str, *, csv_format: bool | None = None) -> ReadResult:
    if not Path(path).is_file():
        raise SystemExit(f"error: no such file: {path}")
    use_csv = path.lower().endswith(".csv") if csv_format is None else csv_format
    result = read_csv(path) if use_csv else read_uci(path)
    for error in result.errors[:20]:
        print(f"{path}:{error.line}: rejected: {error.reason}", file=sys.stderr)
    if len(result.errors) > 20:
        print(f"... and {len(result.errors) - 20} more rejected lines", file=sys.stderr)
    if result.warnings:
        print(
            f"{path}: {len(result.warnings)} warning(s), e.g. line {result.warnings[0].line}: "
            f"{result.warnings[0].reason}",
            file=sys.stderr,
        )
    return result


def _json_safe(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def cmd_train(args) -> int:
    from mlcore.train import train_model

    result = _read(args.data)
    print(f"read {len(result.records)} records ({len(result.errors)} rejected)", file=sys.stderr)
    started = time.perf_counter()

    def progress(report: dict) -> None:
        print(
            f"{report.get('stage', 'fit')} epoch {report['epoch']}/{report['epochs']}  loss {report['loss']:.4f}  "
            f"val_loss {report['val_loss']:.4f}  val_macro_f1 {report['val_macro_f1']:.4f}",
            file=sys.stderr,
            flush=True,
        )

    out = train_model(result.records, args.out, seed=args.seed, progress=progress, epochs=args.epochs)
    metadata = json.loads((out / "metadata.json").read_text())
    metrics = metadata["metrics"]
    print(
        f"saved {metadata['version']} to {out} in {time.perf_counter() - started:.1f} s: test macro-F1 "
        f"{metrics['macro_f1']:.4f}, accuracy {metrics['accuracy']:.4f}, ECE {metrics['ece']:.4f}"
    )
    return 0


def cmd_evaluate(args) -> int:
    from mlcore.evaluate import evaluate_model
    from mlcore.predictor import Predictor

    predictor = Predictor.load(args.model)
    labs = [lab.strip() for lab in args.labs.split(",") if lab.strip()] if args.labs else None
    result = _read(args.data)
    try:
        metrics = evaluate_model(predictor, result.records, labs=labs)
    except ValueError as error:
        raise SystemExit(f"error: {error}") from None
    metrics["n_rejected_lines"] = len(result.errors)
    if args.json:
        print(json.dumps(_json_safe(metrics)))
        return 0
    print(
        f"model {metrics['model_version']} on {args.data}"
        + (f" with only {', '.join(labs)} kept" if labs else "")
        + f": {metrics['n']} three-class rows assessed or referred ({metrics['n_not_assessed']} not assessed, "
        f"{metrics['n_excluded_other']} other diagnoses left out)"
    )
    print(
        f"accuracy {metrics['accuracy']:.4f}  macro-F1 {metrics['macro_f1']:.4f}  "
        f"ROC AUC {metrics['roc_auc_ovr']:.4f}  ECE {metrics['ece']:.4f}"
    )
    print(
        f"referred (low confidence) {metrics['n_refer']} ({metrics['referral_rate']:.1%}); accuracy on the rows "
        f"answered without referral {metrics['accuracy_not_referred']:.4f}"
    )
    rules = metrics["all_rules"]
    accuracy = rules["accuracy_not_referred_any_rule"]
    print(
        f"referred by any rule, as the application does {rules['n_refer_any_rule']}; accuracy on the rows "
        f"answered {'n/a' if accuracy is None else f'{accuracy:.4f}'}; reasons: "
        + (", ".join(f"{code} {n}" for code, n in rules["reasons"].items()) or "none")
    )
    print(f"{'class':14s} {'precision':>9s} {'recall':>7s} {'F1':>6s} {'n':>6s}")
    for c in CLASSES:
        print(
            f"{c:14s} {metrics['precision'][c]:9.3f} {metrics['recall'][c]:7.3f} "
            f"{metrics['f1'][c]:6.3f} {metrics['support'][c]:6d}"
        )
    return 0


def cmd_predict(args) -> int:
    from mlcore.predictor import Predictor

    predictor = Predictor.load(args.model)
    result = _read(args.csv, csv_format=True)
    predictions = predictor.predict(result.records, explain=not args.no_explain)
    writer = csv.writer(sys.stdout)
    writer.writerow(["line", "record_id", "predicted_class", *(f"p_{c}" for c in CLASSES), "uncertain", "explanation"])
    for record, prediction in zip(result.records, predictions, strict=True):
        writer.writerow(
            [
                record["line"],
                record.get("record_id") or "",
                prediction.predicted_class,
                *(f"{prediction.probabilities[c]:.4f}" for c in CLASSES),
                "yes" if prediction.uncertain else "no",
                "; ".join(item["text"] for item in prediction.explanation[:3]),
            ]
        )
    return 1 if result.errors else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mlcore", description="ThyroWeb model: train, evaluate, predict")
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train a model on a UCI-format (or .csv) file")
    train.add_argument("--data", required=True, help="thyroid0387-format file, or a CSV with a diagnosis column")
    train.add_argument("--out", required=True, help="directory to write the model to")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--epochs", type=int, default=None, help="maximum epochs (default: the config's)")
    train.set_defaults(run=cmd_train)

    evaluate = commands.add_parser("evaluate", help="metrics of a model on the three-class rows of a file")
    evaluate.add_argument("--model", default=None, help="model directory (default: the shipped model)")
    evaluate.add_argument("--data", required=True)
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    evaluate.add_argument(
        "--labs", default=None, help="comma-separated lab tests to keep, e.g. TSH,TT4 (the others: not measured)"
    )
    evaluate.set_defaults(run=cmd_evaluate)

    predict = commands.add_parser("predict", help="score the rows of a CSV file (INPUT_FIELDS columns)")
    predict.add_argument("--model", default=None, help="model directory (default: the shipped model)")
    predict.add_argument("--csv", required=True)
    predict.add_argument("--no-explain", action="store_true", help="skip explanations (faster for big files)")
    predict.set_defaults(run=cmd_predict)

    args = parser.parse_args(argv)
    return args.run(args)
