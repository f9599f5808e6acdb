"""One chunk of texts -> one Arrow table of results; the same code in the local engine and in every Ray actor.

Columns, in this order:

============== ========================================================================================
id             the row's id (its id column, else ``t`` + a hash of the text; a document's path)
text           the text classified (left out with ``--no-text``)
label          the top label
confidence     its score, rounded to 4 decimals (what the API returns)
band           ``auto``, ``review`` or ``human`` from the confidence and the model version's thresholds
language       ISO 639-1 code of the text, or ``unknown``
labels         multi-label models only: every label at or above the model's threshold (else the top one)
predictions    with ``--all-scores``, ``--max-predictions`` or ``--label-filter``: labels and scores, best first
model_id       the model
model_version  the registry version that answered
============== ========================================================================================
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pyarrow as pa

    from ..registry.bands import Bands

__all__ = ["OutputOptions", "Scorer"]


@dataclass(frozen=True)
class OutputOptions:
    """What each result row carries besides id, label, confidence, band, language and the model version."""

    all_scores: bool = False
    max_predictions: int | None = None
    label_filter: tuple[str, ...] | None = None
    with_text: bool = True

    @property
    def ranked(self) -> bool:
        return self.all_scores or self.max_predictions is not None or self.label_filter is not None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["label_filter"] = list(self.label_filter) if self.label_filter else None
        return d


class Scorer:
    """Scores chunks with a loaded model version.

    Usage::

        scorer = Scorer(model, model_id=1, version=3, bands=bands, options=OutputOptions())
        table = scorer.score(["a1", "a2"], ["I was charged twice", "router is dead"])
    """

    def __init__(self, model: Any, *, model_id: int, version: int, bands: "Bands", options: OutputOptions) -> None:
        self.model = model
        self.model_id = int(model_id)
        self.version = int(version)
        self.bands = bands
        self.options = options
        self.classes = list(model.classes_ or [])
        self.multi_label = bool(model.multi_label)

    def schema(self) -> "pa.Schema":
        import pyarrow as pa

        fields = [pa.field("id", pa.string())]
        if self.options.with_text:
            fields.append(pa.field("text", pa.string()))
        fields += [pa.field("label", pa.string()), pa.field("confidence", pa.float64()), pa.field("band", pa.string()),
                   pa.field("language", pa.string())]
        if self.multi_label:
            fields.append(pa.field("labels", pa.list_(pa.string())))
        if self.options.ranked:
            fields.append(pa.field("predictions", pa.list_(pa.struct([("label", pa.string()),
                                                                      ("confidence", pa.float64())]))))
        fields += [pa.field("model_id", pa.int64()), pa.field("model_version", pa.int64())]
        return pa.schema(fields)

    def score(self, ids: list[str], texts: list[str]) -> "pa.Table":
        import pyarrow as pa

        from ..embeddings.langid import detect_languages
        from ..predict import choices, rank

        schema = self.schema()
        if not texts:
            return schema.empty_table()
        proba = np.asarray(self.model.predict_proba(texts), dtype=np.float64)
        top = proba.argmax(axis=1)
        conf = [round(float(proba[i, j]), 4) for i, j in enumerate(top)]
        cols: dict[str, Any] = {"id": ids}
        if self.options.with_text:
            cols["text"] = texts
        cols.update(label=[self.classes[j] for j in top], confidence=conf, band=[self.bands.of(c) for c in conf],
                    language=detect_languages(texts))
        if self.multi_label:
            cols["labels"] = [c[0] for c in choices(proba, self.classes, multi_label=True,
                                                    threshold=float(self.model.threshold))]
        if self.options.ranked:
            lf = list(self.options.label_filter) if self.options.label_filter else None
            cols["predictions"] = rank(proba, self.classes, max_predictions=self.options.max_predictions,
                                       label_filter=lf)
        cols["model_id"] = [self.model_id] * len(texts)
        cols["model_version"] = [self.version] * len(texts)
        return pa.table(cols, schema=schema)
