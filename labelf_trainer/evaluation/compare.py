"""Two model versions side by side: headline numbers and per-class precision/recall/F1 with deltas (B - A)."""

from __future__ import annotations

from typing import Any

__all__ = ["compare_metrics"]


def _d(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else round(b - a, 4)


def compare_metrics(a: dict[str, Any], b: dict[str, Any], *, name_a: str = "A", name_b: str = "B") -> dict[str, Any]:
    """Compare two metrics dicts. Per-class rows cover the union of labels, sorted by F1 change (worst first).

    ``same_evaluation`` is False when the two were measured on different evaluation sets (different method or
    size): their numbers are then only roughly comparable, and the caller should say so.
    """
    ev_a, ev_b = a.get("evaluation") or {}, b.get("evaluation") or {}
    same = (ev_a.get("method"), a.get("n_eval")) == (ev_b.get("method"), b.get("n_eval"))
    headline = {k: {name_a: a.get(k), name_b: b.get(k), "delta": _d(a.get(k), b.get(k))}
                for k in ("accuracy", "f1_macro")}
    pa, pb = a.get("per_class") or {}, b.get("per_class") or {}
    rows = []
    for lab in list(dict.fromkeys([*pa, *pb])):
        ma, mb = pa.get(lab, {}), pb.get(lab, {})
        row: dict[str, Any] = {"label": lab, "support": mb.get("support", ma.get("support"))}
        for k in ("precision", "recall", "f1"):
            row[f"{k}_{name_a}"], row[f"{k}_{name_b}"] = ma.get(k), mb.get(k)
            row[f"{k}_delta"] = _d(ma.get(k), mb.get(k))
        rows.append(row)
    rows.sort(key=lambda r: (r["f1_delta"] if r["f1_delta"] is not None else 0.0, r["label"]))
    improved = sum(1 for r in rows if (r["f1_delta"] or 0) > 0)
    worse = sum(1 for r in rows if (r["f1_delta"] or 0) < 0)
    return {"a": name_a, "b": name_b, "same_evaluation": same, "evaluation": {name_a: ev_a.get("description"),
                                                                               name_b: ev_b.get("description")},
            "headline": headline, "per_class": rows, "improved": improved, "worse": worse}
