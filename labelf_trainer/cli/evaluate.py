"""`labelf evaluate` and `labelf models compare`: metrics of model versions, stored or on a labeled file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ..exceptions import DataError
from ._utils import ConfigOpt, FormatOpt, check_format, emit_json, info, model_ref, open_project, print_table


def print_metrics(metrics: dict[str, Any], title: str) -> None:
    """Human summary of stored metrics: headline numbers, per-class table (worst first), trust, thresholds, bands."""
    ev = metrics.get("evaluation", {})
    info(f"{title}: accuracy {metrics.get('heldout_accuracy', metrics.get('accuracy'))}  macro-F1 "
         f"{metrics.get('f1_macro')}  on {metrics.get('n_eval')} texts "
         f"({ev.get('description', ev.get('method', 'unknown split'))})")
    if metrics.get("accuracy_method") and metrics.get("accuracy_interval"):
        iv = metrics["accuracy_interval"]
        info(f"accuracy on the traffic: {metrics.get('accuracy')} [{iv[0]}, {iv[1]}], {metrics['accuracy_method']}")
    elif metrics.get("accuracy_method"):
        info(f"accuracy {metrics.get('accuracy')}: {metrics['accuracy_method']}")
    rows = sorted((metrics.get("per_class") or {}).items(), key=lambda kv: (kv[1]["f1"], -kv[1]["support"]))
    print_table("per class (worst F1 first)", ["label", "precision", "recall", "f1", "support"],
                [[lab, m["precision"], m["recall"], m["f1"], m["support"]] for lab, m in rows])
    _print_trust(metrics)
    th = metrics.get("thresholds") or {}
    if "recommended" in th:
        rec = th["recommended"]
        if not rec.get("reached"):
            info(f"no threshold reaches precision {rec['target_precision']} on the labeled texts "
                 f"(best {rec['precision']})")
        elif not (metrics.get("bands") or {}).get("auto"):
            info(f"recommended threshold for precision >= {rec['target_precision']} on the labeled texts: "
                 f"{rec['threshold']:.2f} (keeps {rec.get('coverage', 0):.0%} at precision {rec['precision']:.3f})"
                 + ("; this disables rejection: every text, out-of-scope ones included, would be auto-labeled"
                    if rec.get("disables_rejection") else ""))
        bands = th.get("bands", {})
        if bands:
            info("routing bands on the labeled texts: " + ", ".join(
                f"{b} {v['share']:.0%}" + (f" (acc {v['accuracy']:.2f})" if v.get("accuracy") is not None else "")
                for b, v in bands.items()))
    elif "per_label" in th:
        print_table("per-label thresholds", ["label", "threshold", "precision", "recall", "reached"], [
            [lab, v["recommended"]["threshold"], v["recommended"]["precision"], v["recommended"].get("recall"),
             v["recommended"]["reached"]] for lab, v in th["per_label"].items()])
    for pair in (metrics.get("confused_pairs") or [])[:5]:
        info(f"  {pair['true']} mislabeled as {pair['predicted']} {pair['rate']:.0%} of the time ({pair['count']})")
    pseudo = (metrics.get("language_adaptation") or {}).get("pseudo_labels") or {}
    if pseudo:
        info("language adaptation: pseudo-labels per language " + ", ".join(f"{k} {v}" for k, v in pseudo.items()))
    langs = metrics.get("languages") or {}
    if len(langs) > 1:
        info("per language: " + ", ".join(f"{k} n={v['n']} acc {v['accuracy']}" for k, v in langs.items()))
    lengths = metrics.get("length_buckets") or {}
    if len(lengths) > 1:  # long texts (whole calls) next to short ones: does length cost accuracy?
        info("by length in characters: " + ", ".join(f"{k} n={v['n']} acc {v['accuracy']} macro-F1 {v['f1_macro']}"
                                                   for k, v in lengths.items()))


def _print_trust(metrics: dict[str, Any]) -> None:
    """Calibration, the out-of-scope label and the auto band for the traffic, as fitted at training time."""
    cal = metrics.get("calibration") or {}
    if cal:
        method = cal.get("method") or {}
        how = {"temperature": f"temperature {method.get('temperature')}", "multilabel_platt": "shared Platt scaling",
               }.get(method.get("kind"), "none (too few held-out labels)")
        info(f"calibration: {how}; expected calibration error {cal.get('ece')} on {cal.get('heldout')} held-out texts")
    oos = metrics.get("out_of_scope") or {}
    if oos:
        info(f"out of scope '{oos['label']}': recall {oos.get('recall')}, precision {oos.get('precision')}, "
             f"AUROC {oos.get('auroc')} on {oos.get('n_out_of_scope')} texts labeled out of scope; in-scope "
             f"accuracy {oos.get('in_scope_accuracy')} ({oos.get('answered_out_of_scope')} answered out of scope)")
    bands = metrics.get("bands") or {}
    if bands.get("auto") is not None:
        assumed = bands.get("assumed") or {}
        info(f"auto band from {bands['auto']:.2f}: expected precision {bands.get('expected_precision')} on the "
             f"traffic, covering {bands.get('expected_coverage', 0):.0%} of it"
             + (f" (assumes {assumed['oos_share']:.0%} of the traffic out of scope, "
                f"{assumed['oos_miss_rate']:.0%} of it missed by the detector)" if assumed else "")
             + ("; this disables rejection: every in-scope answer is auto-labeled" if bands.get("disables_rejection")
                else ""))
    elif bands.get("reason"):
        info(f"auto band: none ({bands['reason']})")
    if (metrics.get("stopping") or {}).get("advice"):
        info(f"advice: {metrics['stopping']['advice']}")


def evaluate(
    model: Annotated[str, typer.Argument(help="Model id, or ID@VERSION (default: the deployed version).")],
    data: Annotated[Path | None, typer.Option("--data", "-d", help="Labeled CSV/JSONL to evaluate on "
                                              "(default: the metrics stored with the version).")] = None,
    text_column: Annotated[str, typer.Option(help="Text column of --data.")] = "text",
    label_column: Annotated[str, typer.Option(help="Label column of --data.")] = "label",
    report: Annotated[Path | None, typer.Option(help="Write a self-contained HTML report into this folder.")] = None,
    config: ConfigOpt = None,
    fmt: FormatOpt = "table",
) -> None:
    """Metrics of a model version: per class, confusion matrix, confidence thresholds, per language.

    \b
    Examples:
      labelf evaluate 2
      labelf evaluate 2@3 --data test.csv --report eval-report/
    """
    from ..evaluation import evaluate_version

    check_format(fmt)
    model_id, version = model_ref(model)
    with open_project(config) as project:
        rec, ver, metrics = evaluate_version(project.registry, project.config, model_id, version, data,
                                             text_column=text_column, label_column=label_column)
        if report is not None:
            from ..evaluation.report import write_report
            from ..quality.state import label_quality

            page = write_report(report, {**metrics, "label_quality": label_quality(project)},
                                title=f"{rec.name} v{ver.version}",
                                subtitle=f"{rec.type}, {ver.training_examples} training texts, "
                                         f"trained {ver.last_trained}")
            info(f"report: {page}")
    if fmt == "json":
        emit_json({"model_id": model_id, "version": ver.version, "metrics": metrics})
    else:
        print_metrics(metrics, f"model {model_id} v{ver.version} ({rec.type})")


def compare(
    a: Annotated[str, typer.Argument(help="First model version: ID or ID@VERSION.")],
    b: Annotated[str, typer.Argument(help="Second model version: ID or ID@VERSION.")],
    data: Annotated[Path | None, typer.Option("--data", "-d", help="Evaluate both on this labeled file "
                                              "(default: the metrics stored with each version).")] = None,
    text_column: Annotated[str, typer.Option(help="Text column of --data.")] = "text",
    label_column: Annotated[str, typer.Option(help="Label column of --data.")] = "label",
    config: ConfigOpt = None,
    fmt: FormatOpt = "table",
) -> None:
    """Two model versions side by side, per class (deltas are B - A, worst change first).

    \b
    Examples:
      labelf models compare 2@1 2@2
      labelf models compare 2 3 --data test.csv --format json
    """
    from ..evaluation import evaluate_version
    from ..evaluation.compare import compare_metrics

    check_format(fmt)
    refs = [model_ref(a), model_ref(b)]
    names, metrics = [], []
    with open_project(config) as project:
        for model_id, version in refs:
            _rec, ver, m = evaluate_version(project.registry, project.config, model_id, version, data,
                                            text_column=text_column, label_column=label_column)
            names.append(f"{model_id}@{ver.version}")
            metrics.append(m)
    if names[0] == names[1]:
        raise DataError(f"both sides are {names[0]}: give two different versions")
    result = compare_metrics(metrics[0], metrics[1], name_a=names[0], name_b=names[1])
    if fmt == "json":
        emit_json(result)
        return
    A, B = names
    for k, v in result["headline"].items():
        info(f"{k}: {A} {v[A]}  {B} {v[B]}  delta {v['delta']:+.4f}" if v["delta"] is not None else f"{k}: n/a")
    if not result["same_evaluation"]:
        info("note: the two were evaluated on different sets; pass --data FILE for a like-for-like comparison")
    print_table(f"per class: {A} vs {B} ({result['improved']} better, {result['worse']} worse)",
                ["label", f"f1 {A}", f"f1 {B}", "Δ f1", "Δ precision", "Δ recall", "support"],
                [[r["label"], r[f"f1_{A}"], r[f"f1_{B}"], _signed(r["f1_delta"]), _signed(r["precision_delta"]),
                  _signed(r["recall_delta"]), r["support"]] for r in result["per_class"]])


def _signed(x: float | None) -> str:
    return "" if x is None else f"{x:+.3f}"
