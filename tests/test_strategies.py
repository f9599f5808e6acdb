"""Query strategies on hand-built pools: the shared contract, and small cases with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from labelf_trainer.config import SamplerConfig
from labelf_trainer.embeddings import normalize
from labelf_trainer.exceptions import StrategyError
from labelf_trainer.strategies import (STRATEGIES, ClusterRanker, ColdStart, CombinedSampler, DescriptionQuota,
                                       Diversity, EmptyPoolError, EntropySampling, ImpactRanker, LanguageCoverage,
                                       LeastConfidence, MarginSampling, NearDuplicateFilter, Pool, PoolExhaustedError,
                                       RandomSampling, RareClassSearch, RareQuota, UncertaintyRanker, argselect,
                                       make_strategy)
from labelf_trainer.strategies.uncertainty import uncertainty_scores

CLASSES = ["a", "b", "c", "d"]


def blobs(sizes: list[int], dim: int = 16, spread: float = 0.05, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Normalized embeddings in tight, well separated clusters; returns (X, cluster id per row)."""
    rng = np.random.default_rng(seed)
    centres = np.eye(dim)[: len(sizes)] * 1.0
    X = np.concatenate([centres[k] + spread * rng.normal(size=(s, dim)) for k, s in enumerate(sizes)])
    return normalize(X.astype(np.float32)), np.repeat(np.arange(len(sizes)), sizes)


def random_pool(n: int = 400, seed: int = 0, n_labeled: int = 20) -> Pool:
    rng = np.random.default_rng(seed)
    X = normalize(rng.normal(size=(n, 24)).astype(np.float32))
    P = rng.dirichlet(np.ones(len(CLASSES)), size=n)
    labels = {i: (CLASSES[i % len(CLASSES)],) for i in range(n_labeled)}
    return Pool(X, CLASSES, proba=P, labels=labels,
                label_embeddings=normalize(rng.normal(size=(len(CLASSES), 24)).astype(np.float32)),
                languages=["en"] * (n - 40) + ["de"] * 40)


ALL = [lambda s, name=name: make_strategy(name, SamplerConfig(), random_state=s) for name in STRATEGIES] + [
    lambda s: LeastConfidence(random_state=s), lambda s: EntropySampling(random_state=s),
    lambda s: ColdStart(random_state=s),
    # base strategies alone, and wrappers around them
    lambda s: UncertaintyRanker(random_state=s), lambda s: ClusterRanker(random_state=s),
    lambda s: ImpactRanker(random_state=s),
    lambda s: NearDuplicateFilter(RandomSampling(random_state=s), 0.5),
    lambda s: LanguageCoverage(RareQuota(ClusterRanker(random_state=s), quota=0.5, target=8), 0.05),
    lambda s: DescriptionQuota(NearDuplicateFilter(ImpactRanker(random_state=s), 0.9), share=0.3)]
IDS = list(STRATEGIES) + ["least_confidence", "entropy", "cold-start", "uncertainty-ranker", "cluster-ranker",
                          "impact-ranker", "near-duplicate-filter", "language-coverage+rare-quota", "description-quota"]


@pytest.mark.parametrize("make", ALL, ids=IDS)
def test_contract(make) -> None:
    pool = random_pool()
    unlabeled = np.arange(20, len(pool))
    sel = make(3).query(pool, unlabeled, np.arange(20), n=25)
    assert len(sel.indices) == 25 and len(set(sel.indices.tolist())) == 25
    assert np.isin(sel.indices, unlabeled).all()
    assert len(sel.scores) == 25 and np.isfinite(sel.scores).all()
    assert len(sel.reasons) == 25 and all(r["summary"] and r["strategy"] for r in sel.reasons)
    again = make(3).query(pool, unlabeled, np.arange(20), n=25)
    assert again.indices.tolist() == sel.indices.tolist()  # deterministic for a seed
    with pytest.raises(EmptyPoolError, match="available: 0"):
        make(3).query(pool, np.zeros(0, dtype=np.int64), np.arange(20), n=5)
    with pytest.raises(PoolExhaustedError, match="available 10 / requested 11"):
        make(3).query(pool, np.arange(20, 30), np.arange(20), n=11)


