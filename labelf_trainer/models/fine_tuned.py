"""Fine-tuned model (Labelf "Custom model"): a full ``transformers`` sequence-classification fine-tune.

Every weight of the base model is trained together with a new classification layer (AdamW, linear warm-up and
decay). Single-label uses softmax cross-entropy; multi-label uses independent sigmoids
(``problem_type="multi_label_classification"``). Saved with ``save_pretrained`` (safetensors) under ``model/``;
the weights' hash is the encoder fingerprint, checked on load.

Long texts: training sees each text's first ``max_length`` tokens (windows inheriting their text's labels train
windows without the label as positives: 3-4 micro-F1 points worse on SGD dialogues, issue 13). At inference a text
longer than that is cut into windows at speaker turns (``long_texts:``) and its window logits are aggregated: the
maximum per label for multi-label, the mean for single-label.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..embeddings.vectors import WINDOW, Evidence
from ..embeddings.windows import HFTokens, Layout, split_text
from ..exceptions import ModelError, ModelMismatchError
from ..progress import progress_bar
from ._torch_utils import pick_device, quiet_hf, torch_runtime
from .args import FineTuneArgs
from .base import check_fitted
from .transformer import TransformerClassifier

__all__ = ["FineTunedClassifier", "auto_epochs"]

MODEL_DIR = "model"
AUTO_MIN_STEPS, AUTO_MIN_EPOCHS, AUTO_MAX_EPOCHS = 500, 3, 10


def auto_epochs(n_texts: int, batch_size: int) -> int:
    """Enough epochs for ~500 optimizer steps on small data (few-shot needs many passes), 3 on large data."""
    per_epoch = max(1, math.ceil(n_texts / batch_size))
    return min(AUTO_MAX_EPOCHS, max(AUTO_MIN_EPOCHS, math.ceil(AUTO_MIN_STEPS / per_epoch)))


class FineTunedClassifier(TransformerClassifier):
    """Usage::

        clf = FineTunedClassifier(base="minilm", labels=cfg.label_names, num_epochs=3).fit(texts, labels)
        clf.save(folder); load_classifier(folder).predict_proba(texts)   # identical scores
    """

    model_type = "fine-tuned"
    Args = FineTuneArgs
    args: FineTuneArgs

    # -- training -------------------------------------------------------------------------------------------
    def fit(self, texts: Sequence[str], y: Sequence[Any]) -> "FineTunedClassifier":
        target, prefix, classes, targets = self._prepare(texts, y)
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
        self._fitted(classes)
        self.__dict__.pop("encoder_fingerprint", None)
        return self

    def _train(self, model: Any, tok: Any, texts: list[str], targets: np.ndarray, device: str) -> None:
        import torch
        from transformers import get_linear_schedule_with_warmup

        a = self.args
        rng = np.random.default_rng(self.random_state)
        per_epoch = math.ceil(len(texts) / a.batch_size)
        total = per_epoch * (a.num_epochs or auto_epochs(len(texts), a.batch_size))
        if a.max_steps:
            total = min(total, int(a.max_steps))
        head = [p for n, p in model.named_parameters() if n.startswith(("classifier", "pre_classifier", "score"))]
        head_ids = {id(p) for p in head}
        body = [p for p in model.parameters() if id(p) not in head_ids]
        opt = torch.optim.AdamW([{"params": body, "lr": a.learning_rate},
                                 {"params": head, "lr": a.head_learning_rate}], weight_decay=a.weight_decay)
        sched = get_linear_schedule_with_warmup(opt, int(a.warmup_ratio * total), total)
        dtype = torch.float32 if self.multi_label else torch.long
        step = 0
        with progress_bar(total, "Fine-tuning", enabled=self.show_progress) as advance:
            while step < total:
                order = rng.permutation(len(texts))
                for start in range(0, len(order), a.batch_size):
                    if step >= total:
                        break
                    idx = order[start:start + a.batch_size]
                    enc = tok([texts[i] for i in idx], padding=True, truncation=True, max_length=a.max_length,
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
    def _logits(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        import torch

        texts = [self.prefix_ + t for t in texts]
        order = np.argsort([-len(t) for t in texts], kind="stable")  # similar lengths together: little padding
        out = np.zeros((len(texts), len(self.scored_classes)))
        with torch_runtime(self.num_threads), torch.inference_mode():
            for start in range(0, len(texts), batch_size):
                idx = order[start:start + batch_size]
                enc = self.tokenizer_([texts[i] for i in idx], padding=True, truncation=True,
                                      max_length=self.args.max_length, return_tensors="pt").to(self.device_)
                out[idx] = self.model_(**enc).logits.double().cpu().numpy()
        return out

    def _windows(self, texts: Sequence[str]) -> tuple[list[Layout], np.ndarray]:
        """Each text's layout and the logits of all windows, in order (one window: the text itself)."""
        tokens = HFTokens(self.tokenizer_, self.args.max_length, self.prefix_) \
            if getattr(self.tokenizer_, "is_fast", False) else None
        layouts = [split_text(t, tokens, self.long_texts) for t in texts]
        return layouts, self._logits([w.of(t) for t, lay in zip(texts, layouts) for w in lay.windows])

    def evidence(self, texts: Sequence[str]) -> Evidence:
        """Aggregated logits, and each label's best window (:mod:`labelf_trainer.explain`)."""
        check_fitted(self)
        layouts, zw = self._windows(list(texts))
        n, n_labels = len(layouts), zw.shape[1]
        z, unit_z = np.zeros((n, n_labels)), np.full((n, n_labels), -np.inf)
        span, kind = np.full((n, n_labels, 2), -1, dtype=np.int64), np.full((n, n_labels), -1, dtype=np.int8)
        pos = 0
        for i, lay in enumerate(layouts):
            block = zw[pos:pos + len(lay.windows)]
            z[i] = block.max(axis=0) if self.multi_label else block.mean(axis=0)
            if len(block) > 1:
                best = block.argmax(axis=0)
                unit_z[i] = block[best, np.arange(n_labels)]
                span[i] = [(lay.windows[b].start, lay.windows[b].end) for b in best]
                kind[i] = WINDOW
            pos += len(lay.windows)
        return Evidence(z, unit_z, span, kind)

    def _scores(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        if not len(texts):
            return np.zeros((0, len(self.scored_classes)))
        z = torch.from_numpy(self.evidence(texts).z)
        return (torch.sigmoid(z) if self.multi_label else torch.softmax(z, -1)).numpy()

    def _weights(self) -> Any:
        return self.model_

    # -- persistence ----------------------------------------------------------------------------------------
    def _save(self, path: Path) -> dict[str, Any]:
        self.model_.save_pretrained(str(path / MODEL_DIR), safe_serialization=True)
        self.tokenizer_.save_pretrained(str(path / MODEL_DIR))
        return self._meta()

    @classmethod
    def _load(cls, path: Path, meta: dict[str, Any]) -> "FineTunedClassifier":
        quiet_hf()
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        if not (path / MODEL_DIR / "model.safetensors").is_file():
            raise ModelError(f"{path}: the fine-tuned weights ({MODEL_DIR}/model.safetensors) are missing; "
                             "the artefact is incomplete")
        model = cls._from_meta(meta)
        model.device_ = pick_device(None)
        model.model_ = AutoModelForSequenceClassification.from_pretrained(str(path / MODEL_DIR)).to(model.device_)
        model.model_.eval()
        model.tokenizer_ = AutoTokenizer.from_pretrained(str(path / MODEL_DIR))
        model.prefix_ = meta.get("prefix", "")
        model.classes_ = list(meta["classes"])
        if model.model_.config.num_labels != len(model.classes_):
            raise ModelMismatchError(f"{path}: weights have {model.model_.config.num_labels} outputs for "
                                     f"{len(model.classes_)} labels")
        model._check_fingerprint(meta, path)
        return model  # type: ignore[return-value]
