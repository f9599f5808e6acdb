"""Fine-tuned model (Labelf "Custom model"): a full ``transformers`` sequence-classification fine-tune.

Every weight of the base model is trained together with a new classification layer (AdamW, linear warm-up and
decay). Single-label uses softmax cross-entropy; multi-label uses independent sigmoids
(``problem_type="multi_label_classification"``). Saved with ``save_pretrained`` (safetensors) under ``model/``;
the weights' hash is the encoder fingerprint, checked on load.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from ..exceptions import ModelError, ModelMismatchError
from ..progress import progress_bar
from ._torch_utils import pick_device, quiet_hf, state_fingerprint, torch_runtime, trainable_base
from .base import TextClassifier, check_fitted
from .embedding_head import encode_targets, resolve_classes

__all__ = ["FineTunedClassifier", "FINETUNE_DEFAULTS", "auto_epochs"]

#: Defaults for a few-minute CPU fine-tune of all-MiniLM-L6-v2 (benchmarks/train.py). ``num_epochs=None`` picks
#: the epochs from the data size (:func:`auto_epochs`): Banking77 at 10 per class went from 55.5% accuracy with 3 epochs
#: to 82.5% with 10.
FINETUNE_DEFAULTS: dict[str, Any] = {"num_epochs": None, "batch_size": 16, "learning_rate": 1e-4,
                                     "head_learning_rate": 3e-3, "max_steps": None, "max_length": 128,
                                     "warmup_ratio": 0.1, "weight_decay": 0.01}
MODEL_DIR = "model"
AUTO_MIN_STEPS, AUTO_MIN_EPOCHS, AUTO_MAX_EPOCHS = 500, 3, 10


def auto_epochs(n_texts: int, batch_size: int) -> int:
    """Enough epochs for ~500 optimizer steps on small data (few-shot needs many passes), 3 on large data."""
    per_epoch = max(1, math.ceil(n_texts / batch_size))
    return min(AUTO_MAX_EPOCHS, max(AUTO_MIN_EPOCHS, math.ceil(AUTO_MIN_STEPS / per_epoch)))


class FineTunedClassifier(TextClassifier):
    """Usage::

        clf = FineTunedClassifier(base="minilm", labels=cfg.label_names, num_epochs=3).fit(texts, labels)
        clf.save(folder); load_classifier(folder).predict_proba(texts)   # identical scores
    """

    model_type = "fine-tuned"

    def __init__(self, *, base: str = "minilm", labels: Sequence[str] | None = None, multi_label: bool = False,
                 threshold: float = 0.5, num_epochs: int | None = FINETUNE_DEFAULTS["num_epochs"],
                 batch_size: int = FINETUNE_DEFAULTS["batch_size"],
                 learning_rate: float = FINETUNE_DEFAULTS["learning_rate"],
                 head_learning_rate: float = FINETUNE_DEFAULTS["head_learning_rate"],
                 max_steps: int | None = FINETUNE_DEFAULTS["max_steps"],
                 max_length: int = FINETUNE_DEFAULTS["max_length"],
                 warmup_ratio: float = FINETUNE_DEFAULTS["warmup_ratio"],
                 weight_decay: float = FINETUNE_DEFAULTS["weight_decay"], random_state: int = 42,
                 num_threads: int | None = None, device: str | None = None, show_progress: bool = True) -> None:
        super().__init__(multi_label=multi_label, threshold=threshold)
        self.base = base
        self.labels = labels
        self.num_epochs = num_epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.head_learning_rate = head_learning_rate
        self.max_steps = max_steps
        self.max_length = max_length
        self.warmup_ratio = warmup_ratio
        self.weight_decay = weight_decay
        self.random_state = random_state
        self.num_threads = num_threads
        self.device = device
        self.show_progress = show_progress
        self.prefix_ = ""

    def get_params(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("base", "num_epochs", "batch_size", "learning_rate",
                                              "head_learning_rate", "max_steps", "max_length", "warmup_ratio",
                                              "weight_decay", "random_state", "multi_label", "threshold")}

    # -- training -------------------------------------------------------------------------------------------
    def fit(self, texts: Sequence[str], y: Sequence[Any]) -> "FineTunedClassifier":
        if len(texts) != len(y):
            raise ModelError(f"{len(texts)} texts but {len(y)} labels")
        target, prefix = trainable_base(self.base, self.model_type)
        classes = resolve_classes(y, self.labels, self.multi_label)
        targets = encode_targets(y, classes, self.multi_label)
        quiet_hf()
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        device = pick_device(self.device)
        with torch_runtime(self.num_threads):
            torch.manual_seed(self.random_state)
            try:
                tok = AutoTokenizer.from_pretrained(target)
                model = AutoModelForSequenceClassification.from_pretrained(
                    target, num_labels=len(classes), id2label=dict(enumerate(classes)),
                    label2id={c: i for i, c in enumerate(classes)},
                    problem_type="multi_label_classification" if self.multi_label else
                    "single_label_classification")
            except (OSError, ValueError) as e:
                raise ModelError(f"cannot load {self.base!r} as a transformers model for fine-tuning: "
                                 f"{str(e).splitlines()[0][:200]}") from None
            model.to(device).train()
            texts = [prefix + t for t in texts]
            self._train(model, tok, texts, targets, device)
            model.eval()
        self.model_, self.tokenizer_, self.prefix_, self.device_ = model, tok, prefix, device
        self.classes_ = classes
        self.__dict__.pop("encoder_fingerprint", None)
        return self

    def _train(self, model: Any, tok: Any, texts: list[str], targets: np.ndarray, device: str) -> None:
        import torch
        from transformers import get_linear_schedule_with_warmup

        rng = np.random.default_rng(self.random_state)
        per_epoch = math.ceil(len(texts) / self.batch_size)
        total = per_epoch * (self.num_epochs or auto_epochs(len(texts), self.batch_size))
        if self.max_steps:
            total = min(total, int(self.max_steps))
        head = [p for n, p in model.named_parameters() if n.startswith(("classifier", "pre_classifier", "score"))]
        head_ids = {id(p) for p in head}
        body = [p for p in model.parameters() if id(p) not in head_ids]
        opt = torch.optim.AdamW([{"params": body, "lr": self.learning_rate},
                                 {"params": head, "lr": self.head_learning_rate}], weight_decay=self.weight_decay)
        sched = get_linear_schedule_with_warmup(opt, int(self.warmup_ratio * total), total)
        dtype = torch.float32 if self.multi_label else torch.long
        step = 0
        with progress_bar(total, "Fine-tuning", enabled=self.show_progress) as advance:
            while step < total:
                order = rng.permutation(len(texts))
                for start in range(0, len(order), self.batch_size):
                    if step >= total:
                        break
                    idx = order[start:start + self.batch_size]
                    enc = tok([texts[i] for i in idx], padding=True, truncation=True, max_length=self.max_length,
                              return_tensors="pt").to(device)
                    labels = torch.as_tensor(targets[idx], dtype=dtype, device=device)
                    loss = model(**enc, labels=labels).loss
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                    opt.step()
                    sched.step()
                    opt.zero_grad(set_to_none=True)
                    step += 1
                    advance(1)

    # -- inference ------------------------------------------------------------------------------------------
    def predict_proba(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        check_fitted(self)
        import torch

        texts = [self.prefix_ + t for t in texts]
        out = []
        with torch_runtime(self.num_threads), torch.inference_mode():
            for start in range(0, len(texts), batch_size):
                enc = self.tokenizer_(texts[start:start + batch_size], padding=True, truncation=True,
                                      max_length=self.max_length, return_tensors="pt").to(self.device_)
                logits = self.model_(**enc).logits.double()
                out.append((torch.sigmoid(logits) if self.multi_label else torch.softmax(logits, -1)).cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, len(self.classes_ or [])))

    @cached_property
    def encoder_fingerprint(self) -> str:
        check_fitted(self)
        return state_fingerprint(self.model_)

    # -- persistence ----------------------------------------------------------------------------------------
    def _save(self, path: Path) -> dict[str, Any]:
        self.model_.save_pretrained(str(path / MODEL_DIR), safe_serialization=True)
        self.tokenizer_.save_pretrained(str(path / MODEL_DIR))
        return {"base": self.base, "prefix": self.prefix_, "params": self.get_params()}

    @classmethod
    def _load(cls, path: Path, meta: dict[str, Any]) -> "FineTunedClassifier":
        quiet_hf()
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        if not (path / MODEL_DIR / "model.safetensors").is_file():
            raise ModelError(f"{path}: the fine-tuned weights ({MODEL_DIR}/model.safetensors) are missing; "
                             "the artefact is incomplete")
        p = dict(meta.get("params", {}))
        p.pop("multi_label", None), p.pop("threshold", None)
        model = cls(labels=meta["classes"], multi_label=meta["multi_label"], threshold=meta.get("threshold", 0.5),
                    **p)
        model.device_ = pick_device(None)
        model.model_ = AutoModelForSequenceClassification.from_pretrained(str(path / MODEL_DIR)).to(model.device_)
        model.model_.eval()
        model.tokenizer_ = AutoTokenizer.from_pretrained(str(path / MODEL_DIR))
        model.prefix_ = meta.get("prefix", "")
        model.classes_ = list(meta["classes"])
        if model.model_.config.num_labels != len(model.classes_):
            raise ModelMismatchError(f"{path}: weights have {model.model_.config.num_labels} outputs for "
                                     f"{len(model.classes_)} labels")
        expected = meta.get("encoder_fingerprint")
        if expected and expected != model.encoder_fingerprint:
            raise ModelMismatchError(f"{path}: weights do not match the saved fingerprint {expected[:12]} "
                                     "(modified or corrupt artefact)")
        return model