def test_bad_input_is_a_named_error() -> None:
    pool = random_pool()
    with pytest.raises(StrategyError, match="at least 1"):
        RandomSampling().query(pool, np.arange(20, 40), n=0)
    with pytest.raises(StrategyError, match="out of range"):
        RandomSampling().query(pool, np.array([5, 10_000]), n=1)
    with pytest.raises(StrategyError, match="unknown strategy 'best'"):
        make_strategy("best")
    with pytest.raises(StrategyError, match="proba has shape"):
        Pool(np.zeros((3, 4), dtype=np.float32), CLASSES, proba=np.zeros((2, 4)))


def test_random_differs_by_seed() -> None:
    pool = random_pool()
    a = RandomSampling(random_state=1).query(pool, np.arange(20, 400), n=20).indices
    b = RandomSampling(random_state=2).query(pool, np.arange(20, 400), n=20).indices
    assert set(a.tolist()) != set(b.tolist())


def test_each_uncertainty_measure_finds_its_most_uncertain_row() -> None:
    P = np.array([
        [0.96, 0.02, 0.01, 0.01],   # confident
        [0.40, 0.38, 0.20, 0.02],   # smallest margin
        [0.34, 0.22, 0.22, 0.22],   # lowest top probability
        [0.30, 0.30, 0.30, 0.10],   # ... and this one ties margin 0 with the highest entropy? see below
        [0.26, 0.25, 0.25, 0.24],   # highest entropy, lowest top probability
    ])
    X = normalize(np.eye(5, 8, dtype=np.float32))
    pool = Pool(X, CLASSES, proba=P)
    rows = np.arange(5)
    assert LeastConfidence().query(pool, rows, n=1).indices.tolist() == [4]
    assert EntropySampling().query(pool, rows, n=1).indices.tolist() == [4]
    # margin: rows 3 (0.30 vs 0.30) has margin 0
    assert MarginSampling().query(pool, rows, n=1).indices.tolist() == [3]
    pool2 = Pool(X[:3], CLASSES, proba=P[:3])
    assert MarginSampling().query(pool2, np.arange(3), n=1).indices.tolist() == [1]
    assert LeastConfidence().query(pool2, np.arange(3), n=1).indices.tolist() == [2]
    sel = MarginSampling().query(pool2, np.arange(3), n=3)
    assert sel.indices[-1] == 0 and sel.scores[0] > sel.scores[-1]
    assert "unsure: a 0.40 vs b 0.38" == sel.reasons[0]["summary"]


def test_uncertainty_multi_label_is_per_label() -> None:
    P = np.array([[0.99, 0.01, 0.02, 0.98],
                  [0.95, 0.52, 0.01, 0.03],    # unsure about label b
                  [0.10, 0.20, 0.90, 0.05]])
    scores, unsure = uncertainty_scores(P, "margin", multi_label=True)
    assert scores.argmax() == 1 and unsure[1] == 1
    pool = Pool(normalize(np.eye(3, 8, dtype=np.float32)), CLASSES, proba=P, multi_label=True)
    sel = LeastConfidence().query(pool, np.arange(3), n=1)
    assert sel.indices.tolist() == [1] and sel.reasons[0]["label"] == "b"


def test_uncertainty_without_model_is_an_error() -> None:
    pool = Pool(normalize(np.eye(3, 8, dtype=np.float32)), CLASSES)
    with pytest.raises(StrategyError, match="needs the model's probabilities"):
        MarginSampling().query(pool, np.arange(3), n=1)


def test_argselect_breaks_ties_by_seed_only() -> None:
    v = np.array([1.0, 3.0, 3.0, 3.0, 0.0])
    assert argselect(v, 2).tolist() == [1, 2]
    picks = {tuple(argselect(v, 1, rng=np.random.default_rng(s)).tolist()) for s in range(20)}
    assert picks <= {(1,), (2,), (3,)} and len(picks) > 1


def test_diversity_takes_one_pick_per_planted_cluster() -> None:
    X, cid = blobs([60, 40, 25, 15, 10])
    pool = Pool(X, CLASSES)
    for seed in range(3):
        sel = Diversity(random_state=seed).query(pool, np.arange(len(X)), n=5)
        assert sorted(cid[sel.indices].tolist()) == [0, 1, 2, 3, 4]
        assert all(r["component"] == "cluster" for r in sel.reasons)


