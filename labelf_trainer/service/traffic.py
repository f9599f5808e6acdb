"""Confidence routing: low-confidence texts of opted-in models become labeling candidates in the workspace pool.

Texts in the ``human`` band (:mod:`labelf_trainer.registry.bands`) of a model with routing on (``labelf models
routing ID on``) are added to the pool with ``origin='traffic'`` and the request id in their metadata (never the
API key), so ``labelf suggest`` and the Label Studio push can pick them.

The request path never writes: :meth:`RoutingQueue.submit` only enqueues, and one background thread writes, retrying
while another process holds the workspace's write lock, so a locked database delays routed texts but neither
stalls a request nor loses a text. Costs are bounded: a text already routed or in the pool is not routed again,
each API key routes at most ``routing_quota_per_hour`` texts an hour, and at most ``routing_queue_size`` texts
wait; anything refused (``over_quota``, ``shed``) or that cannot be written (``failed``) is counted in ``/metrics``
and logged, never dropped silently.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..loop.pool import TRAFFIC_ORIGIN
from ..loop.project import Project
from ..types import Item, stable_id, text_hash
from .manager import ServedModel
from .metrics import ServiceMetrics

__all__ = ["RoutingQueue", "low_confidence", "TRAFFIC_ORIGIN"]
log = logging.getLogger("labelf.service")

RECENT = 100_000
"""Hashes of recently routed texts remembered, so a repeated text is not queued again."""


def low_confidence(served: ServedModel, proba: np.ndarray) -> list[tuple[int, float, str]]:
    """(text index, top confidence, top label) for every text in the ``human`` band of this model."""
    labels = served.labels
    out = []
    for i, row in enumerate(np.asarray(proba)):
        j = int(np.argmax(row))
        if served.bands.of(float(row[j])) == "human":
            out.append((i, round(float(row[j]), 4), labels[j]))
    return out


@dataclass(frozen=True)
class _Routed:
    item: Item
    model_id: int
    request_id: str


class RoutingQueue:
    """Writes routed texts from a background thread (see the module docstring).

    Usage::

        routing = RoutingQueue(project, metrics, quota_per_hour=1000, max_pending=10_000).start()
        routing.submit(served, texts, proba, request_id="abc", key_id=3)     # never blocks
        routing.stop()                                                      # drains what is queued
    """

    def __init__(self, project: Project, metrics: ServiceMetrics, *, quota_per_hour: int = 1000,
                 max_pending: int = 10_000, retry_s: float = 0.25) -> None:
        self.project = project
        self.metrics = metrics
        self.quota_per_hour = quota_per_hour
        self.retry_s = retry_s
        self._queue: queue.Queue[_Routed | None] = queue.Queue(maxsize=max_pending)
        self._recent: OrderedDict[str, None] = OrderedDict()
        self._quota: dict[object, tuple[int, int]] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._unwritten = 0  # queued or in the writer's current batch
        self.written = 0

    # -- the request path ----------------------------------------------------------------------------------
    def submit(self, served: ServedModel, texts: Sequence[str], proba: np.ndarray, *, request_id: str,
               key_id: int | None) -> int:
        """Queue this request's human-band texts; returns how many were queued. Never waits."""
        picked = low_confidence(served, proba)
        queued = 0
        for i, conf, label in picked:
            h = text_hash(texts[i])
            with self._lock:
                if h in self._recent:
                    continue
                if not self._take_quota(key_id):
                    self.metrics.count_routing("over_quota")
                    continue
                self._recent[h] = None
                while len(self._recent) > RECENT:
                    self._recent.popitem(last=False)
            item = Item(id=stable_id(texts[i]), text=texts[i], source=f"api:model-{served.id}",
                        meta={"request_id": request_id, "model_id": served.id, "model_version": served.version,
                              "predicted": label, "confidence": conf, "band": "human"})
            try:
                with self._lock:
                    self._queue.put_nowait(_Routed(item, served.id, request_id))
                    self._unwritten += 1
                queued += 1
            except queue.Full:
                self.metrics.count_routing("shed")
                log.warning("request %s: routing queue full (%d texts waiting): a low-confidence text of model %s "
                            "was not stored", request_id, self._queue.qsize(), served.id)
        if queued:
            self.metrics.count_routing("queued", queued)
        return queued

    def _take_quota(self, key_id: int | None) -> bool:
        hour = int(time.time() // 3600)
        start, used = self._quota.get(key_id, (hour, 0))
        if start != hour:
            used = 0
        if used >= self.quota_per_hour:
            return False
        self._quota[key_id] = (hour, used + 1)
        return True

    @property
    def pending(self) -> int:
        """Routed texts not written yet: waiting in the queue or in the batch the writer is retrying."""
        with self._lock:
            return self._unwritten

    # -- the writer ----------------------------------------------------------------------------------------
    def start(self) -> "RoutingQueue":
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="labelf-routing", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Write what is queued (up to ``timeout`` seconds), then stop the thread."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < 256:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._write(batch)
                    return
                batch.append(nxt)
            self._write(batch)

    def _write(self, batch: list[_Routed]) -> None:
        """Store one batch, retrying while the workspace is locked by another process."""
        delay = self.retry_s
        while True:
            try:
                known = self.project.ws.items.known_hashes(r.item.hash for r in batch)
                items = [r.item for r in batch if r.item.hash not in known]
                added, _ = self.project.ws.items.add(items, origin=TRAFFIC_ORIGIN) if items else (0, 0)
                break
            except sqlite3.OperationalError as e:  # "database is locked": wait for the other writer
                log.warning("routing: workspace busy (%s); %d text(s) kept, retrying in %.1fs", e, len(batch), delay)
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
            except Exception:  # anything else would only fail again: count it, log it, keep the writer alive
                log.exception("routing: %d low-confidence text(s) could not be stored", len(batch))
                self.metrics.count_routing("failed", len(batch))
                with self._lock:
                    self._unwritten -= len(batch)
                return
        self.written += added
        with self._lock:
            self._unwritten -= len(batch)
        by_model: dict[int, int] = {}
        for r in batch:
            if r.item.hash not in known:
                by_model[r.model_id] = by_model.get(r.model_id, 0) + 1
        for model_id, n in by_model.items():
            self.metrics.count_routed(model_id, n)
        if added:
            log.info("routing: %d low-confidence text(s) stored for labeling", added)
