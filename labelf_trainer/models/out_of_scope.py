"""Out of scope ("none of these"): an extra label, e.g. "Other", for texts that fit no defined label.

The detector (measured in ``benchmarks/out_of_scope.py``; research in issue 12) works for every model type:

- **Score.** ``z = (d - mu) / sd`` where ``d`` is the cosine distance of a text's frozen embedding (the project's
  encoder) to the nearest labeled in-scope text, and ``mu``/``sd`` are the mean and spread of the labeled texts'
  leave-one-out distances. Distance to the nearest labeled text beat class means, Mahalanobis, energy and the
  model's max probability, alone and combined.
- **"Other" as a label.** The decision score is ``s = z + lam * -log(p_max)``: the model's own (calibrated)
  confidence counts too. ``P(Other) = q = sigmoid((s - t) / softness)``; single-label scores of the other labels
  are multiplied by ``1 - q`` (rows still sum to 1) and "Other" is the top label exactly when ``s > t`` (below
  ``t``, ``q`` is capped under the top label's share). Multi-label: "Other" is one more independent score; at >= 0.5
  no other label applies. ``softness`` 0.5: with 1, in-scope texts kept ~0.12 of "Other" each and the model's
  confidence fell 9 points under its accuracy on the demo's unlabeled texts (0.5: ECE 0.03).
- **The threshold ``t`` from labeled texts only**: on out-of-fold scores, the loosest ``t`` whose rejected texts
  that were predicted right stay within ``max_accuracy_loss`` of the labeled texts (default 1 point).
- **Annotated "Other" texts** are a second reference: a text closer to one of them than to any in-scope text is
  pushed towards "Other" (weight ``beta``). They never become a class of the model: a head trained on them learns
  only the kinds of out-of-scope it has seen (measured: recall 0.45-0.60 on an unseen kind).

Stored with a model version: JSON parameters plus ``out_of_scope.safetensors`` (at most ``max_reference`` labeled
embeddings per label and the "Other" embeddings, float16).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["OutOfScope", "choose_threshold", "nearest_similarity", "DEFAULT_LAM", "DEFAULT_BETA", "DEFAULT_SOFTNESS",
           "DEFAULT_MAX_ACCURACY_LOSS", "DEFAULT_MAX_REFERENCE", "ARRAYS_FILE"]

#: Weight of the model's -log(p_max) beside the distance z, and the softness of P(Other) (of 0.1-2 on Banking77,
#: 1 is within 0.02 AUROC / 0.03 recall of the best for the head and the zero-shot model, in and out of domain).
DEFAULT_LAM = 1.0
#: Scale of P(Other) around the threshold (in units of the decision score; see the module docstring).
DEFAULT_SOFTNESS = 0.5
#: Weight of "closer to an annotated Other text than to any in-scope text" (of 1, 3, 10 on Banking77).
DEFAULT_BETA = 10.0
#: In-scope accuracy the detector may cost, measured out of fold on the labeled texts.
DEFAULT_MAX_ACCURACY_LOSS = 0.01
#: Labeled texts per label kept as the reference (100 instead of all: -0.02 recall on full Banking77/Bitext).
DEFAULT_MAX_REFERENCE = 100
ARRAYS_FILE = "out_of_scope.safetensors"


def _normalize(X: np.ndarray) -> np.ndarray:
    X = np.asarray(X, dtype=np.float32)
    return X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(z, dtype=np.float64)))


def _neg_log(p: np.ndarray) -> np.ndarray:
    return -np.log(np.clip(np.asarray(p, dtype=np.float64), 1e-12, 1.0))


#: Cold start: pool distances this bimodal (Ashman's D of a two-component mixture) split into in scope and "Other".
BIMODAL_D = 3.0
BIMODAL_MAX_SHARE = 0.4


def _bimodal_split(z: np.ndarray, seed: int = 0) -> float | None:
    """Where a two-component Gaussian mixture of ``z`` hands over to its far component, if the two are well
    separated (D >= :data:`BIMODAL_D`) and the far one is the smaller part; else None."""
    from sklearn.mixture import GaussianMixture

    if len(z) < 50:
        return None
    g = GaussianMixture(2, random_state=seed).fit(z[:, None])
    mean, sd, w = g.means_.ravel(), np.sqrt(g.covariances_.ravel()), g.weights_
    far = int(np.argmax(mean))
    ashman = float(np.sqrt(2) * abs(mean[0] - mean[1]) / np.sqrt(sd[0] ** 2 + sd[1] ** 2))
    if ashman < BIMODAL_D or w[far] > BIMODAL_MAX_SHARE:
        return None
    grid = np.linspace(mean[1 - far], mean[far], 512)
    post = g.predict_proba(grid[:, None])[:, far]
    return float(grid[int(np.argmax(post >= 0.5))])


def nearest_similarity(X: np.ndarray, R: np.ndarray | None, *, exclude_self: bool = False,
                       chunk: int = 2048) -> np.ndarray:
    """Cosine similarity of each row of ``X`` to its nearest row of ``R`` (-1 when ``R`` is empty);
    ``exclude_self``: ``X`` is ``R`` and a row's own match does not count (leave-one-out)."""
    X = _normalize(X)
    if R is None or len(R) == 0:
        return np.full(len(X), -1.0)
    R = _normalize(R)
    out = np.empty(len(X))
    for s in range(0, len(X), chunk):
        S = X[s:s + chunk] @ R.T
        if exclude_self:
            S[np.arange(len(S)), np.arange(s, s + len(S))] = -np.inf
        out[s:s + chunk] = S.max(axis=1)
    return out