def near_duplicate_pool() -> tuple[Pool, np.ndarray]:
    """60 texts: 30 distinct directions, each present twice (cosine > 0.99); the model is unsure about both."""
    rng = np.random.default_rng(5)
    base = normalize(rng.normal(size=(30, 64)).astype(np.float32))
    X = normalize(np.concatenate([base, base + 0.01 * rng.normal(size=base.shape).astype(np.float32)]))
    P = np.tile(rng.dirichlet(np.ones(4) * 5, size=30), (2, 1))
    pair = np.concatenate([np.arange(30), np.arange(30)])
    return Pool(X, CLASSES, proba=P, label_embeddings=normalize(rng.normal(size=(4, 64)).astype(np.float32)),
                labels={0: ("a",), 1: ("b",), 2: ("c",), 3: ("d",)}), pair


@pytest.mark.parametrize("name", [s for s in STRATEGIES if s != "random"])
def test_near_duplicates_never_picked_twice(name: str) -> None:
    pool, pair = near_duplicate_pool()
    labeled = np.arange(4)
    unlabeled = np.arange(4, 60)
    sel = make_strategy(name, SamplerConfig(), random_state=0).query(pool, unlabeled, labeled, n=20)
    groups = pair[sel.indices]
    assert len(set(groups.tolist())) == 20, f"{name} picked two near-duplicates"
    assert not (set(groups.tolist()) & {0, 1, 2, 3}), f"{name} picked a near-duplicate of a labeled text"
    sims = pool.embeddings[sel.indices] @ pool.embeddings[sel.indices].T
    assert (sims[~np.eye(20, dtype=bool)] < 0.95).all()


def rare_setup() -> tuple[Pool, np.ndarray, np.ndarray]:
    """Three labels: a and b have many labeled texts; c has none and only 5 planted texts near its description."""
    X, cid = blobs([200, 200, 5], dim=16, spread=0.15, seed=2)
    classes = ["a", "b", "c"]
    labeled = np.concatenate([np.arange(0, 30), np.arange(200, 230)])
    labels = {int(r): (classes[cid[r]],) for r in labeled}
    rng = np.random.default_rng(3)
    P = rng.dirichlet(np.ones(3), size=len(X))
    P[:, 2] = 1e-9 * rng.random(len(X))  # trained without examples of c: no help finding it
    P /= P.sum(axis=1, keepdims=True)
    desc = normalize(np.eye(16, dtype=np.float32)[:3] + 0.1)
    pool = Pool(X, classes, proba=P, labels=labels, label_embeddings=desc)
    unlabeled = np.setdiff1d(np.arange(len(X)), labeled)
    return pool, labeled, unlabeled


def test_rare_class_search_finds_the_planted_texts() -> None:
    pool, labeled, unlabeled = rare_setup()
    sel = RareClassSearch(rare_target=20).query(pool, unlabeled, labeled, n=5)
    assert sorted(sel.indices.tolist()) == [400, 401, 402, 403, 404]
    assert all(r["label"] == "c" for r in sel.reasons)
    assert "rare label 'c' (0/20 labeled)" in sel.reasons[0]["summary"]


def test_combined_gives_rare_labels_a_quota_until_the_target() -> None:
    pool, labeled, unlabeled = rare_setup()
    sel = CombinedSampler(rare_quota=0.3, rare_target=20, random_state=0).query(pool, unlabeled, labeled, n=20)
    rare = [r for r in sel.reasons if r["component"] == "rare"]
    assert len(rare) == 6 and {r["label"] for r in rare} == {"c"}
    assert set(range(400, 405)) <= set(sel.indices.tolist())
    # once every label has reached the target there is no quota
    labels = dict(pool.labels)
    labels.update({400 + i: ("c",) for i in range(5)})
    done = Pool(pool.embeddings, pool.classes, proba=pool.proba, labels=labels, label_embeddings=pool.label_embeddings)
    lab2 = np.array(sorted(labels))
    sel = CombinedSampler(rare_quota=0.3, rare_target=5, random_state=0).query(
        done, np.setdiff1d(np.arange(len(pool)), lab2), lab2, n=10)
    assert not [r for r in sel.reasons if r["component"] == "rare"]


