"""Whether the next batch is worth labeling: the advice `labelf status` and `labelf suggest` show.

Four inputs, all recorded with the model's versions (nothing is retrained or rescored here):

* the estimated accuracy now, with its interval and how it was obtained (``metrics["accuracy"]``,
  ``accuracy_interval``, ``accuracy_method``: the estimate on the traffic of :mod:`.trust`, else the held-out
  figure);
* the expected gain of the next batch, from the learning curve of the model's past versions: accuracy against
  log(labels), fitted by least squares over the last :data:`CURVE_POINTS` versions, read at the labels after the
  next batch (:func:`expected_gain`);
* the labels that still limit it: lowest held-out F1 (under :data:`~.stopping.WEAK_F1`);
* stabilising predictions (:mod:`.stopping`): Cohen's kappa between this version's and the previous version's
  predictions on a fixed pool sample.

The recommendation is "stop" when the predictions have stabilised (kappa >= :data:`~.stopping.STOP_KAPPA`, the
measured rule); otherwise "keep labeling", naming the weakest labels. The expected gain is shown, never used to
stop (measured: it stopped too early on some datasets). Usage::

    adv = stop_advice(project)            # the active model's current version
    adv.to_dict()["recommendation"], "\\n".join(adv.lines())
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .stopping import STOP_KAPPA, WEAK_F1

if TYPE_CHECKING:
    from ..registry.records import VersionRecord
    from .project import Project

__all__ = ["StopAdvice", "stop_advice", "status_advice", "advice_for_versions", "expected_gain", "CURVE_POINTS",
           "DEFAULT_BATCH"]

#: Versions of the learning curve used for the expected gain (the most recent ones).
CURVE_POINTS = 5
#: Batch size assumed when the model has only one version (``labelf suggest``'s default).
DEFAULT_BATCH = 50
#: Labels named as limiting the model.
SHOWN_WEAK = 3


@dataclass
class StopAdvice:
    """The advice for one model version (see the module doc); ``to_dict()`` for JSON, ``lines()`` for a terminal."""

    labels: int
    accuracy: float | None = None
    accuracy_interval: list[float] | None = None
    accuracy_method: str | None = None
    expected_gain: float | None = None
    next_batch: int = DEFAULT_BATCH
    gain_basis: str = ""
    weakest_labels: list[dict[str, Any]] = field(default_factory=list)
    kappa: float | None = None
    stop: bool = False
    recommendation: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def lines(self) -> list[str]:
        """Plain lines for `labelf status`: accuracy, expected gain, weakest labels, recommendation."""
        out = []
        if self.accuracy is not None:
            iv = self.accuracy_interval
            out.append(f"estimated accuracy: {self.accuracy:.1%}"
                       + (f" ({iv[0]:.1%} - {iv[1]:.1%})" if iv else "")
                       + (f", {self.accuracy_method}" if self.accuracy_method else ""))
        if self.expected_gain is not None:
            out.append(f"expected gain of the next {self.next_batch} labels: +{100 * self.expected_gain:.1f} points "
                       f"({self.gain_basis})")
        if self.weakest_labels:
            out.append("labels that limit it (held-out F1): "
                       + ", ".join(f"{w['label']} {w['f1']:.2f}" for w in self.weakest_labels))
        if self.kappa is not None:
            out.append(f"agreement with the previous version: kappa {self.kappa:.3f} (stop at {STOP_KAPPA})")
        out.append(f"recommendation: {self.recommendation}")
        return out


def expected_gain(points: list[tuple[int, float]], batch: int) -> float | None:
    """Accuracy gained by ``batch`` more labels on the learning curve ``points`` ((labels, accuracy) per version,
    oldest first): least squares of accuracy on log(labels) over the last :data:`CURVE_POINTS` distinct label counts,
    evaluated from the last point; at least 0 and at most the accuracy still missing. None with fewer than 2."""
    by_n: dict[int, float] = {}
    for n, acc in points:
        if n > 0 and acc is not None:
            by_n[int(n)] = float(acc)
    ns = sorted(by_n)[-CURVE_POINTS:]
    if len(ns) < 2 or batch <= 0:
        return None
    x = np.log(np.asarray(ns, dtype=np.float64))
    a = np.asarray([by_n[n] for n in ns])
    slope = float(np.polyfit(x, a, 1)[0])
    gain = slope * float(np.log((ns[-1] + batch) / ns[-1]))
    return round(float(np.clip(gain, 0.0, 1.0 - a[-1])), 4)


def _weakest(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    per = metrics.get("per_class") or {}
    rows = sorted(((lab, m) for lab, m in per.items() if isinstance(m, dict) and m.get("f1") is not None),
                  key=lambda kv: kv[1]["f1"])
    return [{"label": lab, "f1": round(float(m["f1"]), 3), "support": m.get("support")}
            for lab, m in rows if m["f1"] < WEAK_F1][:SHOWN_WEAK]


def advice_for_versions(versions: list["VersionRecord"], next_batch: int | None = None) -> StopAdvice:
    """The advice for the last of ``versions`` (one model's versions, oldest first), from their recorded metrics."""
    cur = versions[-1]
    m = cur.metrics or {}
    stop_info = m.get("stopping") or {}
    if next_batch is None:
        sizes = [b.training_examples - a.training_examples for a, b in zip(versions, versions[1:])
                 if b.training_examples > a.training_examples]
        next_batch = sizes[-1] if sizes else DEFAULT_BATCH
    points = [(v.training_examples, (v.metrics or {}).get("accuracy")) for v in versions]
    gain = expected_gain(points, next_batch)
    used = len([p for p in points if p[1] is not None][-CURVE_POINTS:])
    adv = StopAdvice(labels=cur.training_examples, accuracy=m.get("accuracy"),
                     accuracy_interval=m.get("accuracy_interval"), accuracy_method=m.get("accuracy_method"),
                     expected_gain=gain, next_batch=int(next_batch),
                     gain_basis=(f"learning curve of the last {used} versions" if gain is not None
                                 else "needs two trained versions"),
                     weakest_labels=_weakest(m), kappa=stop_info.get("kappa"), stop=bool(stop_info.get("stop")))
    weak = ", ".join(w["label"] for w in adv.weakest_labels)
    if adv.stop:
        adv.recommendation = ("stop: predictions have stabilised (kappa "
                              f"{adv.kappa:.2f} >= {STOP_KAPPA}); more labels are unlikely to move accuracy by more "
                              "than about a point" + (f"; if you go on, label {weak}" if weak else ""))
    elif adv.kappa is None:
        adv.recommendation = ("keep labeling: the stop advice compares two trained rounds"
                              + (f"; focus on {weak}" if weak else ""))
    else:
        adv.recommendation = (f"keep labeling (predictions still change: kappa {adv.kappa:.2f} < {STOP_KAPPA})"
                              + (f"; focus on {weak}" if weak else ""))
    return adv


def stop_advice(project: "Project", model_id: int | None = None, version: int | None = None,
                next_batch: int | None = None) -> StopAdvice | None:
    """The advice for ``model_id`` (default: the active model) at ``version`` (default: its current one); None
    when there is no trained model (a zero-shot model has no learning curve)."""
    reg = project.registry
    model_id = reg.active_model_id() if model_id is None else model_id
    if model_id is None:
        return None
    rec = reg.get(model_id)
    if not rec.versions:
        return None
    cur = rec.version(version)
    versions = [v for v in rec.versions if v.version <= cur.version]
    if not (cur.metrics or {}).get("evaluation"):  # not trained on labels (zero-shot): nothing to advise
        return None
    return advice_for_versions(versions, next_batch)


def status_advice(project: "Project") -> tuple[dict[str, Any], list[str]]:
    """For `labelf status`: (the active model's advice as JSON fields, the lines to print); empty without a trained
    active model. ``advice`` repeats the recommendation (the field's earlier name)."""
    adv = stop_advice(project)
    if adv is None:
        return {}, []
    return {**adv.to_dict(), "advice": adv.recommendation}, adv.lines()
