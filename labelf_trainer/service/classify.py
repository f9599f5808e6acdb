"""``POST /v1/classify``: one text against inline labels (zero-shot on the fly) or a saved classifier.

Inline label sets become fitted :class:`ZeroShotClassifier` models over the project's encoder (descriptions and
examples included), kept in a small LRU so a repeated label set costs one encoding pass for the text only.
A single inline label is scored on its own: ``sigmoid((cos - bias) / temperature)``, the multi-label zero-shot
score (how well the text matches the label). A saved classifier is a registry model by name or id, optionally
pinned (``support-tickets@v2``, ``42@3``); unpinned means the deployed version.

Responses are cached by the canonical request (plus the served model version), unless ``cache: false``.
``tokens`` is the number of tokens the encoder read for the text (its tokenizer, truncated to its window).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ..config import LabelSpec
from ..embeddings import load_encoder
from ..embeddings.backends.sentence_transformers import SentenceTransformerEncoder
from ..embeddings.backends.static import StaticEncoder
from ..exceptions import ModelNotFoundError
from ..models.zero_shot import ZeroShotClassifier
from ..models.zero_shot import DEFAULT_MULTI_BIAS, DEFAULT_TEMPERATURE, sigmoid
from ..loop.project import Project
from .manager import ModelManager, ServedModel
from .schemas import ClassifyRequest

__all__ = ["ClassifyService", "count_tokens", "resolve_classifier"]

_VERSION_RE = re.compile(r"^[vV]?(\d{1,9})$")


class _LRU:
    def __init__(self, size: int) -> None:
        self.size = size
        self._d: OrderedDict[Any, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any:
        with self._lock:
            if key in self._d:
                self._d.move_to_end(key)
                return self._d[key]
        return None

    def put(self, key: Any, value: Any) -> None:
        if self.size <= 0:
            return
        with self._lock:
            self._d[key] = value
            self._d.move_to_end(key)
            while len(self._d) > self.size:
                self._d.popitem(last=False)

    def __len__(self) -> int:
        return len(self._d)


@lru_cache(maxsize=16)
def _token_counter(encoder_name: str) -> Callable[[str], int]:
    enc = load_encoder(encoder_name)
    if isinstance(enc, SentenceTransformerEncoder):
        tok, window = enc.model.tokenizer, int(enc.model.max_seq_length or 512)
        return lambda t: len(tok(enc.prefix + t, truncation=True, max_length=window)["input_ids"])
    if isinstance(enc, StaticEncoder):
        try:
            from tokenizers import Tokenizer

            tok = Tokenizer.from_file(str(Path(enc._model_dir) / "tokenizer.json"))
            return lambda t: min(len(tok.encode(t).ids), 512)
        except Exception:  # noqa: BLE001 - fall back to counting words
            pass
    return lambda t: len(re.findall(r"\w+|[^\w\s]", t))


def count_tokens(encoder_name: str, text: str) -> int:
    return _token_counter(encoder_name)(text)


def resolve_classifier(project: Project, ref: str) -> tuple[int, int | None]:
    """``name``, ``name@v2``, ``42`` or ``42@3`` -> (model id, version or None for the deployed one)."""
    head, sep, ver = ref.strip().rpartition("@") if "@" in ref else (ref.strip(), "", "")
    version = None
    if sep:
        m = _VERSION_RE.match(ver.strip())
        if m is None:
            raise ModelNotFoundError(f"classifier: invalid version {ver!r} in {ref!r}; use NAME@vN, e.g. support-tickets@v2")
        version = int(m.group(1))
    records = project.registry.list()
    by_name = [r for r in records if r.name == head] or [r for r in records if r.name.lower() == head.lower()]
    if by_name:
        deployed = [r for r in by_name if r.deployed_version is not None]
        return (deployed or by_name)[-1].id, version
    if head.isdigit() and any(r.id == int(head) for r in records):
        return int(head), version
    known = ", ".join(repr(r.name) for r in records[:20]) or "none"
    raise ModelNotFoundError(f"classifier: no saved classifier named {head!r} (known: {known})")


class ClassifyService:
    """Answers ``/v1/classify`` requests (thread-safe; shared by the request threads).

    Usage::

        svc = ClassifyService(project, manager, cache_size=1024, zero_shot_cache_size=64)
        svc.classify(ClassifyRequest(text="I can't log in", labels=["billing", "technical"]))
    """

    def __init__(self, project: Project, manager: ModelManager, *, cache_size: int = 1024,
                 zero_shot_cache_size: int = 64, runtime: str = "torch") -> None:
        self.project = project
        self.runtime = runtime
        self.manager = manager
        self.encoder = project.config.encoder
        self.responses = _LRU(cache_size)
        self.zero_shot = _LRU(zero_shot_cache_size)

    # -- models --------------------------------------------------------------------------------------------
    def _inline_model(self, req: ClassifyRequest) -> ZeroShotClassifier:
        assert req.labels is not None
        key = json.dumps([req.labels, req.descriptions or {}, req.examples or {}], sort_keys=True)
        model = self.zero_shot.get(key)
        if model is None:
            specs = [LabelSpec(name=lab, description=(req.descriptions or {}).get(lab, ""),
                               examples=list((req.examples or {}).get(lab, []))) for lab in req.labels]
            model = ZeroShotClassifier(specs, encoder=self.encoder)
            if self.runtime != "torch":
                from ..models.runtime import accelerate

                accelerate(model, self.runtime, self.project.ws.cache_dir)
            if len(specs) >= 2:
                model.fit()
            else:  # one label: fit() needs two, so embed the single prototype directly
                model.classes_ = [specs[0].name]
                vecs = model.embed([specs[0].prompt, *specs[0].examples])
                proto = vecs[0] + (vecs[1:].mean(axis=0) if len(vecs) > 1 else 0)
                model.prototypes_ = (proto / max(float(np.linalg.norm(proto)), 1e-12))[None, :].astype(np.float32)
            self.zero_shot.put(key, model)
        return model

    def _saved_model(self, ref: str) -> ServedModel:
        model_id, version = resolve_classifier(self.project, ref)
        return self.manager.get(model_id) if version is None else self.manager.get_version(model_id, version)

    # -- classify ------------------------------------------------------------------------------------------
    def classify(self, req: ClassifyRequest) -> dict[str, Any]:
        t0 = time.perf_counter()
        served = self._saved_model(req.classifier) if req.classifier is not None else None
        key = json.dumps({**req.model_dump(exclude={"cache", "file"}), "served": served and [served.id, served.version],
                          "encoder": self.encoder}, sort_keys=True, ensure_ascii=False)
        if req.cache:
            hit = self.responses.get(key)
            if hit is not None:
                return {**hit, "latency_ms": int((time.perf_counter() - t0) * 1000), "cached": True}
        assert req.text is not None
        if served is not None:
            labels, proba = served.labels, served.model.predict_proba([req.text])[0]
            encoder = getattr(served.model, "encoder", None) or self.encoder
        else:
            model = self._inline_model(req)
            labels, encoder = list(model.classes_ or []), self.encoder
            if len(labels) == 1:
                sims = model.similarities(model.embed([req.text])).astype(np.float64)
                proba = sigmoid((sims - DEFAULT_MULTI_BIAS) / DEFAULT_TEMPERATURE)[0]
            else:
                proba = model.predict_proba([req.text])[0]
        j = int(np.argmax(proba))
        result = {"label": labels[j], "confidence": round(float(proba[j]), 4),
                  "tokens": self._tokens(encoder, req.text)}
        self.responses.put(key, result)
        return {**result, "latency_ms": int((time.perf_counter() - t0) * 1000), "cached": False}

    @staticmethod
    def _tokens(encoder: str, text: str) -> int:
        try:
            return count_tokens(encoder, text)
        except Exception:  # noqa: BLE001 - a tokenizer problem must not fail the classification
            return len(text.split())