def test_cold_start_covers_every_label_description_and_clusters() -> None:
    X, cid = blobs([50, 50, 50, 50], dim=16, spread=0.1, seed=4)
    desc = normalize(np.eye(16, dtype=np.float32)[:4])
    proba = np.full((len(X), 4), 0.25)
    pool = Pool(X, CLASSES, proba=proba, label_embeddings=desc)
    sel = CombinedSampler(random_state=0).query(pool, np.arange(len(X)), np.zeros(0, dtype=np.int64), n=8)
    by_desc = [r for r in sel.reasons if r["component"] == "description"]
    assert sorted(r["label"] for r in by_desc) == CLASSES
    for r, row in zip(sel.reasons, sel.indices):
        if r["component"] == "description":
            assert CLASSES[cid[row]] == r["label"]  # the description neighbour is in that label's blob
    assert any(r["component"] == "cluster" for r in sel.reasons)


def test_combined_prefers_uncertain_representative_texts_and_traffic() -> None:
    X, cid = blobs([100, 100], dim=16, spread=0.1, seed=6)
    P = np.tile([[0.98, 0.01, 0.005, 0.005]], (200, 1))
    P[100:150] = [0.4, 0.35, 0.15, 0.1]  # the model is unsure about half of cluster 1
    labels = {0: ("a",), 1: ("b",), 2: ("c",), 3: ("d",)}
    pool = Pool(X, CLASSES, proba=P, labels={k: v for k, v in labels.items()})
    sel = CombinedSampler(rare_quota=0.0, random_state=0).query(pool, np.arange(4, 200), np.arange(4), n=10)
    assert (sel.indices >= 100).all() and (sel.indices < 150).all()
    assert sel.reasons[0]["component"] == "impact" and "unsure" in sel.reasons[0]["summary"]
    priority = np.zeros(200)
    priority[160:170] = 1.0  # low-confidence service traffic
    pool_t = Pool(X, CLASSES, proba=np.where(np.arange(200)[:, None] >= 150, [[0.7, 0.2, 0.05, 0.05]], P),
                  labels=pool.labels, priority=priority)
    sel = CombinedSampler(rare_quota=0.0, random_state=0).query(pool_t, np.arange(4, 200), np.arange(4), n=5)
    assert sum(160 <= i < 170 for i in sel.indices.tolist()) >= 1


@pytest.mark.parametrize("name", ["combined", "diversity", "uncertainty"])
def test_batch_covers_the_pool_languages(name: str) -> None:
    pool = random_pool(n=400)  # 40 German texts among 400 (10%)
    sel = make_strategy(name, SamplerConfig(), random_state=0).query(pool, np.arange(20, 400), np.arange(20), n=10)
    langs = {pool.languages[i] for i in sel.indices}
    assert langs == {"en", "de"}


def test_uncertainty_batch_covers_the_pool_languages() -> None:
    """The German texts are the ones the model is surest about: only language coverage brings one in."""
    rng = np.random.default_rng(8)
    n = 200
    X = normalize(rng.normal(size=(n, 32)).astype(np.float32))
    P = rng.dirichlet(np.ones(4), size=n)
    P[180:] = [0.97, 0.01, 0.01, 0.01]  # 10% German texts, all confident
    languages = ["en"] * 180 + ["de"] * 20
    plain = Pool(X, CLASSES, proba=P)
    with_langs = Pool(X, CLASSES, proba=P, languages=languages)
    rows = np.arange(n)
    before = MarginSampling().query(plain, rows, n=10)
    assert (before.indices < 180).all()
    sel = MarginSampling().query(with_langs, rows, n=10)
    assert {languages[i] for i in sel.indices} == {"en", "de"}
    assert sel.indices[:9].tolist() == before.indices[:9].tolist()  # only the lowest-ranked pick gave way
    assert sel.reasons[9]["component"] == "language" and sel.reasons[9]["language"] == "de"
    assert sel.indices[9] == 180 + np.argmax(uncertainty_scores(P[180:])[0])  # the most uncertain German text
    # below the share, a language is not covered
    assert MarginSampling(language_min_share=0.2).query(with_langs, rows, n=10).indices.tolist() == \
        before.indices.tolist()


