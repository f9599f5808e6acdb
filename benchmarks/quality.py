"""Label quality (issue 15): how well `labelf review` finds flipped labels, and how precise keyword rules are.

Noise (``noise`` rows): a sample of N labeled texts per class (``sample_per_class``), then a share of their labels
flipped: ``uniform`` (to a random other class) or ``confusable`` (to the class whose centre, in the sample's
embeddings, is nearest the true class's centre). What runs is the product's code path without the workspace:
``quality/oof.py: oof_proba`` (5-fold out-of-fold scores of the embedding head's ``LogisticHead`` on frozen MiniLM
embeddings) and ``quality/review.py: find_suspects`` (cleanlab ``find_label_issues`` with
``filter_by="prune_by_class"``, and ``get_label_quality_scores``); ``noise rate``: the same with cleanlab's default
``prune_by_noise_rate``. Reported: the flagged count, detection precision and recall against the flipped
set, and test accuracy of the head trained on clean labels, on noisy labels, and on noisy labels after one review
round (the flagged texts relabeled with gold). Baseline on the same out-of-fold scores: ``argmax`` flags every
label that differs from the out-of-fold top class (what one would do without cleanlab).

Rules (``rules`` rows): phrases and patterns per label written from the label descriptions (below, before looking at
any data), compiled by ``quality/rules.py``; coverage and precision of each label's rules on the whole training
split.

Usage:
    HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1 .venv/bin/python benchmarks/quality.py
    .venv/bin/python benchmarks/quality.py --datasets trec --sizes 20 --seeds 0
    .venv/bin/python benchmarks/quality.py --readme-only
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import common
import numpy as np
from common import RESULTS

NAME = "quality"
DEFAULT_DATASETS = ("banking77", "bitext_customer_support", "trec")
NOISES = (("uniform", 0.1), ("uniform", 0.2), ("confusable", 0.1))
MAX_TEST = 2000
SEED = 42

#: Rules written from the label descriptions (benchmarks/data/*_descriptions.yaml) before looking at the data.
RULES: dict[str, dict[str, dict[str, list[str]]]] = {
    "trec": {
        "ABBR": {"phrases": ["stand for", "abbreviation", "acronym", "short for"]},
        "DESC": {"patterns": [r"^(what is|what are|what does) (a|an|the)? ?\w+\s*\??$", r"^why\b",
                              r"^how (do|does|did|can)\b"],
                 "phrases": ["definition of", "what does it mean"]},
        "ENTY": {"phrases": ["what animal", "what kind of", "what color", "what colour", "what sport", "what food"]},
        "HUM": {"patterns": [r"^who\b", r"^whose\b"],
                "phrases": ["what company", "which company", "name of the person"]},
        "LOC": {"patterns": [r"^where\b"], "phrases": ["what country", "what city", "which country", "what state",
                                                       "what mountain"]},
        "NUM": {"patterns": [r"^how (many|much|long|far|old|tall|big)\b", r"^when\b", r"^what year\b"],
                "phrases": ["what percentage", "what date", "how often"]},
    },
    "bitext_customer_support": {
        "cancel_order": {"phrases": ["cancel my order", "cancel order", "cancel the order", "cancel purchase",
                                     "cancelling purchase"]},
        "change_order": {"phrases": ["change my order", "modify my order", "change order", "edit my order",
                                     "add an item", "remove an item"]},
        "change_shipping_address": {"phrases": ["change my shipping address", "update my address",
                                                "change the delivery address", "change shipping address"]},
        "check_cancellation_fee": {"phrases": ["cancellation fee", "cancellation penalty", "early termination fee",
                                               "penalty for cancelling"]},
        "check_invoice": {"phrases": ["check my invoice", "see my invoice", "view my bill", "check invoice"]},
        "check_payment_methods": {"phrases": ["payment methods", "payment options", "pay with paypal",
                                              "accept credit card"]},
        "check_refund_policy": {"phrases": ["refund policy", "money back guarantee", "when can i get a refund"]},
        "complaint": {"phrases": ["file a complaint", "make a complaint", "complain", "lodge a complaint"]},
        "contact_customer_service": {"phrases": ["customer service", "customer support", "phone number",
                                                 "opening hours", "contact you"]},
        "contact_human_agent": {"phrases": ["human agent", "real person", "live agent", "speak to someone",
                                            "talk to a person"]},
        "create_account": {"phrases": ["create an account", "open an account", "sign up", "new account"]},
        "delete_account": {"phrases": ["delete my account", "close my account", "remove my account",
                                       "delete account"]},
        "delivery_options": {"phrases": ["delivery options", "shipping methods", "shipping options",
                                         "do you deliver", "ship to"]},
        "delivery_period": {"phrases": ["how long does delivery", "when will my package", "delivery time",
                                        "when will it arrive", "how long will it take"]},
        "edit_account": {"phrases": ["edit my account", "update my profile", "change my name",
                                     "modify my account", "edit account"]},
        "get_invoice": {"phrases": ["get my invoice", "download my invoice", "copy of my invoice", "get invoice",
                                    "send me the invoice"]},
        "get_refund": {"phrases": ["get a refund", "request a refund", "reimbursement", "get my money back"]},
        "newsletter_subscription": {"phrases": ["newsletter", "unsubscribe", "subscribe"]},
        "payment_issue": {"phrases": ["payment issue", "payment problem", "payment failed", "payment error",
                                      "charged twice"]},
        "place_order": {"phrases": ["place an order", "buy", "make a purchase", "purchase some", "order some"]},
        "recover_password": {"phrases": ["forgot my password", "reset my password", "recover my password",
                                         "password"]},
        "registration_problems": {"phrases": ["registration problem", "can't register", "cannot sign up",
                                              "error registering", "problem signing up"]},
        "review": {"phrases": ["leave a review", "give feedback", "write a review", "my opinion", "feedback"]},
        "set_up_shipping_address": {"phrases": ["set up a shipping address", "add a new address",
                                                "new shipping address", "add another address",
                                                "secondary address"]},
        "switch_account": {"phrases": ["switch account", "switch to premium", "upgrade my account",
                                       "change account type", "switch to the"]},
        "track_order": {"phrases": ["track my order", "where is my order", "order status", "track order"]},
        "track_refund": {"phrases": ["track my refund", "refund status", "where is my refund", "track refund"]},
    },
}


def _flip(y: np.ndarray, X: np.ndarray, n_classes: int, kind: str, rate: float,
          rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Noisy labels and the flipped rows."""
    k = int(round(rate * len(y)))
    rows = np.sort(rng.choice(len(y), size=k, replace=False))
    noisy = y.copy()
    if kind == "uniform":
        for r in rows:
            noisy[r] = rng.choice([c for c in range(n_classes) if c != y[r]])
    else:
        cent = np.stack([X[y == c].mean(axis=0) for c in range(n_classes)])
        cent /= np.linalg.norm(cent, axis=1, keepdims=True)
        sim = cent @ cent.T
        np.fill_diagonal(sim, -np.inf)
        nearest = sim.argmax(axis=1)
        noisy[rows] = nearest[y[rows]]
    return noisy, rows


