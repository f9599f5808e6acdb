"""The demo's batch step: the Nordtel message pool scored by the deployed model as a streamed, resumable batch job
(``labelf predict MODEL --input FILE --output predictions.parquet``), the way a contact center scores a day of
interactions overnight. Called by :func:`labelf_trainer.demo.main` once the model is trained and deployed.
"""

from __future__ import annotations

import csv
import json
from collections import Counter

from . import demo

BANDS = ("auto", "review", "human")


def batch_job(model_ref: str) -> str:
    """Run the step (the command printed as it runs); returns the demo summary's line."""
    import pyarrow.parquet as pq

    demo.console.rule("Batch: score the whole message pool as a streamed job")
    pool = demo.OUT / "messages.csv"  # the pool as a contact center exports it: ids and texts, no labels
    with demo.EXAMPLE.open(encoding="utf-8", newline="") as src, pool.open("w", encoding="utf-8", newline="") as dst:
        w = csv.writer(dst)
        w.writerow(["id", "text"])
        w.writerows([r["id"], r["text"]] for r in csv.DictReader(src))
    out = demo.OUT / "predictions.parquet"
    report = json.loads(demo.labelf("predict", model_ref, "--input", pool.name, "--id-column", "id",
                                    "--output", out.name, "--format", "json", echo=False))
    table = pq.read_table(out, columns=["id", "label", "confidence", "band"])
    bands = Counter(table.column("band").to_pylist())
    labels = Counter(table.column("label").to_pylist()).most_common(3)
    band_text = ", ".join(f"{b} {bands.get(b, 0)}" for b in BANDS)
    demo.console.print(f"{report['rows']:,} rows in {out.name} (id, text, label, confidence, band, language, "
                       f"model version) at {report['texts_per_s']:,.0f} texts/s on {report['runtime']['runtime']}; "
                       f"bands: {band_text}")
    demo.console.print("most frequent labels: " + ", ".join(f"{name} {n}" for name, n in labels))
    return (f"batch job: {report['rows']:,} messages scored by model {report['model_id']} v{report['version']} at "
            f"{report['texts_per_s']:,.0f} texts/s into {out.name}; bands {band_text}")