def test_uncertainty_without_languages_is_the_ranking_minus_near_duplicates() -> None:
    pool = random_pool(n=300)
    pool.languages = None
    unlabeled = np.arange(20, 300)
    scores, _ = uncertainty_scores(pool.proba[unlabeled])
    expected = unlabeled[np.argsort(-scores, kind="stable")[:15]]  # random 24-d vectors: no near-duplicates
    assert MarginSampling().query(pool, unlabeled, np.arange(20), n=15).indices.tolist() == expected.tolist()


# ---- wrappers ------------------------------------------------------------------------------------------------------


def planted_uncertainty_pool() -> Pool:
    """Six rows, most uncertain first: 1 duplicates 0, 2 duplicates the labeled row 5, 3 and 4 are distinct."""
    e = np.eye(8, dtype=np.float32)
    X = normalize(np.stack([e[0], e[0] + 0.01 * e[1], e[5] + 0.01 * e[2], e[3], e[4], e[5]]))
    P = np.array([[0.30, 0.30, 0.20, 0.20], [0.35, 0.30, 0.20, 0.15], [0.40, 0.30, 0.20, 0.10],
                  [0.50, 0.30, 0.10, 0.10], [0.60, 0.20, 0.10, 0.10], [0.90, 0.05, 0.03, 0.02]])
    return Pool(X, CLASSES, proba=P, labels={5: ("a",)})


def test_near_duplicate_filter_skips_duplicates_of_the_batch_and_of_labeled_texts() -> None:
    pool = planted_uncertainty_pool()
    rows, labeled = np.arange(5), np.array([5])
    assert UncertaintyRanker().query(pool, rows, labeled, n=3).indices.tolist() == [0, 1, 2]
    sel = NearDuplicateFilter(UncertaintyRanker(), 0.95).query(pool, rows, labeled, n=3)
    assert sel.indices.tolist() == [0, 3, 4]
    assert sel.scores.tolist() == sorted(sel.scores.tolist(), reverse=True)
    # a looser threshold lets the duplicates through
    assert NearDuplicateFilter(UncertaintyRanker(), 1.01).query(pool, rows, labeled, n=3).indices.tolist() == [0, 1, 2]


def test_near_duplicate_filter_fills_up_with_the_best_of_the_rest() -> None:
    pool = planted_uncertainty_pool()
    sel = NearDuplicateFilter(UncertaintyRanker(), 0.95).query(pool, np.arange(5), np.array([5]), n=5)
    assert sel.indices.tolist() == [0, 3, 4, 1, 2]  # three distinct texts, then the more uncertain duplicate first
    X, cid = blobs([10, 10])  # two tight clusters: only two distinct texts
    sel = NearDuplicateFilter(ClusterRanker(), 0.5).query(Pool(X, CLASSES), np.arange(20), n=4)
    assert sorted(cid[sel.indices[:2]].tolist()) == [0, 1]
    assert [r["summary"] for r in sel.reasons[2:]] == ["filler: too few distinct texts left"] * 2


def test_near_duplicate_filter_wraps_only_a_ranking_strategy() -> None:
    with pytest.raises(StrategyError, match="only ranks"):
        NearDuplicateFilter(LanguageCoverage(UncertaintyRanker()), 0.95)
    with pytest.raises(StrategyError, match="only ranks"):
        NearDuplicateFilter(MarginSampling(), 0.95)


def test_language_coverage_swaps_the_lowest_pick_for_each_missing_language() -> None:
    e = np.eye(12, dtype=np.float32)
    P = np.array([[0.5 + 0.05 * i, 0.5 - 0.05 * i, 0.0, 0.0] for i in range(10)])  # row 0 most uncertain
    languages = ["en"] * 6 + ["de", "de", "sv", "unknown"]
    pool = Pool(e[:10], CLASSES, proba=P, languages=languages)
    rows = np.arange(10)
    assert UncertaintyRanker().query(pool, rows, n=4).indices.tolist() == [0, 1, 2, 3]
    sel = LanguageCoverage(UncertaintyRanker(), 0.1).query(pool, rows, n=4)
    assert sel.indices.tolist() == [0, 1, 8, 6]  # de (2 texts) first takes the last slot, then sv the next one
    assert [r.get("language") for r in sel.reasons] == [None, None, "sv", "de"]
    # a language below the share is not covered; "unknown" never is
    assert LanguageCoverage(UncertaintyRanker(), 0.15).query(pool, rows, n=4).indices.tolist() == [0, 1, 2, 6]
    assert LanguageCoverage(UncertaintyRanker(), 0.5).query(pool, rows, n=4).indices.tolist() == [0, 1, 2, 3]
    # every language already in the batch keeps a pick
    assert LanguageCoverage(UncertaintyRanker(), 0.1).query(pool, rows, n=2).indices.tolist() == [0, 6]