def _fit_acc(X: np.ndarray, y: np.ndarray, n_classes: int, Xt: np.ndarray, yt: np.ndarray) -> float:
    from labelf_trainer.models.args import DEFAULT_C
    from labelf_trainer.models.embedding_head import LogisticHead

    head = LogisticHead.fit(X, y, n_classes, multi_label=False, C=DEFAULT_C, random_state=SEED)
    return float((head.predict_proba(Xt).argmax(axis=1) == yt).mean())


def _pr(flagged: np.ndarray, flipped: np.ndarray) -> dict:
    f, t = set(map(int, flagged)), set(map(int, flipped))
    hit = len(f & t)
    p = hit / len(f) if f else 0.0
    r = hit / len(t) if t else 1.0
    return {"flagged": len(f), "precision": round(p, 4), "recall": round(r, 4),
            "f1": round(2 * p * r / (p + r), 4) if p + r else 0.0}


def noise_rows(ds: common.Dataset, sizes: list[int], seeds: list[int]) -> dict[str, dict]:
    from labelf_trainer.quality.oof import oof_proba
    from labelf_trainer.quality.review import find_suspects

    C = len(ds.classes)
    test = ds.test.sample(n=min(MAX_TEST, len(ds.test)), random_state=0) if len(ds.test) > MAX_TEST else ds.test
    Xt = common.embed(test["text"].tolist(), description=f"{ds.key} test")
    yt = np.array([ds.classes.index(c) for c in test[ds.label_column]])
    rows: dict[str, dict] = {}
    for size in sizes:
        for kind, rate in NOISES:
            per_seed = []
            for seed in seeds:
                t0 = time.perf_counter()
                df = common.sample_per_class(ds.train, size, seed, ds.label_column)
                X = common.embed(df["text"].tolist(), description=f"{ds.key} train")
                y = np.array([ds.classes.index(c) for c in df[ds.label_column]])
                noisy, flipped = _flip(y, X, C, kind, rate, np.random.default_rng([seed, 7]))
                proba = oof_proba(X, noisy, C, multi_label=False, seed=SEED)
                issues, _quality = find_suspects(proba, noisy)
                by_rate, _q = find_suspects(proba, noisy, filter_by="prune_by_noise_rate")
                argmax = np.flatnonzero(proba.argmax(axis=1) != noisy)
                fixed = noisy.copy()
                fixed[issues] = y[issues]
                fixed_argmax = noisy.copy()
                fixed_argmax[argmax] = y[argmax]
                per_seed.append({
                    "n": len(y), "flipped": len(flipped), "cleanlab": _pr(issues, flipped),
                    "cleanlab_noise_rate": _pr(by_rate, flipped), "argmax": _pr(argmax, flipped),
                    "acc_clean": _fit_acc(X, y, C, Xt, yt), "acc_noisy": _fit_acc(X, noisy, C, Xt, yt),
                    "acc_reviewed": _fit_acc(X, fixed, C, Xt, yt),
                    "acc_reviewed_argmax": _fit_acc(X, fixed_argmax, C, Xt, yt),
                    "seconds": round(time.perf_counter() - t0, 1)})
                s = per_seed[-1]
                print(f"{ds.key} {size}/class {kind} {rate:.0%} seed {seed}: "
                      f"cleanlab P {s['cleanlab']['precision']:.2f} "
                      f"R {s['cleanlab']['recall']:.2f} ({s['cleanlab']['flagged']} flagged of {s['flipped']}); "
                      f"acc clean {s['acc_clean']:.3f} noisy {s['acc_noisy']:.3f} reviewed {s['acc_reviewed']:.3f} "
                      f"({s['seconds']} s)", flush=True)
            rows[f"noise/{size}/{kind}/{rate}"] = _mean(per_seed) | {"size": size, "kind": kind, "rate": rate,
                                                                      "seeds": seeds}
    return rows


