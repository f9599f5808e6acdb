"""`labelf review`, `labelf agreement`, `labelf rules`, `labelf discover`: label quality and new labels
(:mod:`labelf_trainer.quality`). cleanlab and scikit-learn load inside the commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._utils import ConfigOpt, FormatOpt, check_format, emit_json, info, open_project, print_table


def _pct(x: float | None) -> str:
    return "" if x is None else f"{x:.0%}"


def _num(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def review(
    limit: Annotated[int, typer.Option("--limit", "-n", help="Show at most this many suspects (most suspect first).")
                     ] = 50,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Write every suspect to a CSV or JSONL file with the current label in 'label': "
                               "correct it there, then `labelf label FILE --annotator NAME`.")] = None,
    push: Annotated[bool, typer.Option(
        "--push", help="Send every suspect to the labeling tool (labeling.connector) as a review task with the "
                       "current label pre-filled; corrections come back with `labelf pull`. A label already sent "
                       "for review is not sent again.")] = False,
    config: ConfigOpt = None,
    fmt: FormatOpt = "table",
) -> None:
    """List labels the model contradicts: cleanlab's confident learning on out-of-fold scores of an embedding head.

    Each suspect shows the given label, the model's label and a label quality score (the out-of-fold probability
    of the given label: lower is more suspect). Nothing is changed: corrections are new labels (the newest wins,
    the history stays).

    \b
    Examples:
      labelf review
      labelf review --output review.csv     # fix the 'label' column, then: labelf label review.csv --annotator anna
      labelf review --push                  # review tasks in Label Studio; then: labelf pull
      labelf review --format json
    """
    from ..io_utils import write_records
    from ..quality.review import push_review
    from ..quality.review import review as run_review

    check_format(fmt)
    if limit < 1:
        raise typer.BadParameter(f"--limit must be at least 1, not {limit}")
    pushed = None
    with open_project(config) as project:
        res = run_review(project, progress=fmt == "table")
        if push:
            pushed = push_review(project, res.suspects)
    if output is not None:
        write_records(output, [{"id": s.item_id, "text": s.text, "given": "|".join(s.given),
                                "suggested": "|".join(s.suggested), "score": round(s.score, 4),
                                "label": "|".join(s.given)} for s in res.suspects],
                      columns=["id", "text", "given", "suggested", "score", "label"])
        info(f"wrote {len(res.suspects)} suspects to {output} (correct 'label', then `labelf label {output} "
             "--annotator NAME`)")
    shown = res.suspects[:limit]
    if pushed is not None:
        info(f"{pushed} (corrections come back with `labelf pull`)")
    if fmt == "json":
        emit_json({**res.summary(), "suspects": [s.to_dict() for s in shown],
                   **({"pushed": pushed.to_dict()} if pushed is not None else {})})
    else:
        print_table(f"{res.flagged} suspect label(s) of {res.reviewed}", ["#", "id", "given", "model", "score", "text"],
                    [[i, s.item_id, "|".join(s.given), "|".join(s.suggested), f"{s.score:.3f}", s.text[:90]]
                     for i, s in enumerate(shown, 1)])
    skipped = f"; not reviewed (fewer than 2 texts): {', '.join(res.not_reviewed)}" if res.not_reviewed else ""
    info(f"reviewed {res.reviewed} labels: {res.flagged} suspect ({res.summary()['flagged_share']:.1%})"
         + (f", {len(shown)} shown" if len(shown) < res.flagged else "") + skipped)


def agreement(
    file: Annotated[Path | None, typer.Argument(
        help="Optional: a CSV or JSONL file of labels with an annotator column, recorded first.")] = None,
    annotator_column: Annotated[str, typer.Option(help="FILE's column naming the annotator.")] = "annotator",
    id_column: Annotated[str, typer.Option(help="FILE's column with the item id.")] = "id",
    label_column: Annotated[str, typer.Option(help="FILE's column with the label(s).")] = "label",
    limit: Annotated[int, typer.Option("--limit", "-n", help="Show at most this many disputed texts.")] = 20,
    config: ConfigOpt = None,
    fmt: FormatOpt = "table",
) -> None:
    """Annotator agreement on texts two or more annotators labeled: Krippendorff's alpha overall and per label,
    Fleiss' and Cohen's kappa, each annotator against the consensus (cleanlab), and the disputed texts.

    \b
    Examples:
      labelf agreement
      labelf agreement votes.csv --annotator-column annotator    # record the file's labels first
    """
    from ..quality.agreement import agreement as run_agreement
    from ..quality.agreement import import_votes

    check_format(fmt)
    if limit < 0:
        raise typer.BadParameter(f"--limit must be 0 or more, not {limit}")
    with open_project(config) as project:
        if file is not None:
            from ..data import read_label_records

            records, columns, first = read_label_records(file)
            done = import_votes(project, records, where=str(file), annotator_column=annotator_column,
                                id_column=id_column, label_column=label_column, first_row=first, columns=columns)
            info(f"recorded {sum(d.written for d in done)} labels from {len(done)} annotator(s) in {file}")
        res = run_agreement(project, progress=fmt == "table")
    d = res.to_dict()
    d["disputed_total"] = len(res.disputed)
    d["disputed"] = d["disputed"][:limit]
    if fmt == "json":
        emit_json(d)
        return
    print_table(f"agreement on {res.texts} text(s) with 2+ annotators", ["figure", "value"], [
        ["Krippendorff's alpha", _num(res.alpha)], ["Fleiss' kappa", _num(res.fleiss_kappa)],
        ["annotators", ", ".join(res.annotators)], ["disputed texts", len(res.disputed)],
        ["consensus", res.consensus_method]])
    print_table("per label", ["label", "texts", "disputed", "alpha"],
                [[lab, v["texts"], v["disputed"], _num(v["alpha"])] for lab, v in res.per_label.items()])
    print_table("annotators against the consensus",
                ["annotator", "shared texts", "agreement", "quality", "worst label"],
                [[s["annotator"], s["texts"], _pct(s["agreement_with_consensus"]), _num(s["quality"]),
                  s.get("worst_label", "")] for s in res.annotator_stats])
    if res.pairs:
        print_table("pairs", ["a", "b", "texts", "agreement", "Cohen's kappa"],
                    [[p["a"], p["b"], p["texts"], _pct(p["agreement"]), _num(p["cohen_kappa"])] for p in res.pairs])
    if d["disputed"]:
        print_table("disputed texts (least certain consensus first)", ["id", "votes", "consensus", "text"],
                    [[x["item_id"], "; ".join(f"{a}: {'|'.join(v)}" for a, v in x["votes"].items()),
                      "|".join(x["consensus"]) + (" (conflict)" if x["in_conflict"] else ""), x["text"][:70]]
                     for x in d["disputed"]])
    for note in res.notes:
        info(note)


def rules(config: ConfigOpt = None, fmt: FormatOpt = "table") -> None:
    """Each rule of the config's `rules:` block: texts it marks in the pool, and its precision on labeled texts.

    Rules only mark texts (for the cold start and the rare-label search); they never overwrite a human label.

    \b
    Example:
      labelf rules
    """
    from ..exceptions import ConfigError
    from ..quality.rules import rule_report

    check_format(fmt)
    with open_project(config) as project:
        if not project.config.rules:
            raise ConfigError(f"{project.config.source_path}: no rules: add a `rules:` block (per label, phrases "
                              "and/or patterns; see docs/quality.md)")
        rep = rule_report(project)
    if fmt == "json":
        emit_json(rep.to_dict())
        return
    rows = []
    for agg in rep.per_label:
        for r in [x for x in rep.rules if x.label == agg.label] + [agg]:
            rows.append([r.label, r.rule, f"{r.pool_hits} ({r.coverage:.1%})", r.unlabeled_hits,
                         "no labeled hit" if r.precision is None
                         else f"{r.precision:.0%} ({r.correct}/{r.labeled_hits})"])
    print_table(f"rules on {rep.pool} texts ({rep.labeled} labeled)",
                ["label", "rule", "pool hits", "unlabeled", "precision on labeled"], rows)
    if rep.conflicts:
        info(f"{rep.conflicts} text(s) are marked by rules of two or more labels")


def discover(
    clusters: Annotated[int | None, typer.Option("--clusters", "-k", help="Number of clusters (default: chosen by "
                                                                          "silhouette).")] = None,
    max_clusters: Annotated[int, typer.Option(help="Most clusters tried when --clusters is not given.")] = 150,
    min_size: Annotated[int, typer.Option(help="Smaller clusters are left out as noise.")] = 3,
    examples: Annotated[int, typer.Option(help="Representative texts shown per cluster.")] = 3,
    pool: Annotated[bool, typer.Option("--pool", help="Cluster the whole unlabeled pool, even with an out-of-scope "
                                                      "label.")] = False,
    config: ConfigOpt = None,
    fmt: FormatOpt = "table",
) -> None:
    """Cluster the texts that fit no label: the out-of-scope ones (labeled so, or answered so by the active model)
    when the config has an out-of-scope label, else the unlabeled pool. Each cluster: size, distinctive words,
    representative texts, a suggested name and description.

    \b
    Examples:
      labelf discover
      labelf discover --clusters 8 --format json
    """
    from ..quality.discover import discover as run_discover

    check_format(fmt)
    for name, v, low in (("--max-clusters", max_clusters, 2), ("--min-size", min_size, 1), ("--examples", examples, 0)):
        if v < low:
            raise typer.BadParameter(f"{name} must be at least {low}, not {v}")
    with open_project(config) as project:
        res = run_discover(project, k=clusters, max_k=max_clusters, min_size=min_size, examples=examples,
                           source="pool" if pool else "auto", progress=fmt == "table")
    if fmt == "json":
        emit_json(res.to_dict())
        return
    print_table(f"{len(res.clusters)} cluster(s) of {res.texts} texts: {res.source}",
                ["#", "size", "cohesion", "suggested name", "distinctive words", "representative texts"],
                [[c.id, c.size, f"{c.cohesion:.2f}", c.name, ", ".join(c.terms[:6]),
                  " | ".join(r["text"][:60] for r in c.representatives)] for c in res.clusters])
    info(f"k = {res.k}; {res.noise} text(s) in clusters under {min_size} left out")