def test_rare_quota_comes_first_then_the_base() -> None:
    pool, labeled, unlabeled = rare_setup()
    base_order = UncertaintyRanker().query(pool, unlabeled, labeled, n=len(unlabeled)).indices
    sel = RareQuota(UncertaintyRanker(), quota=0.5, target=3).query(pool, unlabeled, labeled, n=10)
    assert sel.protected == 3  # label c lacks 3 annotations: the quota is capped there
    assert set(sel.indices[:3].tolist()) <= set(range(400, 405))
    assert [r["component"] for r in sel.reasons] == ["rare"] * 3 + ["uncertainty"] * 7
    assert sel.indices[3:].tolist() == [r for r in base_order.tolist() if r not in sel.indices[:3]][:7]
    # every label at the target: no quota, unless keep_going
    plain = RareQuota(UncertaintyRanker(), quota=0.5, target=1).query(pool, unlabeled, labeled, n=10)
    done_labels = {**pool.labels, 400: ("c",)}
    done = Pool(pool.embeddings, pool.classes, proba=pool.proba, labels=done_labels,
                label_embeddings=pool.label_embeddings)
    lab2, unl2 = np.append(labeled, 400), unlabeled[unlabeled != 400]
    assert RareQuota(UncertaintyRanker(), quota=0.5, target=1).query(done, unl2, lab2, n=10).protected == 0
    keep = RareQuota(UncertaintyRanker(), quota=0.5, target=1, keep_going=True).query(done, unl2, lab2, n=10)
    assert keep.protected == 5 and keep.reasons[0]["label"] == "c"  # labels take turns, fewest first
    assert [r["component"] for r in keep.reasons[:5]] == ["rare"] * 5
    assert plain.protected == 1


def test_language_coverage_keeps_quota_picks() -> None:
    pool, labeled, unlabeled = rare_setup()
    languages = np.array(["en"] * len(pool), dtype=object)
    languages[400:] = "de"  # the planted rare texts are German
    scores, _ = uncertainty_scores(pool.proba[unlabeled])
    languages[unlabeled[np.argsort(scores)[:10]]] = "sv"  # the 10 texts the model is surest about are Swedish
    pool.languages = languages.tolist()
    quota = RareQuota(UncertaintyRanker(), quota=0.3, target=10)
    plain = quota.query(pool, unlabeled, labeled, n=10)
    assert plain.protected == 3 and {pool.languages[i] for i in plain.indices} == {"de", "en"}
    sel = LanguageCoverage(quota, 0.02).query(pool, unlabeled, labeled, n=10)
    assert sel.indices[:9].tolist() == plain.indices[:9].tolist() and pool.languages[sel.indices[9]] == "sv"
    # a batch of quota picks only is left as it is, although English and Swedish are missing
    all_quota = RareQuota(UncertaintyRanker(), quota=1.0, target=10)
    sel = LanguageCoverage(all_quota, 0.02).query(pool, unlabeled, labeled, n=3)
    assert sel.protected == 3 and sel.indices.tolist() == all_quota.query(pool, unlabeled, labeled, n=3).indices.tolist()
    assert {pool.languages[i] for i in sel.indices} == {"de"}


def test_description_quota_then_clusters() -> None:
    X, cid = blobs([50, 50, 50, 50], dim=16, spread=0.1, seed=4)
    pool = Pool(X, CLASSES, label_embeddings=normalize(np.eye(16, dtype=np.float32)[:4]))
    sel = DescriptionQuota(ClusterRanker(), share=0.5).query(pool, np.arange(200), np.zeros(0, dtype=np.int64), n=6)
    assert sel.protected == 4
    assert [CLASSES[cid[i]] for i in sel.indices[:4]] == [r["label"] for r in sel.reasons[:4]]
    assert sorted(r["label"] for r in sel.reasons[:4]) == CLASSES
    assert [r["component"] for r in sel.reasons[4:]] == ["cluster", "cluster"]


