"""Trust, in units: the out-of-scope detector, calibration, the accuracy estimate on the traffic, the auto band and
audit picks. The end-to-end checks (a trained project over HTTP) are in test_out_of_scope.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from labelf_trainer.evaluation.calibration import calibration_summary
from labelf_trainer.evaluation.estimate import estimate_traffic_accuracy
from labelf_trainer.evaluation.thresholds import choose_auto_threshold
from labelf_trainer.loop.suggest import audit_count, audit_picks
from labelf_trainer.models.calibration import (
    IdentityCalibrator,
    MultiLabelPlatt,
    TemperatureScaling,
    calibrator_from_json,
    fit_calibrator,
    refit_temperature,
)
from labelf_trainer.models.out_of_scope import OutOfScope


def clusters(n_per: int, centers: np.ndarray, spread: float, rng: np.random.Generator) -> tuple[np.ndarray, list[str]]:
    """Unit vectors around each center; labels c0, c1, ..."""
    X, y = [], []
    for c, mu in enumerate(centers):
        v = mu + spread * rng.standard_normal((n_per, centers.shape[1]))
        X.append(v / np.linalg.norm(v, axis=1, keepdims=True))
        y += [f"c{c}"] * n_per
    return np.vstack(X), y


def unit(rng: np.random.Generator, k: int, d: int) -> np.ndarray:
    v = rng.standard_normal((k, d))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


# -- out of scope ------------------------------------------------------------------------------------------------
def test_out_of_scope_flags_far_texts_and_keeps_in_scope_ones_within_the_budget() -> None:
    rng = np.random.default_rng(0)
    centers = unit(rng, 4, 32)
    X, y = clusters(30, centers, 0.08, rng)
    proba = np.full((len(y), 4), 0.05)
    proba[np.arange(len(y)), [int(v[1:]) for v in y]] = 0.85
    oos = OutOfScope("Other", max_accuracy_loss=0.02).fit(X, y, oof_proba=proba, oof_credit=np.ones(len(y)))
    assert oos.info_["oof_accuracy_loss"] <= 0.02  # the budget holds on the labeled texts
    X_in, _ = clusters(20, centers, 0.08, rng)
    X_out = unit(rng, 40, 32)  # random directions: none near any cluster
    p_in = np.tile([0.85, 0.05, 0.05, 0.05], (len(X_in), 1))
    P_in, P_out = oos.augment(X_in, p_in), oos.augment(X_out, np.tile([0.4, 0.2, 0.2, 0.2], (40, 1)))
    assert P_in.shape == (80, 5) and np.allclose(P_in.sum(axis=1), 1.0)
    assert (P_out.argmax(axis=1) == 4).mean() >= 0.95  # "Other" is the top label out of scope
    assert (P_in.argmax(axis=1) == 4).mean() <= 0.05
    assert np.median(P_in[:, 4]) < 0.05 and P_in[:, 0].mean() > 0.8  # in scope keeps its confidence


def test_annotated_other_texts_pull_their_neighbourhood_to_other() -> None:
    rng = np.random.default_rng(1)
    centers = unit(rng, 3, 16)
    X, y = clusters(20, centers, 0.05, rng)
    other_center = 0.85 * centers[0] + 0.15 * centers[1]  # a kind of out-of-scope text near label c0
    other_center /= np.linalg.norm(other_center)
    X_other, _ = clusters(10, other_center[None, :], 0.03, rng)
    proba = np.tile([0.6, 0.3, 0.1], (len(y), 1))
    plain = OutOfScope("Other").fit(X, y, oof_proba=proba)
    taught = OutOfScope("Other").fit(X, y, oof_proba=proba, X_other=X_other)
    probe, _ = clusters(10, other_center[None, :], 0.03, rng)
    p = np.tile([0.6, 0.3, 0.1], (10, 1))
    assert (plain.augment(probe, p).argmax(axis=1) == 0).all()  # too close to c0 for the distance alone
    assert (taught.augment(probe, p).argmax(axis=1) == 3).all()


def test_out_of_scope_multi_label_adds_an_independent_score() -> None:
    rng = np.random.default_rng(2)
    centers = unit(rng, 3, 16)
    X, y = clusters(15, centers, 0.05, rng)
    oos = OutOfScope("Other", multi_label=True).fit(X, [(v,) for v in y], oof_proba=np.full((45, 3), 0.9))
    P = oos.augment(unit(rng, 10, 16), np.full((10, 3), 0.1))
    assert P.shape == (10, 4) and (P[:, 3] >= 0.5).all() and np.allclose(P[:, :3], 0.1)  # others untouched


def test_out_of_scope_round_trips_through_json_and_safetensors(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    X, y = clusters(10, unit(rng, 3, 8), 0.05, rng)
    oos = OutOfScope("None of these").fit(X, y, oof_proba=np.full((30, 3), 1 / 3), X_other=unit(rng, 4, 8))
    oos.save_arrays(tmp_path)
    again = OutOfScope.load(tmp_path, oos.to_json())
    probe = unit(rng, 6, 8)
    p = np.full((6, 3), 1 / 3)
    assert again.label == "None of these"
    assert np.allclose(again.augment(probe, p), oos.augment(probe, p), atol=2e-3)  # float16 arrays
    assert not list(tmp_path.glob("*.pkl"))


def test_cold_start_detector_splits_a_bimodal_pool_and_falls_back_to_a_share() -> None:
    rng = np.random.default_rng(4)
    centers = unit(rng, 5, 32)
    pool_in, _ = clusters(60, centers, 0.05, rng)
    far = unit(rng, 30, 32)
    with_far = OutOfScope("Other").fit_unlabeled(centers, np.vstack([pool_in, far]), reject_share=0.02)
    assert with_far.info_["rule"] == "bimodal"
    z_in, z_far = with_far.z_score(pool_in), with_far.z_score(far)
    assert (z_far > with_far.threshold_).mean() >= 0.9 and (z_in > with_far.threshold_).mean() <= 0.02
    only_in = OutOfScope("Other").fit_unlabeled(centers, pool_in, reject_share=0.05)
    assert only_in.info_["rule"] == "quantile"
    assert only_in.info_["pool_reject_share"] == pytest.approx(0.05, abs=0.01)


# -- calibration -------------------------------------------------------------------------------------------------
def overconfident(n: int, k: int, rng: np.random.Generator, sharpness: float = 3.0) -> tuple[np.ndarray, np.ndarray]:
    """Labels drawn from softmax(logits), scores softmax(sharpness * logits): right as often as the true
    probabilities say, but far more confident."""
    logits = 1.5 * rng.standard_normal((n, k))
    true = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = np.array([rng.choice(k, p=row) for row in true])
    p = np.exp(sharpness * logits)
    return p / p.sum(axis=1, keepdims=True), y


def test_temperature_scaling_fixes_overconfidence_and_round_trips() -> None:
    rng = np.random.default_rng(5)
    p, y = overconfident(2000, 5, rng)
    cal = fit_calibrator(p[:1000], y[:1000])
    assert isinstance(cal, TemperatureScaling) and cal.temperature > 1.5
    before = calibration_summary(p[1000:], y[1000:], multi_label=False)["ece"]
    after = calibration_summary(cal.transform(p[1000:]), y[1000:], multi_label=False)["ece"]
    assert before > 0.2 and after < 0.05
    again = calibrator_from_json(cal.to_json())
    assert np.allclose(again.transform(p[:5]), cal.transform(p[:5]), atol=1e-5)
    assert (cal.transform(p).argmax(axis=1) == p.argmax(axis=1)).all()  # calibration never changes the answer


def test_too_few_labels_leave_scores_alone() -> None:
    rng = np.random.default_rng(6)
    p, y = overconfident(10, 3, rng)
    assert isinstance(fit_calibrator(p, y), IdentityCalibrator)
    assert refit_temperature(p, y) is None  # 10 labels: keep the default temperature


def test_refit_temperature_needs_evidence() -> None:
    rng = np.random.default_rng(7)
    p, y = overconfident(300, 4, rng)
    assert refit_temperature(p, y).temperature > 1.5  # clearly off: refitted
    y_cal = np.array([rng.choice(4, p=row) for row in p])  # labels drawn from the scores: already calibrated
    assert refit_temperature(p, y_cal) is None


def test_multi_label_platt_is_shared_across_labels() -> None:
    rng = np.random.default_rng(8)
    Y = (rng.random((500, 4)) < 0.3).astype(int)
    P = np.clip(np.where(Y == 1, 0.99, 0.6) + 0.01 * rng.standard_normal(Y.shape), 0, 1)  # negatives scored 0.6
    cal = fit_calibrator(P, Y, multi_label=True)
    assert isinstance(cal, MultiLabelPlatt)
    Q = cal.transform(P)
    assert Q[Y == 0].mean() < 0.2 and Q[Y == 1].mean() > 0.8


# -- the accuracy estimate ---------------------------------------------------------------------------------------
def test_estimate_follows_the_pool_not_the_sampler_picks() -> None:
    rng = np.random.default_rng(9)
    pool_conf = rng.uniform(0.8, 1.0, 5000)  # calibrated: the pool is easy (accuracy ~0.9)
    labeled_conf = rng.uniform(0.3, 0.7, 300)  # the sampler picked hard texts
    labeled_correct = (rng.random(300) < labeled_conf).astype(float)
    est = estimate_traffic_accuracy(pool_conf=pool_conf, n_unlabeled=5000, labeled_correct=labeled_correct,
                                    labeled_conf=labeled_conf, audit=np.zeros(300, bool), n_classes=10)
    assert labeled_correct.mean() < 0.6
    truth = (5000 * 0.9 + 300 * labeled_correct.mean()) / 5300
    assert abs(est.estimate - truth) < 0.02 and est.low < truth < est.high
    assert est.to_json()["n_labeled"] == 300 and est.to_json()["method"].startswith("calibrated-pool")


def test_audit_labels_correct_an_overconfident_pool() -> None:
    rng = np.random.default_rng(10)
    n = 400
    labeled_conf = rng.uniform(0.85, 0.95, n)
    audit = np.zeros(n, bool)
    audit[:100] = True
    labeled_correct = np.where(audit, rng.random(n) < 0.7, rng.random(n) < labeled_conf).astype(float)
    kw = dict(pool_conf=np.full(4000, 0.9), n_unlabeled=4000, labeled_conf=labeled_conf,
              labeled_correct=labeled_correct, n_classes=5)
    plain = estimate_traffic_accuracy(audit=np.zeros(n, bool), **kw)
    corrected = estimate_traffic_accuracy(audit=audit, **kw)
    assert corrected.estimate < plain.estimate - 0.05  # audit texts were right 70%, not 90%


def test_no_estimate_from_too_few_held_out_texts() -> None:
    est = estimate_traffic_accuracy(pool_conf=np.full(100, 0.9), n_unlabeled=100, labeled_correct=np.ones(20),
                                    labeled_conf=np.full(20, 0.9), audit=np.zeros(20, bool), n_classes=5)
    assert est.estimate is None and est.to_json()["method"] == "none"


# -- the auto band -----------------------------------------------------------------------------------------------
def test_auto_band_covers_out_of_scope_and_says_when_it_disables_rejection() -> None:
    rng = np.random.default_rng(11)
    conf = rng.uniform(0.5, 1.0, 400)
    correct = rng.random(400) < conf
    plain = choose_auto_threshold(conf, correct, pool_conf=conf, target=0.9, n_classes=5, n_labeled=400)
    with_oos = choose_auto_threshold(conf, correct, pool_conf=conf, target=0.9, n_classes=5, n_labeled=400, oos_share=0.2,
                                     oos_miss_rate=0.5)
    assert plain["reached"] and with_oos["reached"]
    assert with_oos["threshold"] > plain["threshold"]  # missed out-of-scope texts are errors too
    easy = choose_auto_threshold(np.full(400, 0.99), np.ones(400, bool), pool_conf=np.full(400, 0.99), target=0.9, n_classes=5, n_labeled=400)
    assert easy["threshold"] <= 0.2 + 1e-9 and easy["disables_rejection"] is True


def test_auto_band_is_withheld_below_enough_labels() -> None:
    rec = choose_auto_threshold(np.full(20, 0.95), np.ones(20, bool), pool_conf=np.full(20, 0.95), target=0.9, n_classes=5, n_labeled=20)
    assert rec["threshold"] is None and "too few labels" in rec["reason"]


# -- audit picks -------------------------------------------------------------------------------------------------
def test_audit_picks_keep_their_share_over_all_batches() -> None:
    batched = audited = 0
    for n in [3] * 40 + [50] * 4:
        k = audit_count(n, 0.05, batched, audited)
        assert 0 <= k <= n
        batched, audited = batched + n, audited + k
    assert audited == round(0.05 * batched)  # small batches take turns, large ones take their share
    assert audit_count(10, 0.0, 100, 0) == 0
    picks = audit_picks(np.arange(100, 200), 5, np.random.default_rng(0))
    assert len(set(picks.tolist())) == 5 and set(picks.tolist()) <= set(range(100, 200))


def test_suggested_batches_mark_their_audit_picks(make_config) -> None:
    from helpers.data import ROWS, open_project

    from labelf_trainer.loop.suggest import AUDIT_REASON, suggest

    with open_project(make_config(rows=ROWS, sampler={"audit_share": 0.2})) as project:
        res = suggest(project, n=10, progress=False)
        audit = [it for it in res.items if it.reason and it.reason.get("component") == "audit"]
        assert len(audit) == 2 and res.items[-1].reason["summary"] == AUDIT_REASON["summary"]
        assert project.ws.batches.audit_item_ids() == {it.item_id for it in audit}
        assert project.ws.batches.audit_counts() == (10, 2)


# -- when to stop ------------------------------------------------------------------------------------------------
def test_cohen_kappa() -> None:
    from labelf_trainer.loop.stopping import cohen_kappa

    a = np.array([0, 1, 2, 0, 1, 2, 0, 1])
    assert cohen_kappa(a, a) == 1.0
    assert cohen_kappa(a, np.array([1, 2, 0, 1, 2, 0, 1, 2])) < 0  # never agrees: worse than chance
    assert 0 < cohen_kappa(a, np.array([0, 1, 2, 0, 1, 2, 0, 0])) < 1


def test_training_twice_on_the_same_labels_advises_to_stop(make_config) -> None:
    from helpers.data import ROWS, annotate_all, open_project

    from labelf_trainer.loop.trainer import train_and_register

    with open_project(make_config(rows=ROWS)) as project:
        annotate_all(project)
        first = train_and_register(project, "embedding-head", deploy=True, progress=False)
        assert first.metrics["stopping"]["kappa"] is None and "keep labeling" in first.metrics["stopping"]["advice"]
        second = train_and_register(project, "embedding-head", deploy=True, progress=False)
        stop = second.metrics["stopping"]
        assert stop["kappa"] == 1.0 and stop["stop"] and stop["advice"].startswith("stop")
        assert stop["kappas"] == [1.0] and stop["n"] == len(ROWS)