def choose_threshold(scores: np.ndarray, credit: np.ndarray, max_accuracy_loss: float) -> float:
    """The loosest threshold (reject ``score > t``) whose rejected credit (per text: 1 if its out-of-fold prediction
    was right, or a share such as a multi-label F1) stays within ``max_accuracy_loss`` of the texts; rejecting a text
    the model gets wrong anyway costs nothing. When not even the most unusual text can be rejected, ``t`` is the
    highest score (only texts beyond every labeled one are rejected)."""
    s = np.asarray(scores, dtype=np.float64)
    order = np.argsort(-s, kind="stable")
    lost = np.cumsum(np.asarray(credit, dtype=np.float64)[order]) / len(s)
    ok = np.flatnonzero(lost <= max_accuracy_loss + 1e-12)
    if len(ok) == 0:
        return float(s[order[0]])
    i = int(ok[-1])
    return float(s[order[i + 1]]) if i + 1 < len(s) else float(s[order[i]]) - 1e-9


@dataclass
class OutOfScope:
    """The detector and the label it answers with (see the module docstring).

    Usage::

        oos = OutOfScope("Other", encoder="minilm").fit(X, y, oof_proba=P_oof, oof_credit=right, X_other=X_o)
        P = oos.augment(X_new, model_proba)        # one more column, "Other", last
    """

    label: str = "Other"
    encoder: str = ""
    encoder_fingerprint: str = ""
    multi_label: bool = False
    lam: float = DEFAULT_LAM
    beta: float = DEFAULT_BETA
    softness: float = DEFAULT_SOFTNESS
    max_accuracy_loss: float = DEFAULT_MAX_ACCURACY_LOSS
    max_reference: int = DEFAULT_MAX_REFERENCE
    seed: int = 0
    reference_: np.ndarray | None = field(default=None, repr=False)
    other_: np.ndarray | None = field(default=None, repr=False)
    mu_: float = 0.0
    sd_: float = 1.0
    threshold_: float | None = None
    uses_model_: bool = True
    info_: dict[str, Any] = field(default_factory=dict)
    oof_z_: np.ndarray | None = field(default=None, repr=False)

    # -- fitting -------------------------------------------------------------------------------------------
    def fit(self, X: np.ndarray, y: Sequence[Any], *, oof_proba: np.ndarray | None = None,
            oof_credit: np.ndarray | None = None, X_other: np.ndarray | None = None,
            rows: np.ndarray | None = None) -> "OutOfScope":
        """Fit on the labeled in-scope texts' frozen embeddings ``X`` (labels ``y`` only cap the reference per label).

        ``oof_proba``: the model's calibrated held-out scores (without them the decision uses the distance alone);
        ``oof_credit``: whether each held-out prediction was right (default: all right, conservative);
        ``X_other``: embeddings of texts annotators labeled with the out-of-scope label; ``rows``: the rows of ``X``
        that ``oof_proba``/``oof_credit`` cover (default: all; a hold-out covers only its part).
        """
        X = _normalize(X)
        keys = np.array(["|".join(sorted(map(str, v))) if not isinstance(v, str) else v for v in y])
        keep = self._reference_rows(keys)
        self.reference_ = X[keep]
        sim = np.empty(len(X))
        sim[keep] = nearest_similarity(self.reference_, self.reference_, exclude_self=True)
        rest = np.setdiff1d(np.arange(len(X)), keep)
        if len(rest):
            sim[rest] = nearest_similarity(X[rest], self.reference_)
        d = 1.0 - sim
        self.mu_, self.sd_ = float(d.mean()), float(d.std() + 1e-12)
        self.other_ = _normalize(X_other) if X_other is not None and len(X_other) else None
        self.uses_model_ = oof_proba is not None
        rows = np.arange(len(X)) if rows is None else np.asarray(rows, dtype=np.int64)
        nlp = _neg_log(np.asarray(oof_proba).max(axis=1)) if oof_proba is not None else np.zeros(len(rows))
        credit = np.ones(len(rows)) if oof_credit is None else np.asarray(oof_credit, dtype=np.float64)
        z = self._z(1.0 - sim, sim, nearest_similarity(X, self.other_) if self.other_ is not None else None)
        self.oof_z_ = z[rows]
        score = self.oof_z_ + self.lam * nlp
        self.threshold_ = choose_threshold(score, credit, self.max_accuracy_loss)
        rejected = score > self.threshold_
        self.info_ = {"n_labeled": int(len(X)), "n_heldout": int(len(rows)), "n_reference": int(len(self.reference_)),
                      "n_other": 0 if self.other_ is None else int(len(self.other_)),
                      "oof_reject_rate": round(float(rejected.mean()), 4),
                      "oof_accuracy_loss": round(float(credit[rejected].sum() / len(rows)), 4)}
        return self

    def oof_z_other(self, X_other: np.ndarray) -> np.ndarray:
        """Held-out distances of the annotated "Other" texts themselves (each one's own match left out)."""
        s_in = nearest_similarity(X_other, self.reference_)
        s_other = nearest_similarity(X_other, self.other_, exclude_self=True) if self.other_ is not None else None
        return self._z(1.0 - s_in, s_in, s_other)

    def fit_unlabeled(self, prototypes: np.ndarray, pool: np.ndarray, reject_share: float = 0.02) -> "OutOfScope":
        """Before any label: the reference is the label descriptions' embeddings and ``mu``/``sd`` come from the
        pool's distances to them (the pool is the traffic). When those distances are clearly bimodal (two-component
        mixture, Ashman's D >= :data:`BIMODAL_D`, far part at most :data:`BIMODAL_MAX_SHARE` of the pool), the far
        mode is "Other"; else the ``reject_share`` most distant pool texts are."""
        self.reference_ = _normalize(prototypes)
        d = 1.0 - nearest_similarity(pool, self.reference_)
        self.mu_, self.sd_ = float(d.mean()), float(d.std() + 1e-12)
        self.uses_model_ = False
        z = (d - self.mu_) / self.sd_
        split = _bimodal_split(z, self.seed)
        self.threshold_ = split if split is not None else float(np.quantile(z, 1.0 - reject_share))
        self.info_ = {"n_labeled": 0, "n_reference": int(len(self.reference_)), "n_other": 0,
                      "pool": int(len(pool)), "rule": "bimodal" if split is not None else "quantile",
                      "pool_reject_share": round(float((z > self.threshold_).mean()), 4)}
        return self

    def _reference_rows(self, keys: np.ndarray) -> np.ndarray:
        rng = np.random.default_rng(self.seed)
        return np.sort(np.concatenate([rng.permutation(np.flatnonzero(keys == k))[:self.max_reference]
                                       for k in np.unique(keys)]))

    def _z(self, d: np.ndarray, s_in: np.ndarray, s_other: np.ndarray | None) -> np.ndarray:
        z = (d - self.mu_) / self.sd_
        if s_other is None:
            return z
        return z + self.beta * np.maximum(0.0, (s_other - s_in) / self.sd_)

    # -- scoring -------------------------------------------------------------------------------------------
    def z_score(self, X: np.ndarray) -> np.ndarray:
        """How far out of scope each text is (higher = further), the annotated "Other" texts included."""
        s_in = nearest_similarity(X, self.reference_)
        return self._z(1.0 - s_in, s_in, nearest_similarity(X, self.other_) if self.other_ is not None else None)

    def augment(self, X: np.ndarray, proba: np.ndarray) -> np.ndarray:
        """The model's scores with the out-of-scope label's column appended (last)."""
        return self.augment_z(self.z_score(X), proba)

    def augment_z(self, z: np.ndarray, proba: np.ndarray) -> np.ndarray:
        assert self.threshold_ is not None
        proba = np.asarray(proba, dtype=np.float64)
        pm = proba.max(axis=1) if proba.shape[1] else np.ones(len(z))
        score = z + self.lam * _neg_log(pm) if self.uses_model_ else np.asarray(z, dtype=np.float64)
        q = _sigmoid((score - self.threshold_) / self.softness)
        if self.multi_label:
            return np.hstack([proba, q[:, None]])
        # "Other" is the top label exactly when score > t: below it, q stays under the top label's share
        q = np.where(score > self.threshold_, q, np.minimum(q, 0.99 * pm / (1.0 + 0.99 * pm)))
        return np.hstack([proba * (1.0 - q[:, None]), q[:, None]])

    def oof_augment(self, oof_proba: np.ndarray) -> np.ndarray:
        """:meth:`augment` for the labeled texts of the last :meth:`fit`, with their out-of-fold distances."""
        assert self.oof_z_ is not None
        return self.augment_z(self.oof_z_, oof_proba)

    # -- persistence ---------------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {"label": self.label, "encoder": self.encoder, "encoder_fingerprint": self.encoder_fingerprint,
                "multi_label": self.multi_label, "lam": self.lam, "beta": self.beta, "softness": self.softness,
                "max_accuracy_loss": self.max_accuracy_loss, "mu": self.mu_, "sd": self.sd_,
                "threshold": self.threshold_, "uses_model": self.uses_model_, "info": self.info_}

    def save_arrays(self, path: Path) -> None:
        from safetensors.numpy import save_file

        arrays = {"reference": np.ascontiguousarray(self.reference_, dtype=np.float16)}
        if self.other_ is not None:
            arrays["other"] = np.ascontiguousarray(self.other_, dtype=np.float16)
        save_file(arrays, str(path / ARRAYS_FILE))

    @classmethod
    def load(cls, path: Path, d: dict[str, Any]) -> "OutOfScope":
        from safetensors.numpy import load_file

        arrays = load_file(str(path / ARRAYS_FILE))
        oos = cls(label=d["label"], encoder=d.get("encoder", ""), encoder_fingerprint=d.get("encoder_fingerprint", ""),
                  multi_label=bool(d.get("multi_label")), lam=d["lam"], beta=d.get("beta", DEFAULT_BETA),
                  softness=d.get("softness", DEFAULT_SOFTNESS),
                  max_accuracy_loss=d["max_accuracy_loss"])
        oos.mu_, oos.sd_, oos.threshold_ = d["mu"], d["sd"], d["threshold"]
        oos.uses_model_, oos.info_ = bool(d.get("uses_model", True)), d.get("info", {})
        oos.reference_ = arrays["reference"].astype(np.float32)
        oos.other_ = arrays["other"].astype(np.float32) if "other" in arrays else None
        return oos