PRESETS = [MarginSampling, Diversity, RareClassSearch, ColdStart, CombinedSampler]


@pytest.mark.parametrize("preset", PRESETS, ids=[p.__name__ for p in PRESETS])
def test_a_preset_is_its_composition(preset) -> None:
    pool = random_pool()
    strategy = preset(random_state=5)
    composed = strategy.compose()
    assert composed.random_state == 5
    a = strategy.query(pool, np.arange(20, 400), np.arange(20), n=12)
    b = composed.query(pool, np.arange(20, 400), np.arange(20), n=12)
    assert a.indices.tolist() == b.indices.tolist() and a.scores.tolist() == b.scores.tolist()
    assert {r["strategy"] for r in a.reasons} == {strategy.name}


def test_argselect_tiebreak_key() -> None:
    v = np.array([1.0, 3.0, 3.0, 3.0, 0.0])
    assert argselect(v, 3, tiebreak=np.array([0.0, 0.9, 0.1, 0.5, 0.0])).tolist() == [2, 3, 1]
    with pytest.raises(StrategyError, match="not both"):
        argselect(v, 1, rng=np.random.default_rng(0), tiebreak=np.zeros(5))


def test_combined_schedule_switches_to_uncertainty_alone_once_labels_reach_the_per_label_target() -> None:
    base = random_pool(n=400, seed=3, n_labeled=20)  # 20 labels: 5 per label
    pool = Pool(base.embeddings, CLASSES, proba=base.proba, labels=base.labels)
    cands, labeled = np.arange(20, 400), np.arange(20)
    late = CombinedSampler(rare_quota=0.0, late_per_class=5, random_state=0)
    early = CombinedSampler(rare_quota=0.0, late_per_class=6, random_state=0)
    assert late.is_late(pool, labeled) and not early.is_late(pool, labeled)
    unc, _ = uncertainty_scores(pool.proba[cands], "margin", False)
    top = set(cands[np.argsort(-unc, kind="stable")[:12]].tolist())
    assert set(late.query(pool, cands, labeled, n=12).indices.tolist()) == top  # margin sampling
    plain = CombinedSampler(rare_quota=0.0, random_state=0).query(pool, cands, labeled, n=12)
    assert early.query(pool, cands, labeled, n=12).indices.tolist() == plain.indices.tolist()
    assert set(plain.indices.tolist()) != top  # density and cluster spread change the early batch


def test_keyword_rule_hits_lead_the_rare_class_search() -> None:
    from labelf_trainer.strategies.rare_class import rare_selection

    rng = np.random.default_rng(0)
    X = normalize(rng.normal(size=(60, 16)).astype(np.float32))
    desc = normalize(rng.normal(size=(2, 16)).astype(np.float32))
    far = np.argsort(X @ desc[1])[:2]  # a rule marks the two texts least like label "b"'s description for "b"
    hits = np.zeros((60, 2), dtype=bool)
    hits[far, 1] = True
    candidates = np.arange(60)
    plain = Pool(embeddings=X, classes=["a", "b"], label_embeddings=desc)
    ruled = Pool(embeddings=X, classes=["a", "b"], label_embeddings=desc, rule_hits=hits)
    labeled = np.zeros(0, dtype=np.int64)
    before = rare_selection(plain, candidates, labeled, 4, rare_target=2, threshold=0.99)
    after = rare_selection(ruled, candidates, labeled, 4, rare_target=2, threshold=0.99)
    picked_b = [int(i) for i, r in zip(after.indices, after.reasons) if r["label"] == "b"]
    assert sorted(picked_b) == sorted(int(i) for i in far)  # the rule's texts, although least like the description
    assert not set(far.tolist()) & set(before.indices.tolist())
    assert all("keyword rule" in r["summary"] for r in after.reasons if r["label"] == "b")
    with pytest.raises(StrategyError, match="rule_hits has shape"):
        Pool(embeddings=X, classes=["a", "b"], rule_hits=hits[:10])


