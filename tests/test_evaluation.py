"""Evaluation numbers on hand-built cases with known answers: metrics, thresholds, splits, languages."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import classification_report, confusion_matrix, f1_score

from labelf_trainer.config import Thresholds
from labelf_trainer.evaluation import evaluate_scores, multi_label_metrics, single_label_metrics
from labelf_trainer.evaluation.splits import plan_split
from labelf_trainer.evaluation.thresholds import multi_label_thresholds, single_label_thresholds
from labelf_trainer.exceptions import DataError

CLASSES = ["A", "B", "C"]


def test_single_label_metrics_match_hand_computation_and_sklearn():
    y_true = ["A", "A", "A", "B", "B", "C"]
    y_pred = ["A", "A", "B", "B", "C", "C"]
    m = single_label_metrics(y_true, y_pred, CLASSES)
    # by hand: A p=2/2 r=2/3; B p=1/2 r=1/2; C p=1/2 r=1/1
    assert m["accuracy"] == round(4 / 6, 4)
    assert m["per_class"]["A"] == {"precision": 1.0, "recall": 0.6667, "f1": 0.8, "support": 3}
    assert m["per_class"]["B"] == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2}
    assert m["per_class"]["C"] == {"precision": 0.5, "recall": 1.0, "f1": 0.6667, "support": 1}
    assert m["f1_macro"] == round((0.8 + 0.5 + 2 / 3) / 3, 4)
    assert m["confusion_matrix"]["matrix"] == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    ref = classification_report(y_true, y_pred, labels=CLASSES, output_dict=True, zero_division=0)
    for c in CLASSES:
        assert m["per_class"][c]["f1"] == round(ref[c]["f1-score"], 4)
    assert m["f1_macro"] == round(f1_score(y_true, y_pred, average="macro"), 4)
    assert m["confusion_matrix"]["matrix"] == confusion_matrix(y_true, y_pred, labels=CLASSES).tolist()


def test_absent_label_keeps_its_row_but_not_the_macro_average():
    m = single_label_metrics(["A", "B"], ["A", "B"], CLASSES)
    assert m["per_class"]["C"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert m["f1_macro"] == 1.0
    with pytest.raises(DataError, match="'Z'"):
        single_label_metrics(["A", "Z"], ["A", "A"], CLASSES)


def test_multi_label_metrics():
    Y = np.array([[1, 0, 0], [1, 1, 0], [0, 0, 1], [0, 0, 0]])
    P = np.array([[1, 0, 0], [1, 0, 0], [0, 0, 1], [0, 1, 0]])
    m = multi_label_metrics(Y, P, CLASSES)
    assert m["accuracy"] == 0.5  # exact match: rows 0 and 2
    assert m["hamming_accuracy"] == round(10 / 12, 4)
    assert m["per_class"]["B"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert m["confusion_matrix"]["per_label"]["B"] == {"tn": 2, "fp": 1, "fn": 1, "tp": 0}
    assert m["f1_micro"] == round(f1_score(Y, P, average="micro"), 4)


def test_threshold_analysis_on_a_constructed_case():
    # top scores 0.95 (right), 0.85 (right), 0.75 (wrong), 0.65 (right), 0.55 (wrong)
    proba = np.array([[0.95, 0.05, 0.0], [0.05, 0.85, 0.1], [0.75, 0.25, 0.0], [0.1, 0.25, 0.65],
                      [0.55, 0.45, 0.0]])
    y = ["A", "B", "B", "C", "B"]
    t = single_label_thresholds(proba, y, CLASSES, target_precision=0.9, auto=0.9, review=0.7, model_threshold=0.7)
    curve = t["curve"]
    assert len(curve["threshold"]) == 101 and curve["threshold"][0] == 0.0 and curve["threshold"][-1] == 1.0
    at = {th: i for i, th in enumerate(curve["threshold"])}
    assert curve["coverage"][at[0.0]] == 1.0 and curve["precision"][at[0.0]] == 0.6
    assert curve["coverage"][at[0.6]] == 0.8 and curve["precision"][at[0.6]] == 0.75
    assert curve["coverage"][at[0.7]] == 0.6 and curve["precision"][at[0.7]] == round(2 / 3, 4)
    assert curve["coverage"][at[0.75]] == 0.6  # "at or above" the threshold
    assert curve["coverage"][at[0.76]] == 0.4 and curve["precision"][at[0.76]] == 1.0
    assert curve["precision"][at[0.96]] is None and curve["coverage"][at[0.96]] == 0.0
    rec = t["recommended"]
    assert rec["reached"] and rec["threshold"] == 0.76 and rec["coverage"] == 0.4 and rec["precision"] == 1.0
    bands = t["bands"]
    assert (bands["auto"]["share"], bands["review"]["share"], bands["human"]["share"]) == (0.2, 0.4, 0.4)
    assert bands["review"]["accuracy"] == 0.5 and bands["auto"]["accuracy"] == 1.0
    assert t["at_model_threshold"] == {"threshold": 0.7, "coverage": 0.6, "precision": round(2 / 3, 4)}
    unreachable = single_label_thresholds(proba[[2, 4]], ["B", "B"], CLASSES, target_precision=0.9)
    assert unreachable["recommended"]["reached"] is False and unreachable["recommended"]["threshold"] is None


def test_multi_label_per_label_thresholds():
    scores = np.array([[0.9, 0.2], [0.6, 0.8], [0.4, 0.3], [0.7, 0.1]])
    Y = np.array([[1, 0], [1, 1], [0, 0], [0, 0]])
    t = multi_label_thresholds(scores, Y, ["A", "B"], target_precision=0.9)
    a = t["per_label"]["A"]["recommended"]
    assert a["reached"] and a["threshold"] == 0.71 and a["recall"] == 0.5  # the 0.7 negative must go: loses 0.6
    b = t["per_label"]["B"]["recommended"]
    assert b["threshold"] == 0.31 and b["precision"] == 1.0 and b["recall"] == 1.0


def test_evaluate_scores_with_languages_and_confused_pairs():
    texts = ["I want to cancel my subscription right now", "Ich möchte meinen Vertrag sofort kündigen",
             "My invoice is wrong and far too high", "Meine Rechnung ist falsch und viel zu hoch",
             "La facture est fausse et beaucoup trop chère", "ok"]
    y = ["C", "C", "A", "A", "A", "B"]
    proba = np.array([[0.1, 0.1, 0.8], [0.7, 0.1, 0.2], [0.9, 0.05, 0.05], [0.8, 0.1, 0.1], [0.2, 0.1, 0.7],
                      [0.3, 0.6, 0.1]])
    m = evaluate_scores(proba, y, CLASSES, multi_label=False, texts=texts, thresholds=Thresholds())
    langs = m["languages"]
    assert langs["en"]["n"] == 2 and langs["en"]["accuracy"] == 1.0
    assert langs["de"]["n"] == 2 and langs["de"]["accuracy"] == 0.5
    assert langs["fr"] == {"n": 1, "accuracy": 0.0, "f1_macro": 0.0}
    assert langs["unknown"]["n"] == 1  # too short to tell
    pairs = m["confused_pairs"]
    assert {(p["true"], p["predicted"]) for p in pairs} == {("C", "A"), ("A", "C")}
    ca = next(p for p in pairs if p["true"] == "C")
    assert ca["rate"] == 0.5 and ca["examples"] == ["Ich möchte meinen Vertrag sofort kündigen"]


@pytest.mark.parametrize("multi", [False, True])
def test_split_plans(multi):
    big = [("A",) if i % 2 else ("B",) for i in range(40)]
    y = big if multi else [v[0] for v in big]
    plan = plan_split(y, multi_label=multi, eval_split=0.25, seed=1)
    assert plan.method == "holdout" and len(plan.folds[0]) == 10
    held = [y[i] for i in plan.folds[0]]
    assert sorted(map(str, held)).count(str(y[0])) == 5  # stratified: half of each
    small = ["A", "A", "A", "B", "B", "C"]
    plan = plan_split(small, multi_label=False, eval_split=0.2, seed=1)
    assert plan.method == "k-fold" and plan.k == 3
    assert 5 not in plan.eval_indices  # the single C is always trained on
    for f in range(plan.k):
        train_labels = {small[i] for i in plan.train_indices(f)}
        assert train_labels == {"A", "B", "C"}  # every fold still trains on every label
    assert sorted(plan.eval_indices.tolist()) == [0, 1, 2, 3, 4]