def discover_rows(ds: common.Dataset, seeds: list[int], per_class: int = 50, held_share: float = 0.25
                  ) -> dict[str, dict]:
    """Hold out 25% of the classes; cluster their texts (``per_class`` each) mixed with as many texts of the known
    classes, as `labelf discover` does (``quality/discover.py: cluster_texts`` with its defaults: k by silhouette on
    a geometric grid up to 150). A held-out class is found when some cluster has it as majority with purity >= 0.7."""
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    from labelf_trainer.quality.discover import cluster_texts

    rows: dict[str, dict] = {}
    runs = []
    for seed in seeds:
        rng = np.random.default_rng([seed, 15])
        held = sorted(rng.choice(len(ds.classes), size=round(held_share * len(ds.classes)), replace=False).tolist())
        df = common.sample_per_class(ds.train, per_class, seed, ds.label_column)
        y = np.array([ds.classes.index(c) for c in df[ds.label_column]])
        unknown = np.flatnonzero(np.isin(y, held))
        known = rng.choice(np.flatnonzero(~np.isin(y, held)), size=len(unknown), replace=False)
        rows_idx = np.sort(np.concatenate([unknown, known]))
        X = common.embed(df["text"].iloc[rows_idx].tolist(), description=f"{ds.key} train")
        truth = y[rows_idx]
        t0 = time.perf_counter()
        assign, k = cluster_texts(X, min_size=3, seed=seed)  # the defaults of `labelf discover`
        found: dict[int, int] = {}  # held-out class -> clusters it is the >= 0.7 majority of
        for c in range(k):
            members = truth[assign == c]
            if len(members) >= 3:
                top = int(np.bincount(members).argmax())
                if top in held and (members == top).mean() >= 0.7:
                    found[top] = found.get(top, 0) + 1
        is_unknown = np.isin(truth, held)
        runs.append({"held_out": len(held), "found": len(found), "found_share": len(found) / len(held), "k": k,
                     "ari": adjusted_rand_score(truth, assign), "nmi": normalized_mutual_info_score(truth, assign),
                     "ari_unknown": adjusted_rand_score(truth[is_unknown], assign[is_unknown]),
                     "nmi_unknown": normalized_mutual_info_score(truth[is_unknown], assign[is_unknown]),
                     "clusters_per_found": float(np.mean(list(found.values()))) if found else 0.0,
                     "texts": len(rows_idx), "seconds": round(time.perf_counter() - t0, 1)})
        print(f"{ds.key} discover seed {seed}: {len(found)}/{len(held)} held-out classes found (k={k}, "
              f"ARI {runs[-1]['ari']:.2f}, NMI {runs[-1]['nmi']:.2f})", flush=True)
    rows["discover"] = _mean(runs) | {"seeds": seeds, "per_class": per_class}
    return rows


