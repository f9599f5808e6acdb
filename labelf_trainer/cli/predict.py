"""`labelf predict`: classify texts from the command line or a file with any registered model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..exceptions import DataError
from ..loop.project import Project
from ..registry.records import parse_model_ref
from ._utils import ConfigOpt, FormatOpt, check_format, emit_json, info, print_table

BATCH = 256


def predict(
    model: Annotated[str, typer.Argument(help="Model id, or ID@VERSION (default: the deployed version).")],
    texts: Annotated[list[str] | None, typer.Argument(help="Texts to classify.")] = None,
    input: Annotated[Path | None, typer.Option("--input", "-i", help="CSV/JSONL/TXT file of texts.")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write JSONL or CSV here.")] = None,
    text_column: Annotated[str, typer.Option(help="Text column of --input.")] = "text",
    id_column: Annotated[str | None, typer.Option(help="Id column of --input.")] = None,
    max_predictions: Annotated[int | None, typer.Option(help="Labels per text (default: all).")] = None,
    label_filter: Annotated[list[str] | None, typer.Option(help="Only these labels (repeat the option).")] = None,
    config: ConfigOpt = None,
    fmt: FormatOpt = "table",
) -> None:
    """Classify texts; labels sorted by confidence.

    Examples:
      labelf predict 1 "I was charged twice this month" --max-predictions 3
      labelf predict 1 --input calls.csv --output predictions.jsonl
    """
    from ..data import read_items
    from ..embeddings.langid import detect_languages
    from ..io_utils import write_records
    from ..predict import check_label_filter, check_texts, rank
    from ..progress import progress_bar

    check_format(fmt)
    if bool(texts) == bool(input):
        raise DataError("give either TEXT arguments or --input FILE (exactly one of them)")
    if input is not None:
        items = read_items(input, text_column=text_column, id_column=id_column, long_texts="error").items
        ids, batch_texts = [it.id for it in items], [it.text for it in items]
        if not batch_texts:
            raise DataError(f"{input}: no non-empty texts to classify")
    else:
        batch_texts, ids = list(texts or []), [str(i) for i in range(len(texts or []))]
        check_texts(batch_texts)
    model_id, version = parse_model_ref(model)
    with Project.open(config) as project:
        rec = project.registry.get(model_id)
        ver = rec.version(version)
        check_label_filter(label_filter, rec.labels)
        clf = project.registry.load(model_id, ver.version)
        bands = project.registry.bands(model_id, ver.version, project.config.thresholds)
        records = []
        with progress_bar(len(batch_texts), "Classifying", enabled=len(batch_texts) > BATCH) as advance:
            for start in range(0, len(batch_texts), BATCH):
                chunk = batch_texts[start:start + BATCH]
                proba = clf.predict_proba(chunk)
                ranked = rank(proba, rec.labels, max_predictions=max_predictions, label_filter=label_filter)
                full = rank(proba, rec.labels, max_predictions=1) if label_filter else ranked
                for j, (text, preds, lang) in enumerate(zip(chunk, ranked, detect_languages(chunk))):
                    top = full[j][0]["confidence"]
                    records.append({"id": ids[start + j], "text": text, "predictions": preds, "text_language": lang,
                                    "band": bands.of(top)})
                advance(len(chunk))
    if output is not None:
        n = write_records(output, records if output.suffix.lower() in {".jsonl", ".json", ".ndjson"} else [
            {"id": r["id"], "text": r["text"], "label": r["predictions"][0]["label"],
             "confidence": r["predictions"][0]["confidence"], "band": r["band"], "text_language": r["text_language"],
             "predictions": r["predictions"]} for r in records])
        info(f"wrote {n} predictions to {output} (model {model_id} v{ver.version})")
    elif fmt == "json":
        emit_json({"model_id": model_id, "version": ver.version, "results": records})
    else:
        print_table(f"model {model_id} v{ver.version}", ["text", "label", "confidence", "band", "lang"], [
            [r["text"][:80], "\n".join(p["label"] for p in r["predictions"]),
             "\n".join(f"{p['confidence']:.3f}" for p in r["predictions"]), r["band"], r["text_language"]]
            for r in records])
