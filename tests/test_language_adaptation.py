"""Language adaptation: self-training the embedding head on unlabeled texts of languages that have few labels.

The algorithm is checked on embeddings with a known shift (one language's texts sit apart and the labeled
language's boundary misplaces them); the wiring through real projects (SQLite workspace, language detection,
embedding cache, registry, CLI) with the static encoder.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers.data import TELECOM_ROWS

from labelf_trainer.loop.adaptation import (LABELS_PER_CLASS, MIN_GROUP, fit_adapted, plan_adaptation,
                                                pseudo_labels)
from labelf_trainer.models.embedding_head import EmbeddingHeadClassifier

OPENERS = {"en": ["Hello,", "Hi team,", "Quick question:", "Urgent:", "Good morning,"],
           "de": ["Hallo,", "Guten Tag,", "Eine Frage:", "Dringend:", "Guten Morgen,"]}
GERMAN = ["Meine Rechnung ist viel höher als im letzten Monat.",
          "Warum wurde mir dieselbe Rechnung zweimal berechnet?",
          "Ich möchte eine Erstattung für die zusätzliche Gebühr auf meiner Rechnung.",
          "Von meinem Bankkonto wurde der falsche Betrag abgebucht.",
          "Meine Internetverbindung bricht jeden Abend ab.",
          "Ich habe seit gestern keinen Handyempfang.",
          "Der Router blinkt rot und nichts verbindet sich.",
          "Das Breitband ist wieder ausgefallen und das WLAN funktioniert nicht.",
          "Ich möchte meinen Vertrag kündigen.",
          "Bitte beenden Sie mein Abonnement zum Monatsende.",
          "Wie kann ich meinen Tarif beenden und Ihr Unternehmen verlassen?",
          "Kündigen Sie mein Konto, ich wechsle zu einem anderen Anbieter."]


# -- the algorithm ---------------------------------------------------------------------------------------------
def test_pseudo_labels_give_every_class_its_share_even_when_one_class_wins_every_argmax() -> None:
    rng = np.random.default_rng(0)
    proba = rng.dirichlet([1, 1, 1], size=60)
    proba[:, 1] += 2.0  # the model calls every text class 1 (the French-tweets-are-neutral bias)
    proba /= proba.sum(axis=1, keepdims=True)
    assert (proba.argmax(axis=1) == 1).all()
    rows, cls = pseudo_labels(proba, np.array([0.5, 0.25, 0.25]), fraction=0.5)
    assert len(set(rows.tolist())) == len(rows)  # each text at most once
    counts = np.bincount(cls, minlength=3)
    assert counts[0] > counts[1] > 0 and counts[2] > 0  # quotas follow the prior (15 / 8 / 8), not the argmax
    assert counts.sum() <= 31
    for j in range(3):  # the texts a class gets are among its highest-scored ones
        assert proba[rows[cls == j], j].min() >= np.sort(proba[:, j])[::-1][15 if j == 0 else 8]


def test_self_training_recovers_a_language_the_labeled_one_misplaces() -> None:
    rng = np.random.default_rng(1)
    centers = np.array([[3.0, 0.0], [0.0, 0.0], [-3.0, 0.0]])  # negative / neutral / positive
    classes = ["negative", "neutral", "positive"]

    def sample(n: int, shift: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        y = rng.integers(0, 3, size=n)
        X = centers[y] * np.array([[1.0, 1.0]]) + rng.normal(0, 0.6, size=(n, 2))
        X[:, 0] *= 0.4  # this language's texts are squeezed towards the middle class...
        return X + shift, y

    Xs, ys = sample(300, np.zeros(2))
    Xs[:, 0] /= 0.4  # ...the labeled language's are not
    Xt, yt = sample(600, np.array([0.0, 2.0]))
    Xu, _ = sample(400, np.array([0.0, 2.0]))  # unlabeled texts of the same language
    ys_lab = [classes[i] for i in ys]

    plain = EmbeddingHeadClassifier(encoder="static", labels=classes).fit_embeddings(Xs, ys_lab)
    before = (plain.predict_proba_embeddings(Xt).argmax(1) == yt).mean()
    adapted = EmbeddingHeadClassifier(encoder="static", labels=classes)
    used = fit_adapted(adapted, Xs, ys_lab, {"fr": Xu})
    after = (adapted.predict_proba_embeddings(Xt).argmax(1) == yt).mean()
    source = (adapted.predict_proba_embeddings(Xs).argmax(1) == ys).mean()
    assert 0 < used["fr"] <= 200 + 3  # half the pool, give or take rounding per class
    assert before < 0.7 and after > 0.9, (before, after)
    assert source > 0.95  # the labeled language does not pay for it


def test_plan_adapts_only_large_groups_of_languages_with_few_labels() -> None:
    k = 3
    pool = ["de"] * 80 + ["fr"] * (MIN_GROUP - 1) + ["sv"] * 60 + ["en"] * 200 + ["unknown"] * 90
    labeled = ["en"] * 40 + ["sv"] * (LABELS_PER_CLASS * k) + ["de"] * 2
    plan = plan_adaptation(pool, labeled, k, seed=0)
    assert list(plan.rows) == ["de"] and len(plan.rows["de"]) == 80
    assert all(pool[i] == "de" for i in plan.rows["de"])
    assert plan.skipped == {"en": "40 labels (the most labeled language)", "sv": "15 labels",
                            "fr": f"only {MIN_GROUP - 1} unlabeled texts"}
    assert "de 80" in plan.describe()
    # the sample per language is capped and seeded
    a = plan_adaptation(pool, labeled, k, seed=3, max_per_language=20)
    b = plan_adaptation(pool, labeled, k, seed=3, max_per_language=20)
    assert len(a.rows["de"]) == 20 and a.rows == b.rows
    # a language with few labels that is the only labeled one is the source: nothing to adapt
    assert not plan_adaptation(["en"] * 500, ["en"] * 4, k)
    # a big pool with many one-off misdetections: the log line names a few and counts the rest
    noisy = plan_adaptation(["en"] * 500 + ["eo", "nl", "hu", "tl", "ca", "ro"], ["en"] * 40, k)
    assert not noisy and len(noisy.skipped) == 7  # all kept in the record
    assert noisy.describe() == ("language adaptation: no language to adapt (en: 40 labels (the most labeled "
                                "language); eo: only 1 unlabeled text; nl: only 1 unlabeled text; hu: only 1 "
                                "unlabeled text; 3 more)")


# -- through a real project ------------------------------------------------------------------------------------
def _project(make_config, extra_rows: list[tuple], **cfg: object):
    from labelf_trainer.loop.project import Project
    from labelf_trainer.types import Annotation

    rows = [(i, t, "") for i, t, _ in TELECOM_ROWS] + extra_rows
    project = Project.open(make_config(rows=rows, **cfg), create=True)
    project.import_sources()
    by_text = {it.text: it.id for it in project.ws.items.all()}
    project.ws.annotations.add([Annotation(by_text[t], (lab,), "tester", "test", f"a-{i}")
                                for i, t, lab in TELECOM_ROWS])
    return project


def _variants(lang: str, texts: list[str]) -> list[tuple]:
    return [(f"{lang}{n}", f"{o} {t}", "") for n, (o, t) in enumerate((o, t) for o in OPENERS[lang] for t in texts)]


def test_training_adapts_an_unlabeled_language_and_records_it(make_config) -> None:
    from labelf_trainer.loop.trainer import train_and_register

    project = _project(make_config, _variants("de", GERMAN))
    try:
        result = train_and_register(project, "embedding-head", deploy=True, progress=False,
                                    language_adaptation="on")
        ad = result.params["language_adaptation"]
        assert ad["enabled"] and ad["mode"] == "on" and ad["unlabeled"] == {"de": 60}, ad
        pseudo = result.metrics["language_adaptation"]["pseudo_labels"]
        assert 0 < pseudo["de"] <= 30
        stored = project.registry.get(result.model_id).version(result.version)
        assert stored.params["language_adaptation"] == ad  # recorded with the version
        off = train_and_register(project, "embedding-head", deploy=False, progress=False, language_adaptation="off")
        assert off.params["language_adaptation"] == {"enabled": False, "reason": "off", "mode": "off"}
        assert "language_adaptation" not in off.metrics
        assert not np.allclose(result.model.head_.coef, off.model.head_.coef)  # pseudo-labels changed the head
        # auto (the default) adapts only with a known multilingual encoder; `static` is English
        auto = train_and_register(project, "embedding-head", deploy=False, progress=False)
        assert auto.params["language_adaptation"]["mode"] == "auto"
        assert not auto.params["language_adaptation"]["enabled"]
        assert "not a known multilingual encoder" in auto.params["language_adaptation"]["reason"]
        np.testing.assert_array_equal(auto.model.head_.coef, off.model.head_.coef)
    finally:
        project.close()


def test_one_language_project_trains_exactly_as_without_adaptation(make_config) -> None:
    from labelf_trainer.loop.trainer import train_and_register

    # 12 English labels (< 5 per label) and 60 unlabeled English texts: English is the labeled language, left alone
    project = _project(make_config, _variants("en", [t for _, t, _ in TELECOM_ROWS]))
    try:
        on = train_and_register(project, "embedding-head", deploy=False, progress=False, language_adaptation="on")
        off = train_and_register(project, "embedding-head", deploy=False, progress=False, language_adaptation="off")
        assert on.params["language_adaptation"]["unlabeled"] == {}
        assert on.params["language_adaptation"]["skipped"]["en"].endswith("(the most labeled language)")
        np.testing.assert_array_equal(on.model.head_.coef, off.model.head_.coef)
        assert on.metrics["accuracy"] == off.metrics["accuracy"]
    finally:
        project.close()


def test_config_switch_and_cli_errors(make_config, cli) -> None:
    from labelf_trainer.loop.trainer import train_and_register

    # YAML reads `on` / `off` as booleans: both spellings work
    project = _project(make_config, _variants("de", GERMAN), training={"language_adaptation": True}, name="yes")
    try:
        assert project.config.training.language_adaptation == "on"
        assert train_and_register(project, progress=False).params["language_adaptation"]["unlabeled"] == {"de": 60}
    finally:
        project.close()
    cfg = make_config(task="multi-label", name="multi")
    assert cli("init", str(cfg)).returncode == 0
    res = cli("train", "--language-adaptation", "on", "-c", str(cfg), "-q")
    assert res.returncode != 0
    assert res.stderr.strip().splitlines() == [
        "error: language adaptation applies to single-label embedding-head models, not multi-label embedding-head"]
    res = cli("train", "--language-adaptation", "sometimes", "-c", str(cfg), "-q")
    assert res.returncode != 0
    assert res.stderr.strip().splitlines() == ["error: language adaptation must be auto, on or off, not 'sometimes'"]
    bad = make_config(name="bad", training={"language_adaptation": "always"})
    res = cli("init", str(bad))
    assert res.returncode != 0 and "training.language_adaptation" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("mode", ["on", "off"])
def test_cli_train_prints_the_adaptation(make_config, cli, mode: str) -> None:
    project = _project(make_config, _variants("de", GERMAN), name=f"cli{mode}")
    cfg = project.config.source_path
    project.close()
    res = cli("train", "--language-adaptation", mode, "-c", str(cfg))
    assert res.returncode == 0, res.stderr
    adapted = "language adaptation: pseudo-labels per language de" in res.stderr
    assert adapted == (mode == "on"), res.stderr