def _mean(runs: list[dict]) -> dict:
    out: dict = {}
    for k, v in runs[0].items():
        if isinstance(v, dict):
            out[k] = _mean([r[k] for r in runs])
        else:
            out[k] = round(float(np.mean([r[k] for r in runs])), 4)
    return out


def rule_rows(ds: common.Dataset) -> dict[str, dict]:
    from labelf_trainer.config import ProjectConfig
    from labelf_trainer.quality.rules import compile_rules, rule_matrix

    spec = RULES.get(ds.name)
    if not spec:
        return {}
    cfg = ProjectConfig(project="bench", labels=[{"name": c} for c in ds.classes], rules=spec)
    rules = compile_rules(cfg)
    texts = ds.texts("train")
    labels = ds.labels("train")
    hits = rule_matrix(rules, texts)
    out: dict[str, dict] = {}
    any_hit = np.zeros(len(texts), dtype=bool)
    correct_any = np.zeros(len(texts), dtype=bool)
    for label in spec:
        cols = [j for j, r in enumerate(rules) if r.label == label]
        h = hits[:, cols].any(axis=1)
        ok = h & np.array([lab == label for lab in labels])
        any_hit |= h
        correct_any |= ok
        out[f"rules/{label}"] = {"label": label, "rules": len(cols), "hits": int(h.sum()),
                                 "coverage": round(float(h.mean()), 4),
                                 "precision": round(float(ok.sum() / h.sum()), 4) if h.sum() else None,
                                 "recall": round(float(ok.sum() / max(1, sum(lab == label for lab in labels))), 4)}
    per_text = hits.astype(int) @ np.ones(len(rules), dtype=int)
    labels_hit = np.stack([hits[:, [j for j, r in enumerate(rules) if r.label == lab]].any(axis=1) for lab in spec], 1)
    out["rules/all"] = {"label": "(all)", "rules": len(rules), "hits": int(any_hit.sum()),
                        "coverage": round(float(any_hit.mean()), 4),
                        "texts_one_label": int((labels_hit.sum(axis=1) == 1).sum()),
                        "precision_one_label": round(float(
                            sum(1 for i in np.flatnonzero(labels_hit.sum(axis=1) == 1)
                                if list(spec)[int(labels_hit[i].argmax())] == labels[i])
                            / max(1, int((labels_hit.sum(axis=1) == 1).sum()))), 4),
                        "rule_hits_per_text": round(float(per_text.mean()), 3)}
    return out


