"""`labelf train` and `labelf evaluate`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ..exceptions import DataError, ModelError
from ..project import Project
from ..registry import parse_model_ref
from ._utils import ConfigOpt, FormatOpt, check_format, emit_json, info, print_table

TYPES = ("embedding-head", "setfit", "fine-tuned")


def _hyper(model_type: str, epochs: int | None, max_steps: int | None, learning_rate: float | None,
           batch_size: int | None, num_iterations: int | None, c: float | None,
           threads: int | None = None) -> dict[str, Any]:
    """Map the CLI's options onto the model type's hyperparameters; options that do not apply are an error."""
    given = {"--epochs": epochs, "--max-steps": max_steps, "--learning-rate": learning_rate,
             "--batch-size": batch_size, "--num-iterations": num_iterations, "--C": c, "--threads": threads}
    names = {
        "embedding-head": {"--C": "C"},
        "setfit": {"--epochs": "num_epochs", "--max-steps": "max_steps", "--learning-rate": "body_learning_rate",
                   "--batch-size": "batch_size", "--num-iterations": "num_iterations", "--C": "C",
                   "--threads": "num_threads"},
        "fine-tuned": {"--epochs": "num_epochs", "--max-steps": "max_steps", "--learning-rate": "learning_rate",
                       "--batch-size": "batch_size", "--threads": "num_threads"},
    }[model_type]
    bad = [opt for opt, v in given.items() if v is not None and opt not in names]
    if bad:
        raise ModelError(f"{', '.join(bad)} not applicable to --type {model_type}; "
                         f"it takes: {', '.join(names) or 'no hyperparameters'}")
    for opt, v in given.items():
        if v is not None and v <= 0:
            raise ModelError(f"{opt} must be greater than 0, not {v}")
    return {names[opt]: v for opt, v in given.items() if v is not None}


def print_metrics(metrics: dict[str, Any], title: str) -> None:
    """Human summary of stored metrics: headline numbers, per-class table (worst first), thresholds, bands."""
    ev = metrics.get("evaluation", {})
    info(f"{title}: accuracy {metrics.get('accuracy')}  macro-F1 {metrics.get('f1_macro')}  "
         f"on {metrics.get('n_eval')} texts ({ev.get('description', ev.get('method', 'unknown split'))})")
    rows = sorted((metrics.get("per_class") or {}).items(), key=lambda kv: (kv[1]["f1"], -kv[1]["support"]))
    print_table("per class (worst F1 first)", ["label", "precision", "recall", "f1", "support"],
                [[lab, m["precision"], m["recall"], m["f1"], m["support"]] for lab, m in rows])
    th = metrics.get("thresholds") or {}
    if "recommended" in th:
        rec = th["recommended"]
        if rec.get("reached"):
            info(f"recommended threshold for precision >= {rec['target_precision']}: {rec['threshold']:.2f} "
                 f"(keeps {rec.get('coverage', 0):.0%} of texts at precision {rec['precision']:.3f})")
        else:
            info(f"no threshold reaches precision {rec['target_precision']} (best {rec['precision']})")
        bands = th.get("bands", {})
        if bands:
            info("routing bands: " + ", ".join(
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


def train(
    model_type: Annotated[str | None, typer.Option("--type", "-t", help="embedding-head, setfit or fine-tuned "
                                                   "(default: training.type in the config).")] = None,
    base: Annotated[str | None, typer.Option(help="Encoder / base model (default: the config's encoder).")] = None,
    epochs: Annotated[int | None, typer.Option(help="Epochs (setfit, fine-tuned).")] = None,
    max_steps: Annotated[int | None, typer.Option(help="Cap on optimizer steps (setfit, fine-tuned).")] = None,
    learning_rate: Annotated[float | None, typer.Option(help="Learning rate (setfit body, fine-tuned).")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Batch size (setfit, fine-tuned).")] = None,
    num_iterations: Annotated[int | None, typer.Option(help="SetFit pairs per text.")] = None,
    c: Annotated[float | None, typer.Option("--C", help="Inverse regularisation of the logistic head.")] = None,
    threads: Annotated[int | None, typer.Option(help="Torch CPU threads (setfit, fine-tuned); 1 is often "
                                                "fastest on a busy shared machine.")] = None,
    eval_split: Annotated[float | None, typer.Option(help="Share held out for evaluation (default: config).")] = None,
    eval_file: Annotated[Path | None, typer.Option(help="Evaluate on this labeled file instead of a split.")] = None,
    text_column: Annotated[str, typer.Option(help="Text column of --eval-file.")] = "text",
    label_column: Annotated[str, typer.Option(help="Label column of --eval-file.")] = "label",
    seed: Annotated[int | None, typer.Option(help="Random seed (default: config).")] = None,
    adaptation: Annotated[str | None, typer.Option(
        "--language-adaptation", help="auto, on or off: self-train on unlabeled texts of languages with few labels "
        "(single-label embedding-head; auto = with a multilingual encoder; default: training.language_adaptation).")
    ] = None,
    deploy: Annotated[bool, typer.Option("--deploy/--no-deploy", help="Deploy the new version and make it "
                                         "the project's active model.")] = False,
    model: Annotated[int | None, typer.Option("--model", help="Add the version to this model id.")] = None,
    name: Annotated[str | None, typer.Option(help="Model name (default: '<project> (<type>)').")] = None,
    report: Annotated[Path | None, typer.Option(help="Also write the HTML evaluation report into this folder.")]
    = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
    config: ConfigOpt = None,
    fmt: FormatOpt = "table",
) -> None:
    """Train on the workspace's annotations, evaluate, and register a new immutable version.

    \b
    Examples:
      labelf train --deploy
      labelf train --type setfit --epochs 1 --eval-split 0.2
      labelf train --type fine-tuned --base minilm --eval-file test.csv
    """
    from ..training import read_eval_file, train_and_register

    check_format(fmt)
    with Project.open(config) as project:
        mtype = model_type or project.config.training.type
        if mtype not in TYPES:
            raise ModelError(f"--type must be one of {', '.join(TYPES)}, not {mtype!r}")
        if seed is not None and seed < 0:
            raise ModelError(f"--seed must be 0 or more, not {seed}")
        hyper = _hyper(mtype, epochs, max_steps, learning_rate, batch_size, num_iterations, c, threads)
        if eval_file is not None and eval_split is not None:
            raise DataError("give --eval-split or --eval-file, not both")
        eval_data = read_eval_file(eval_file, project, text_column=text_column, label_column=label_column) \
            if eval_file is not None else None
        result = train_and_register(project, mtype, deploy=deploy, eval_split=eval_split, seed=seed,
                                    progress=not quiet, base=base, eval_data=eval_data, name=name, model_id=model,
                                    log=None if quiet else info, language_adaptation=adaptation, **hyper)
        if report is not None:
            from ..evaluation.report import write_report

            rec = project.registry.get(result.model_id)
            page = write_report(report, result.metrics, title=f"{rec.name} v{result.version}",
                                subtitle=f"{result.model_type}, trained on {result.training_examples} texts")
            info(f"report: {page}")
    if fmt == "json":
        emit_json({**result.summary(), "metrics": result.metrics})
        return
    print_metrics(result.metrics, f"model {result.model_id} v{result.version} ({result.model_type})")
    info(f"registered model {result.model_id} v{result.version} in {result.seconds:.1f}s"
         + (" and deployed it" if deploy else "; deploy with `labelf models deploy "
            f"{result.model_id}@{result.version}`"))
    typer.echo(f"{result.model_id}@{result.version}")


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
    from ..evaluation import evaluate_model

    check_format(fmt)
    model_id, version = parse_model_ref(model)
    with Project.open(config) as project:
        rec = project.registry.get(model_id)
        ver = rec.version(version)
        if data is not None:
            from ..training import read_eval_file

            ev = read_eval_file(data, project, text_column=text_column, label_column=label_column)
            clf = project.registry.load(model_id, ver.version)
            metrics = evaluate_model(clf, ev.texts, ev.labels, thresholds=project.config.thresholds,
                                     model_threshold=rec.confidence_threshold)
            metrics["evaluation"] = {"method": "eval-file", "n_eval": len(ev),
                                     "description": f"{data.name}: {len(ev)} labeled texts"}
        else:
            metrics = dict(ver.metrics)
            if not metrics.get("per_class"):
                raise DataError(f"model {model_id} v{ver.version} ({rec.type}) has no stored evaluation; "
                                "pass --data FILE with labeled texts")
        if report is not None:
            from ..evaluation.report import write_report

            page = write_report(report, metrics, title=f"{rec.name} v{ver.version}",
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
    from ..evaluation import evaluate_model
    from ..evaluation.compare import compare_metrics

    check_format(fmt)
    refs = [parse_model_ref(a), parse_model_ref(b)]
    names, metrics = [], []
    with Project.open(config) as project:
        ev = None
        if data is not None:
            from ..training import read_eval_file

            ev = read_eval_file(data, project, text_column=text_column, label_column=label_column)
        for model_id, version in refs:
            rec = project.registry.get(model_id)
            ver = rec.version(version)
            names.append(f"{model_id}@{ver.version}")
            if ev is not None:
                clf = project.registry.load(model_id, ver.version)
                m = evaluate_model(clf, ev.texts, ev.labels, thresholds=project.config.thresholds,
                                   model_threshold=rec.confidence_threshold)
                m["evaluation"] = {"method": "eval-file", "description": f"{data.name}: {len(ev)} texts"}
            else:
                m = dict(ver.metrics)
                if not m.get("per_class"):
                    raise DataError(f"model {names[-1]} ({rec.type}) has no stored evaluation; "
                                    "pass --data FILE to evaluate both on the same labeled texts")
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
