"""`labelf suggest` (what to label next) and `labelf label FILE` (import labels from a file)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ..exceptions import ConnectorError, LabelfError
from ._utils import ConfigOpt, FormatOpt, check_format, emit_json, info, model_ref, open_project, print_table

if TYPE_CHECKING:
    from ..loop.suggest import SuggestResult

#: ``labelf suggest --strategy`` (strategies.STRATEGIES; listed here so `--help` needs no numpy)
STRATEGIES = ("combined", "uncertainty", "diversity", "rare", "random")


def _mix(mix: dict[str, int], top: int = 6) -> str:
    """``en 40 (80%), de 10 (20%)``; languages under 1% (beyond the ``top`` most frequent) go into "other"."""
    total = sum(mix.values()) or 1
    shown = [(lang, c) for i, (lang, c) in enumerate(mix.items()) if i < top and (c / total >= 0.01 or i == 0)]
    rest = total - sum(c for _, c in shown)
    parts = [f"{lang} {c} ({100 * c / total:.0f}%)" for lang, c in shown]
    return ", ".join(parts + ([f"other {rest}"] if rest and mix else [])) or "none"


def _report(res: "SuggestResult") -> None:
    model = f"model {res.model_id} v{res.model_version}" if res.model_id is not None else "no model"
    info(f"batch {res.batch_id}: {len(res.items)} suggestions ({res.strategy}, {model}, seed {res.seed}) from "
         f"{res.pool_size} candidates; {res.labeled} labeled, {res.pending} pending elsewhere"
         + (f", {res.expired} expired suggestions returned to the pool" if res.expired else ""))
    if res.scored < res.pool_size:
        info(f"scored a random {res.scored:,} of the {res.pool_size:,} candidates (sampler.max_candidates)")
    info(f"language mix: batch {_mix(res.language_mix)} | pool {_mix(res.pool_languages)}")
    pr = res.progress
    if pr:  # the stop advice of the model that scored the batch (loop/advice.py)
        from ..loop.advice import StopAdvice

        for line in StopAdvice(**{k: v for k, v in pr.items() if k != "advice"}).lines():
            info(line)


def suggest(
    n: Annotated[int | None, typer.Option("--n", "-n", help="How many texts to suggest (default: 25 while fewer "
                                          "than 200 texts are labeled, then 50).")] = None,
    strategy: Annotated[str, typer.Option("--strategy", "-s", help=f"One of: {', '.join(STRATEGIES)}.")] = "combined",
    seed: Annotated[int | None, typer.Option("--seed", help="Random seed (same pool + seed = same batch).")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Also write the batch as JSONL or CSV.")] = None,
    model: Annotated[str | None, typer.Option("--model", "-m", help="Model ID or ID@VERSION (default: active).")
                     ] = None,
    push: Annotated[bool, typer.Option("--push", help="Push the batch to the Label Studio project.")] = False,
    config: ConfigOpt = None,
    fmt: FormatOpt = "table",
) -> None:
    """Suggest which texts to label next, and record them as a pending batch.

    Suggested texts are not suggested again until they are labeled or expire (sampler.pending_expiry_days).

    \b
    Examples:
      labelf suggest
      labelf suggest --n 100 --strategy diversity --seed 1 --output batch.csv
      labelf suggest --n 50 --push
    """
    from ..io_utils import write_records
    from ..loop.suggest import suggest as run_suggest

    check_format(fmt)
    if strategy not in STRATEGIES:
        raise typer.BadParameter(f"--strategy must be one of {', '.join(STRATEGIES)}, not {strategy!r}")
    if n is not None and n < 1:
        raise typer.BadParameter(f"--n must be at least 1, not {n}")
    if seed is not None and seed < 0:
        raise typer.BadParameter(f"--seed must be 0 or more, not {seed}")
    model_id, version = model_ref(model) if model else (None, None)
    with open_project(config) as project:
        res = run_suggest(project, n=n, strategy=strategy, seed=seed, model_id=model_id, model_version=version)
        records = [it.to_record(res.batch_id) for it in res.items]
        if output is not None:
            write_records(output, records)
            info(f"wrote {len(records)} suggestions to {output} (fill in 'label', then `labelf label {output}`)")
        if fmt == "json":
            emit_json({"batch_id": res.batch_id, "strategy": res.strategy, "model_id": res.model_id,
                       "model_version": res.model_version, "seed": res.seed, "pool_size": res.pool_size,
                       "scored": res.scored, "language_mix": res.language_mix,
                       "pool_languages": res.pool_languages, "progress": res.progress, "items": [
                           {**r, "reason": it.reason} for r, it in zip(records, res.items)]})
        else:
            print_table(f"batch {res.batch_id}", ["#", "text", "predicted", "confidence", "lang", "reason"], [
                [r["rank"], r["text"][:90], r["predicted"] or "",
                 "" if r["confidence"] is None else f"{r['confidence']:.2f}", r["language"], r["reason"]]
                for r in records])
        _report(res)
        if push:
            from ..connectors import push_batch

            try:
                result = push_batch(project, res.batch_id)
            except (LabelfError, ImportError) as e:
                raise ConnectorError(f"{e} (batch {res.batch_id} is recorded: push it later with "
                                     f"`labelf push --batch {res.batch_id}`)") from None
            info(str(result))


def label(
    file: Annotated[Path, typer.Argument(help="CSV or JSONL with an id and a label column (e.g. from suggest -o).")],
    id_column: Annotated[str, typer.Option(help="Column with the item id.")] = "id",
    label_column: Annotated[str, typer.Option(help="Column with the label(s); several as a|b or a JSON list.")
                            ] = "label",
    annotator: Annotated[str, typer.Option(help="Name recorded as the annotator.")] = "file",
    config: ConfigOpt = None,
) -> None:
    """Import labels from a file (rows with an empty label are skipped).

    \b
    Examples:
      labelf label batch.csv
      labelf label reviewed.jsonl --label-column gold --annotator anna
    """
    from ..data import read_label_records
    from ..loop.labels import import_labels

    records, columns, first_row = read_label_records(file)
    with open_project(config) as project:
        res = import_labels(project, records, where=str(file), annotator=annotator, id_column=id_column,
                            label_column=label_column, first_row=first_row, columns=columns)
    batches = f"; batches {', '.join(map(str, res.batches_touched))} updated" if res.batches_touched else ""
    info(f"recorded {res.written} labels from {file} ({res.skipped_blank} rows without a label skipped){batches}")