def section(doc: dict) -> str:
    lines = ["## Label quality (`labelf review`, `labelf rules`)", "",
             "Script: `benchmarks/quality.py` (results: `results/quality.json`, `results/quality.png`). "
             "Flipped labels in a sample of N texts per class; `labelf review`'s code path (5-fold out-of-fold "
             "scores of the embedding head on frozen MiniLM embeddings, then cleanlab `find_label_issues` with "
             "`filter_by=prune_by_class`; `noise-rate`: cleanlab's default `prune_by_noise_rate` on the same scores). "
             "P/R: precision and recall of the flagged labels against the flipped ones. Accuracy: the head on the "
             "test split (up to 2,000 texts) trained on clean labels, on the noisy ones, and after one review round "
             "(flagged texts relabeled with gold). `argmax`: flag every label the out-of-fold top class disagrees "
             "with (no cleanlab). Means over seeds.", "",
             "| dataset | N/class | noise | flipped | flagged | P | R | argmax P | argmax R | acc clean | acc noisy "
             "| acc reviewed | reviewed - clean | noise-rate P | noise-rate R |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for key, block in doc.get("datasets", {}).items():
        for name, r in block.get("rows", {}).items():
            if not name.startswith("noise/"):
                continue
            cl, am, nr = r["cleanlab"], r["argmax"], r["cleanlab_noise_rate"]
            lines.append(f"| {key} | {int(r['size'])} | {r['kind']} {r['rate']:.0%} | {r['flipped']:.0f} | "
                         f"{cl['flagged']:.0f} | {cl['precision']:.2f} | {cl['recall']:.2f} | {am['precision']:.2f} | "
                         f"{am['recall']:.2f} | {r['acc_clean']:.3f} | {r['acc_noisy']:.3f} | "
                         f"{r['acc_reviewed']:.3f} | "
                         f"{100 * (r['acc_reviewed'] - r['acc_clean']):+.1f} pt | {nr['precision']:.2f} | "
                         f"{nr['recall']:.2f} |")
    lines += ["", "Rules written from the label descriptions before looking at the data (in the script), on the "
              "whole training split: coverage (share of texts a label's rules mark), precision (share of those "
              "whose label is the rule's) and recall.", "",
              "| dataset | label | rules | coverage | precision | recall |", "|---|---|---|---|---|---|"]
    for key, block in doc.get("datasets", {}).items():
        for name, r in block.get("rows", {}).items():
            if name.startswith("rules/") and name != "rules/all":
                lines.append(f"| {key} | {r['label']} | {r['rules']} | {r['coverage']:.1%} | "
                             f"{'' if r['precision'] is None else format(r['precision'], '.2f')} | {r['recall']:.2f} |")
        a = block.get("rows", {}).get("rules/all")
        if a:
            lines.append(f"| {key} | **all** | {a['rules']} | {a['coverage']:.1%} | {a['precision_one_label']:.2f} "
                         f"(texts marked for one label: {a['texts_one_label']}) | |")
    disc = [(k, b["rows"]["discover"], b.get("info", {}).get("n_classes")) for k, b in doc.get("datasets", {}).items()
            if "discover" in b.get("rows", {})]
    if disc:
        lines += ["", "Discovery (`labelf discover`'s clustering with its defaults: k-means on unit vectors, k by cosine "
                  "silhouette on a geometric grid up to 150): 25% of the classes held out (3 random splits), their training "
                  "texts (50 per class) mixed with as many texts of the known classes. Found: a cluster whose "
                  "majority is the class with purity >= 0.7 (issue goal: >= 70% of the held-out classes). ARI/NMI "
                  "against the true classes, on all clustered texts and on the held-out classes' texts only.", "",
                  "| dataset | texts | held-out classes | found | clusters per found class | k | ARI | NMI | "
                  "ARI (held-out) | NMI (held-out) |", "|---|---|---|---|---|---|---|---|---|---|"]
        for k, r, _n in disc:
            lines.append(f"| {k} | {r['texts']:.0f} | {r['held_out']:.0f} | {r['found']:.1f} ({r['found_share']:.0%}) | "
                         f"{r['clusters_per_found']:.1f} | {r['k']:.1f} | {r['ari']:.2f} | {r['nmi']:.2f} | "
                         f"{r['ari_unknown']:.2f} | {r['nmi_unknown']:.2f} |")
        for k, r, n_classes in disc:
            lines += ["", f"{k}: the silhouette chose k = {r['k']:.0f} on average for {r['texts']:.0f} texts of at most "
                      f"{n_classes} true groups; a found class is split over "
                      f"{r['clusters_per_found']:.1f} pure clusters on average, so adding a label often means merging "
                      f"clusters (ARI {r['ari']:.2f})."]
    lines += ["", "Goals of issue 15 at 10% uniform noise: detection precision and recall >= 0.8; one review round "
              "within 1 point of the clean-label accuracy.", ""]
    for key, block in doc.get("datasets", {}).items():
        for name, r in block.get("rows", {}).items():
            if name.startswith("noise/") and r["kind"] == "uniform" and abs(r["rate"] - 0.1) < 1e-9:
                cl = r["cleanlab"]
                det = "met" if cl["precision"] >= 0.8 and cl["recall"] >= 0.8 else "not met"
                gap = 100 * (r["acc_clean"] - r["acc_reviewed"])
                lines.append(f"- {key}, {int(r['size'])}/class: detection {det} (P {cl['precision']:.2f}, "
                             f"R {cl['recall']:.2f}); after review {gap:.1f} pt below clean: "
                             f"{'met' if gap <= 1.0 else 'not met'}")
    return "\n".join(lines)


def plot(doc: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [(k, n, r) for k, b in doc.get("datasets", {}).items() for n, r in b.get("rows", {}).items()
            if n.startswith("noise/")]
    if not rows:
        return
    fig, axes = plt.subplots(2, 1, figsize=(13, 8))
    short = {"banking77": "b77", "bitext_customer_support": "bitext"}
    names = [f"{short.get(k, k)} {int(r['size'])}/cl {r['kind'][:4]} {r['rate']:.0%}" for k, _n, r in rows]
    x = np.arange(len(rows))
    axes[0].bar(x - 0.2, [r["cleanlab"]["precision"] for *_, r in rows], 0.2, label="cleanlab P")
    axes[0].bar(x, [r["cleanlab"]["recall"] for *_, r in rows], 0.2, label="cleanlab R")
    axes[0].bar(x + 0.2, [r["argmax"]["precision"] for *_, r in rows], 0.2, label="argmax P")
    axes[0].axhline(0.8, color="grey", ls="--", lw=0.8)
    axes[0].set_xticks(x, names, fontsize=7, rotation=50, ha="right")
    axes[0].set_title("detection of flipped labels")
    axes[0].legend(fontsize=7)
    for key, lab in (("acc_clean", "clean"), ("acc_noisy", "noisy"), ("acc_reviewed", "after review")):
        axes[1].plot(x, [r[key] for *_, r in rows], "o-", label=lab)
    axes[1].set_xticks(x, names, fontsize=7, rotation=50, ha="right")
    axes[1].set_title("test accuracy")
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(RESULTS / f"{NAME}.png", dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common.add_dataset_args(ap, DEFAULT_DATASETS)
    ap.add_argument("--sizes", type=int, nargs="+", default=[20, 50], help="labeled texts per class")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--parts", nargs="+", default=["noise", "rules", "discover"],
                    choices=["noise", "rules", "discover"], help="what to measure (default: all)")
    ap.add_argument("--readme-only", action="store_true")
    common.add_publish_args(ap, tag=False)
    args = ap.parse_args()
    common.apply_common_args(args)
    if not args.readme_only:
        for spec in args.datasets:
            ds = common.load_dataset(spec)
            meta = {"encoder": "minilm", "sizes": args.sizes, "seeds": args.seeds, "folds": 5,
                    "filter_by": "prune_by_class",
                    "noises": [f"{k} {r}" for k, r in NOISES]}
            rows: dict[str, dict] = {}
            if "noise" in args.parts:
                rows |= noise_rows(ds, args.sizes, args.seeds)
            if "rules" in args.parts:
                rows |= rule_rows(ds)
            if "discover" in args.parts and ds.name == "banking77":
                rows |= discover_rows(ds, [0, 1, 2])
            common.write_results(NAME, {"datasets": {ds.key: {"meta": meta, "info": ds.info(), "rows": rows}}},
                                 publish=args.publish, coverage=("seeds", "sizes"))
    doc = common.load_results(NAME)
    plot(doc)
    common.write_section(NAME, section(doc))


if __name__ == "__main__":
    main()
