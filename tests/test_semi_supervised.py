"""Learning from the unlabeled pool (loop/semi_supervised.py): the pseudo-labellers on clustered embeddings, and
`train_and_register` with pool learning on a real project (SQLite workspace, the "static" encoder)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.data import annotate_all

from labelf_trainer.exceptions import ModelError
from labelf_trainer.loop.project import Project
from labelf_trainer.loop.semi_supervised import (fit_with_pool, knn_graph, pool_method, propagate,
                                                 self_training_pseudo_labels)
from labelf_trainer.loop.trainer import train_and_register
from labelf_trainer.models.embedding_head import EmbeddingHeadClassifier


def _clusters(n_per: int, seed: int, dim: int = 16, spread: float = 0.55) -> tuple[np.ndarray, np.ndarray]:
    """Three noisy clusters on the unit sphere (rows L2-normalised), with their cluster index."""
    rng = np.random.default_rng(seed)
    centres = np.eye(dim)[:3]
    X = np.vstack([c + spread * rng.normal(size=(n_per, dim)) for c in centres])
    y = np.repeat(np.arange(3), n_per)
    return (X / np.linalg.norm(X, axis=1, keepdims=True)).astype(np.float32), y


def test_knn_graph_never_lists_a_row_as_its_own_neighbour() -> None:
    X, _ = _clusters(20, 0)
    idx, sim = knn_graph(X, k=5, chunk=7)  # chunks that do not divide N
    assert idx.shape == sim.shape == (60, 5)
    assert not (idx == np.arange(60)[:, None]).any()
    assert np.allclose(np.sort(sim, axis=1)[:, -1], [np.max(np.delete(X @ X[i], i)) for i in range(60)], atol=1e-5)


def test_propagation_carries_one_label_per_cluster_to_the_whole_cluster() -> None:
    X, y = _clusters(40, 1, spread=0.25)  # 94% of the 8 nearest neighbours share the cluster
    seeds = np.array([0, 40, 80])  # one labeled row per cluster
    F = propagate(X, seeds, y[seeds], 3, k=8)
    assert np.allclose(F.sum(axis=1), 1.0)
    assert (F.argmax(axis=1) == y).mean() >= 0.9


def test_self_training_pseudo_labels_are_class_balanced_and_weighted_by_confidence() -> None:
    proba = np.array([[0.9, 0.1], [0.8, 0.2], [0.7, 0.3], [0.6, 0.4], [0.45, 0.55], [0.2, 0.8]])
    rows, cls, w = self_training_pseudo_labels(proba, prior=np.array([0.5, 0.5]), fraction=2 / 3)
    assert sorted(zip(rows.tolist(), cls.tolist())) == [(0, 0), (1, 0), (4, 1), (5, 1)]  # 2 per label
    assert np.allclose(w, proba[rows, cls])


def test_pool_pseudo_labels_lift_a_head_trained_on_few_labels() -> None:
    X, y = _clusters(300, 2, spread=0.9)
    Xt, yt = _clusters(200, 3, spread=0.9)
    names = ["a", "b", "c"]
    lab = np.array([0, 1, 300, 301, 600, 601])
    pool = np.setdiff1d(np.arange(len(y)), lab)
    plain = EmbeddingHeadClassifier(labels=names, encoder="static").fit_embeddings(X[lab], [names[i] for i in y[lab]])
    acc_plain = (plain.predict_proba_embeddings(Xt).argmax(1) == yt).mean()
    for method in ("self", "propagation"):
        head = EmbeddingHeadClassifier(labels=names, encoder="static")
        info = fit_with_pool(head, X[lab], [names[i] for i in y[lab]], X[pool], method=method, seed=0)
        assert info["method"] == method and info["pseudo_labels"] > 100
        assert info["pseudo_weight"] <= 3.0 * len(lab) + 1e-6  # at most 3x the labels in total
        acc = (head.predict_proba_embeddings(Xt).argmax(1) == yt).mean()
        assert acc >= acc_plain, (method, acc, acc_plain)


def test_multi_label_heads_and_empty_pools_train_on_labels_alone() -> None:
    X, y = _clusters(10, 4)
    head = EmbeddingHeadClassifier(labels=["a", "b", "c"], encoder="static", multi_label=True)
    info = fit_with_pool(head, X, [("abc"[i],) for i in y], X[:5], method="self")
    assert info["pseudo_labels"] == 0 and head.classes_ == ["a", "b", "c"]
    single = EmbeddingHeadClassifier(labels=["a", "b", "c"], encoder="static")
    assert fit_with_pool(single, X, ["abc"[i] for i in y], X[:0], method="self")["pseudo_labels"] == 0


def test_pool_method_resolves_auto_and_names_why_it_cannot_run() -> None:
    assert pool_method(None, frozen=True, multi_label=False) == ("auto", None)
    assert pool_method("auto", frozen=True, multi_label=True) == ("off", "not for multi-label models")
    assert pool_method("auto", frozen=False, multi_label=False)[0] == "off"
    assert pool_method("off", frozen=True, multi_label=False) == ("off", "off")
    with pytest.raises(ModelError, match="not for multi-label models"):
        pool_method("propagation", frozen=True, multi_label=True)
    with pytest.raises(ModelError, match="must be auto, off, self, propagation"):
        pool_method("sometimes", frozen=True, multi_label=False)


def test_training_with_every_text_labeled_has_nothing_to_pseudo_label(tmp_project: Project) -> None:
    gold = {it.id: it for it in tmp_project.ws.items.all()}
    annotate_all(tmp_project)
    labeled = set(tmp_project.ws.annotations.labeled())
    assert labeled == set(gold)  # every text labeled: the pool is empty, nothing to pseudo-label
    full = train_and_register(tmp_project, progress=False, deploy=False)
    assert full.params["pool_learning"] == {"method": "auto"} and "pool_learning" not in full.metrics


def test_training_with_an_unlabeled_pool_uses_it_and_off_does_not(make_config) -> None:
    from helpers.data import EXTRA_ROWS, TELECOM_ROWS, open_project

    cfg = make_config(rows=TELECOM_ROWS + EXTRA_ROWS)
    with open_project(cfg) as project:
        from labelf_trainer.loop.labels import import_labels

        import_labels(project, [{"id": i, "label": lab} for i, _t, lab in TELECOM_ROWS], where="gold.csv")
        on = train_and_register(project, progress=False, deploy=False, pool_learning="self")
        off = train_and_register(project, progress=False, deploy=False, pool_learning="off")
        prop = train_and_register(project, progress=False, deploy=False, pool_learning="propagation")
        auto = train_and_register(project, progress=False, deploy=False)
    assert on.metrics["pool_learning"]["method"] == "self" and on.metrics["pool_learning"]["pseudo_labels"] > 0
    # half of the pool sample is learned from; the accuracy estimate and the auto band read the other half
    assert on.metrics["pool_learning"]["pool"] == len(EXTRA_ROWS) // 2
    assert prop.metrics["pool_learning"]["method"] == "propagation"
    assert off.params["pool_learning"] == {"method": "off", "reason": "off"} and "pool_learning" not in off.metrics
    # auto: both cross-validated on the same folds, the better held-out accuracy kept (labels only on a tie)
    chosen = auto.metrics["pool_learning"]
    acc = chosen["heldout_accuracy"]
    assert set(acc) == {"self", "off"} and auto.params["pool_learning"] == {"method": "auto"}
    assert chosen["chosen"] == ("self" if acc["self"] > acc["off"] else "off") == chosen["method"]
    assert acc["self"] == pytest.approx(on.metrics["heldout_accuracy"], abs=1e-4)
    assert acc["off"] == pytest.approx(off.metrics["heldout_accuracy"], abs=1e-4)
    assert on.training_examples == off.training_examples == len(TELECOM_ROWS)  # pseudo-labels are not labels


def test_asking_for_pool_learning_on_a_multi_label_project_is_one_clear_error(make_config) -> None:
    from helpers.data import TELECOM_ROWS, open_project

    cfg = make_config(rows=[(i, t, lab) for i, t, lab in TELECOM_ROWS], task="multi-label")
    with open_project(cfg) as project:
        annotate_all(project)
        with pytest.raises(ModelError, match="pool learning 'self': not for multi-label models"):
            train_and_register(project, progress=False, pool_learning="self")
        assert train_and_register(project, progress=False, deploy=False).params["pool_learning"]["method"] == "off"


def test_pool_learning_and_the_accuracy_estimate_use_disjoint_halves_of_the_pool_sample() -> None:
    from labelf_trainer.loop.trainer import PoolSample, _split_pool

    pool = PoolSample([f"text {i}" for i in range(101)], 5000, {"a1"}, 0.1)
    learn, keep = _split_pool(pool, seed=3)
    assert len(learn) == 50 and len(keep.texts) == 51 and not set(learn) & set(keep.texts)
    assert set(learn) | set(keep.texts) == set(pool.texts)
    assert (keep.n_unlabeled, keep.audit_ids, keep.audit_other_share) == (5000, {"a1"}, 0.1)
    assert _split_pool(pool, seed=3)[0] == learn  # seeded
