"""Prometheus text-format metrics kept in process (per worker with ``--workers N``): no extra dependency."""

from __future__ import annotations

import bisect
import threading
from collections import defaultdict

__all__ = ["ServiceMetrics", "BUCKETS"]

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _labels(**kv: object) -> str:
    inner = ",".join(f'{k}="{str(v).replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
                     for k, v in kv.items())
    return "{" + inner + "}"


class ServiceMetrics:
    """Request counts and latency histogram per route, predictions and routed texts per model.

    Usage::

        metrics.observe_request("POST", "/v2/models/{model_id}/inference", 200, 0.031)
        text = metrics.render(models_loaded=3)
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, str, int], int] = defaultdict(int)
        self.latency: dict[str, list[int]] = defaultdict(lambda: [0] * (len(BUCKETS) + 1))
        self.latency_sum: dict[str, float] = defaultdict(float)
        self.predictions: dict[int, int] = defaultdict(int)
        self.routed: dict[int, int] = defaultdict(int)
        self.routing: dict[str, int] = defaultdict(int)

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        with self._lock:
            self.requests[(method, route, status)] += 1
            self.latency[route][bisect.bisect_left(BUCKETS, seconds)] += 1
            self.latency_sum[route] += seconds

    def count_predictions(self, model_id: int, n_texts: int) -> None:
        with self._lock:
            self.predictions[model_id] += n_texts

    def count_routed(self, model_id: int, n_texts: int) -> None:
        with self._lock:
            self.routed[model_id] += n_texts

    def count_routing(self, outcome: str, n_texts: int = 1) -> None:
        """Routing decisions: ``queued``, ``over_quota`` (the key's hourly quota), ``shed`` (the queue was full),
        ``failed`` (a write error other than a lock)."""
        with self._lock:
            self.routing[outcome] += n_texts

    def render(self, **gauges: float) -> str:
        lines: list[str] = []
        with self._lock:
            lines += ["# HELP labelf_requests_total HTTP requests by method, route and status.",
                      "# TYPE labelf_requests_total counter"]
            for (m, r, s), n in sorted(self.requests.items()):
                lines.append(f"labelf_requests_total{_labels(method=m, route=r, status=s)} {n}")
            lines += ["# HELP labelf_request_duration_seconds Request latency by route.",
                      "# TYPE labelf_request_duration_seconds histogram"]
            for route, counts in sorted(self.latency.items()):
                cum = 0
                for le, c in zip([*BUCKETS, "+Inf"], counts):
                    cum += c
                    lines.append(f"labelf_request_duration_seconds_bucket{_labels(route=route, le=le)} {cum}")
                lines.append(f"labelf_request_duration_seconds_sum{_labels(route=route)} {self.latency_sum[route]:.6f}")
                lines.append(f"labelf_request_duration_seconds_count{_labels(route=route)} {cum}")
            lines += ["# HELP labelf_model_predictions_total Texts classified per model.",
                      "# TYPE labelf_model_predictions_total counter"]
            lines += [f"labelf_model_predictions_total{_labels(model_id=k)} {v}" for k, v in sorted(self.predictions.items())]
            lines += ["# HELP labelf_routed_texts_total Low-confidence texts stored for labeling per model.",
                      "# TYPE labelf_routed_texts_total counter"]
            lines += [f"labelf_routed_texts_total{_labels(model_id=k)} {v}" for k, v in sorted(self.routed.items())]
            lines += ["# HELP labelf_routing_texts_total Low-confidence texts by routing outcome (queued, over_quota, "
                      "shed, failed).", "# TYPE labelf_routing_texts_total counter"]
            lines += [f"labelf_routing_texts_total{_labels(outcome=k)} {v}" for k, v in sorted(self.routing.items())]
        for name, value in gauges.items():
            lines += [f"# TYPE labelf_{name} gauge", f"labelf_{name} {value}"]
        return "\n".join(lines) + "\n"