def multi_label_setup(n_labeled: int = 16) -> tuple[Pool, np.ndarray, np.ndarray]:
    """Eight labels, 200 texts in four planted clusters; the model is sure about every label except one label of
    rows 20-39 and six labels of rows 100-119 (p = 0.5: each row's most uncertain label is equally uncertain)."""
    X, _ = blobs([50, 50, 50, 50], dim=16, spread=0.1, seed=7)
    classes = [f"l{j}" for j in range(8)]
    P = np.full((200, 8), 0.001)
    P[:, 0] = 0.999
    P[20:40, 1] = 0.5
    P[100:120, 1:7] = 0.5
    labels = {int(r): (classes[r % 8],) for r in range(n_labeled)}  # every label below the rare target of 10
    pool = Pool(X, classes, proba=P, labels=labels, label_embeddings=normalize(np.eye(16, dtype=np.float32)[:8]),
                multi_label=True)
    labeled = np.arange(n_labeled)
    return pool, labeled, np.setdiff1d(np.arange(200), labeled)


def test_uncertainty_multi_label_mean_over_labels() -> None:
    pool, _, rows = multi_label_setup()
    most, _ = uncertainty_scores(pool.proba[rows], "margin", multi_label=True)
    mean, unsure = uncertainty_scores(pool.proba[rows], "margin", multi_label=True, combine="mean")
    assert most[rows == 20] == most[rows == 100] == 1.0  # the most uncertain label alone: a tie
    assert mean[rows == 100] > mean[rows == 20] > mean[rows == 60]  # three unsure labels > one > none
    assert unsure[rows == 20] == 1
    with pytest.raises(StrategyError, match="combine"):
        uncertainty_scores(pool.proba[rows], "margin", multi_label=True, combine="sum")  # type: ignore[arg-type]


def test_combined_multi_label_ranks_by_mean_uncertainty_without_rare_quota() -> None:
    pool, labeled, unlabeled = multi_label_setup()
    sel = CombinedSampler(random_state=0).query(pool, unlabeled, labeled, n=10)
    assert {r["component"] for r in sel.reasons} == {"impact"}  # every label is under the target: no rare picks
    assert ((sel.indices >= 100) & (sel.indices < 120)).all()  # unsure about three labels, not about one
    # the single-label composition on the same pool: a rare quota, the max over labels ties rows 20-39 with 100-119
    old = CombinedSampler(multi_label_rare_quota=0.3, multi_label_uncertainty="max", random_state=0)
    picked = old.query(pool, unlabeled, labeled, n=10)
    assert sum(r["component"] == "rare" for r in picked.reasons) == 3
    assert ((picked.indices >= 20) & (picked.indices < 40)).any()
    # a single-label pool keeps its rare quota
    single = Pool(pool.embeddings, pool.classes, proba=pool.proba / pool.proba.sum(1, keepdims=True),
                  labels=pool.labels, label_embeddings=pool.label_embeddings)
    sel = CombinedSampler(random_state=0).query(single, unlabeled, labeled, n=10)
    assert sum(r["component"] == "rare" for r in sel.reasons) == 3


def test_combined_multi_label_first_batch_follows_the_model_not_the_cold_start() -> None:
    pool, _, _ = multi_label_setup(n_labeled=0)
    none = np.zeros(0, dtype=np.int64)
    sampler = CombinedSampler(random_state=0)
    assert not sampler.uses_cold_start(pool, none)
    sel = sampler.query(pool, np.arange(200), none, n=8)
    assert {r["component"] for r in sel.reasons} == {"impact"}
    assert ((sel.indices >= 100) & (sel.indices < 120)).all()  # the zero-shot model's most uncertain texts
    cold = CombinedSampler(multi_label_cold_start=True, random_state=0)
    assert any(r["component"] == "description" for r in cold.query(pool, np.arange(200), none, n=8).reasons)
    # without a model, or on a single-label pool, the first batch is still the cold start
    no_model = Pool(pool.embeddings, pool.classes, label_embeddings=pool.label_embeddings, multi_label=True)
    assert sampler.uses_cold_start(no_model, none)
    single = Pool(pool.embeddings, pool.classes, proba=np.full((200, 8), 0.125),
                  label_embeddings=pool.label_embeddings)
    assert sampler.uses_cold_start(single, none)
    assert any(r["component"] == "description" for r in sampler.query(single, np.arange(200), none, n=8).reasons)
