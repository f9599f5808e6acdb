"""`labelf train`: train a model type on the workspace's annotations, evaluate it, register a version."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ..exceptions import DataError, ModelError
from ._utils import ConfigOpt, FormatOpt, check_format, emit_json, info, open_project
from .evaluate import print_metrics

POOL_LEARNING = ("auto", "self", "propagation", "off")
"""``--pool-learning`` values (:mod:`labelf_trainer.loop.semi_supervised`), checked before any training starts."""


def hyperparameters(model_type: str, flags: dict[str, Any], params: list[str] | None) -> dict[str, Any]:
    """The model type's hyperparameters from the CLI's flags (looked up in its args dataclass, from the model-type
    table) and ``--param NAME=VALUE`` pairs; a flag the type does not take is an error naming what it takes."""
    from ..models.specs import model_spec

    spec = model_spec(model_type)
    if not spec.trainable:
        raise ModelError(f"--type must be a trainable model type, not {model_type!r}")
    known = spec.args.flags() if spec.args is not None else {}
    given = {flag: v for flag, v in flags.items() if v is not None}
    bad = [flag for flag in given if flag not in known]
    if bad:
        raise ModelError(f"{', '.join(bad)} not applicable to --type {model_type}; "
                         f"it takes: {', '.join(known) or 'no hyperparameters'}")
    hyper = {known[flag]: v for flag, v in given.items()}
    for pair in params or []:
        name, sep, raw = pair.partition("=")
        if not sep or spec.args is None:
            raise ModelError(f"--param must be NAME=VALUE for a hyperparameter of {model_type}, not {pair!r}")
        hyper[name.strip()] = spec.args.coerce(name.strip(), raw)
    spec.make_args(hyper)  # range checks now, before any data is read
    return hyper


def train(
    model_type: Annotated[str | None, typer.Option("--type", "-t", help="A trainable model type: embedding-head, "
                                                   "setfit or fine-tuned (default: training.type in the config).")
                          ] = None,
    base: Annotated[str | None, typer.Option(help="Encoder / base model (default: the config's encoder).")] = None,
    epochs: Annotated[int | None, typer.Option(help="Epochs (setfit, fine-tuned).")] = None,
    max_steps: Annotated[int | None, typer.Option(help="Cap on optimizer steps (setfit, fine-tuned).")] = None,
    learning_rate: Annotated[float | None, typer.Option(help="Learning rate (setfit body, fine-tuned).")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Batch size (setfit, fine-tuned).")] = None,
    num_iterations: Annotated[int | None, typer.Option(help="SetFit pairs per text.")] = None,
    c: Annotated[float | None, typer.Option("--C", help="Inverse regularisation of the logistic head.")] = None,
    threads: Annotated[int | None, typer.Option(help="Torch CPU threads (setfit, fine-tuned); 1 is often "
                                                "fastest on a busy shared machine.")] = None,
    param: Annotated[list[str] | None, typer.Option("--param", "-p", help="Any hyperparameter of the model type as "
                                                    "NAME=VALUE (repeat the option), e.g. max_length=256.")] = None,
    eval_split: Annotated[float | None, typer.Option(help="Share held out for evaluation (default: config).")] = None,
    eval_file: Annotated[Path | None, typer.Option(help="Evaluate on this labeled file instead of a split.")] = None,
    text_column: Annotated[str, typer.Option(help="Text column of --eval-file.")] = "text",
    label_column: Annotated[str, typer.Option(help="Label column of --eval-file.")] = "label",
    seed: Annotated[int | None, typer.Option(help="Random seed (default: config).")] = None,
    adaptation: Annotated[str | None, typer.Option(
        "--language-adaptation", help="auto, on or off: self-train on unlabeled texts of languages with few labels "
        "(single-label embedding-head; auto = with a multilingual encoder; default: training.language_adaptation).")
    ] = None,
    pool_learning: Annotated[str | None, typer.Option(
        "--pool-learning", help="auto, self, propagation or off: also learn from pseudo-labels of the unlabeled "
        "pool (single-label frozen-encoder models; auto = only where it wins on the held-out labels; default: "
        "training.pool_learning).")] = None,
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
    from ..data import read_eval_file
    from ..loop.trainer import train_and_register

    check_format(fmt)
    with open_project(config) as project:
        mtype = model_type or project.config.training.type
        if seed is not None and seed < 0:
            raise ModelError(f"--seed must be 0 or more, not {seed}")
        if pool_learning is not None and pool_learning not in POOL_LEARNING:
            raise ModelError(f"--pool-learning must be one of {', '.join(POOL_LEARNING)}, not {pool_learning!r}")
        hyper = hyperparameters(mtype, {"--epochs": epochs, "--max-steps": max_steps, "--learning-rate":
                                        learning_rate, "--batch-size": batch_size, "--num-iterations":
                                        num_iterations, "--C": c, "--threads": threads}, param)
        if eval_file is not None and eval_split is not None:
            raise DataError("give --eval-split or --eval-file, not both")
        eval_data = read_eval_file(eval_file, project.config, text_column=text_column,
                                   label_column=label_column) if eval_file is not None else None
        result = train_and_register(project, mtype, deploy=deploy, eval_split=eval_split, seed=seed,
                                    progress=not quiet, base=base, eval_data=eval_data, name=name, model_id=model,
                                    log=None if quiet else info, language_adaptation=adaptation,
                                    pool_learning=pool_learning, **hyper)
        if report is not None:
            from ..evaluation.report import write_report
            from ..quality.state import label_quality

            rec = project.registry.get(result.model_id)
            page = write_report(report, {**result.metrics, "label_quality": label_quality(project)},
                                title=f"{rec.name} v{result.version}",
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
