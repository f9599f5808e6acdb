"""Latency and throughput of `labelf serve` over real HTTP on 127.0.0.1, next to the raw in-process model time.

Four embedding-head models on the packaged all-MiniLM-L6-v2 (Banking77 intent, Bitext intent, Bitext category,
SST-5 sentiment: four "dimensions" of one message) are trained on cached embeddings and registered in a temporary
project; `labelf serve` is started as a subprocess for each runtime (torch fp32, ONNX Runtime int8) and measured:

- p50/p95/p99 latency, sequential requests: 1 short text, 8 short texts, 8 texts of 2,000 characters (one model),
  and the 4 models at once on 8 short texts (POST /v2/models/inference), ratio 4 models / 1 model;
- the same calls in process (`predict_proba`, no HTTP) in the same run: the overhead ratio;
- throughput: N concurrent clients for D seconds (8 short texts per request): requests/s, p50/p99, errors,
  server memory (RSS) before and after;
- accuracy of each model on its test set with torch vs ONNX int8 embeddings (the price of the faster runtime).

Usage: HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/serve.py [--requests 100] [--duration 30] [--clients 16]
       [--datasets banking77 bitext_customer_support bitext_customer_support@category sst5]
Each dataset (``NAME[@COLUMN]``, read by benchmarks/common.py) becomes one model; the first one's labels name the
project's labels. Writes benchmarks/results/serve.json and serve.png, and the table in benchmarks/README.md (section
`serve`); a run with fewer requests, clients or seconds, or other datasets or runtimes, than the published one goes to
results/serve.partial.json (README unchanged) unless --publish.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import common
import httpx
import numpy as np
import psutil
import yaml
from common import RESULTS

from labelf_trainer.loop.project import Project
from labelf_trainer.models.embedding_head import EmbeddingHeadClassifier
from labelf_trainer.models.runtime import accelerate
from labelf_trainer.service.keys import ApiKeyStore

NAME = "serve"
DEFAULT_DATASETS = ("banking77", "bitext_customer_support", "bitext_customer_support@category", "sst5")
#: model names of the default datasets (any other is named after the dataset)
MODEL_NAMES = {"banking77": "Intent (Banking77)", "bitext_customer_support": "Intent (Bitext)",
               "bitext_customer_support@category": "Category (Bitext)", "sst5": "Sentiment (SST-5)"}


def pct(xs: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(xs), q)) if xs else float("nan")


def summary(ms: list[float]) -> dict:
    return {"n": len(ms), "p50_ms": round(pct(ms, 50), 2), "p95_ms": round(pct(ms, 95), 2),
            "p99_ms": round(pct(ms, 99), 2), "mean_ms": round(float(np.mean(ms)), 2)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- setup ----------------------------------------------------------------------------------------------------
def build_project(root: Path, datasets: list[common.DatasetSpec], n_train: int, n_test: int,
                  seed: int) -> tuple[Project, list[int], dict, list[str]]:
    loaded = [common.load_dataset(spec) for spec in datasets]
    for ds in loaded:
        if ds.multi_label:
            raise SystemExit(f"{ds.key}: serve.py builds single-label models only")
    (root / "serve.yaml").write_text(yaml.safe_dump({
        "project": "serve-bench", "encoder": "minilm", "workspace": "ws",
        "labels": [{"name": c} for c in loaded[0].classes]}), encoding="utf-8")
    project = Project.open(root / "serve.yaml", create=True)
    emb = common.embedder("minilm")
    ids, tests, names = [], {}, []
    for ds in loaded:
        name, col = MODEL_NAMES.get(ds.key, ds.key), ds.label_column
        names.append(name)
        train = ds.train.sample(min(n_train, len(ds.train)), random_state=seed)
        test = ds.test.sample(min(n_test, len(ds.test)), random_state=seed)
        model = EmbeddingHeadClassifier(encoder="minilm", labels=ds.classes)
        model.fit_embeddings(emb.embed(train["text"].tolist(), description=f"Embedding {name}"), train[col].tolist())
        model_id, _ = project.registry.register(name, model, deploy=True, training_examples=len(train))
        ids.append(model_id)
        tests[model_id] = (test["text"].tolist(), test[col].tolist())
    return project, ids, tests, names


def texts_pool(tests: dict, first: int) -> tuple[list[str], list[str]]:
    short = [t for t in tests[first][0] if 20 <= len(t) <= 120]
    corpus = " ".join(tests[first][0])
    long = [corpus[i * 2000:(i + 1) * 2000] for i in range(8 * 4)]
    return short, [t for t in long if len(t) == 2000]


# -- measurements ---------------------------------------------------------------------------------------------
def accuracy(project: Project, ids: list[int], tests: dict, runtime: str) -> dict:
    out = {}
    for i, m in zip(ids, load_models(project, ids, runtime)):
        texts, y = tests[i]
        pred = m.predict(texts)
        out[project.registry.get(i).name] = round(float(np.mean([p == t for p, t in zip(pred, y)])), 4)
    return out


class Server:
    def __init__(self, cfg: Path, runtime: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
        self.proc = subprocess.Popen([sys.executable, "-m", "labelf_trainer.cli.main", "serve", "--config", str(cfg),
                                      "--port", str(self.port), "--runtime", runtime, "--log-level", "warning"],
                                     env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 300
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"labelf serve exited with {self.proc.returncode}")
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("labelf serve did not start")
            time.sleep(0.5)

    def rss_mb(self) -> float:
        p = psutil.Process(self.proc.pid)
        return round(sum(q.memory_info().rss for q in [p, *p.children(recursive=True)]) / 2**20, 1)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def load_models(project: Project, ids: list[int], runtime: str) -> list:
    models = [project.registry.load(i, cache=False) for i in ids]
    if runtime != "torch":
        for m in models:
            accelerate(m, runtime, project.ws.cache_dir)
    return models


def raw_latency(cfg: Path, ids: list[int], runtime: str, short: list[str], long: list[str], n: int) -> dict:
    """In-process ``predict_proba`` latency per scenario, measured in a fresh child process that loads the models
    exactly as the server does (the benchmark process itself has trained heads and run other work)."""
    out = Path(tempfile.mkstemp(suffix=".json")[1])
    spec = {"cfg": str(cfg), "ids": ids, "runtime": runtime, "short": short, "long": long, "n": n, "out": str(out)}
    spec_file = out.with_suffix(".spec.json")
    spec_file.write_text(json.dumps(spec), encoding="utf-8")
    subprocess.run([sys.executable, __file__, "--raw-child", str(spec_file)], check=True)
    res = json.loads(out.read_text(encoding="utf-8"))
    out.unlink()
    spec_file.unlink()
    return res


def _scenarios(short: list[str], long: list[str], n: int) -> dict[str, list[list[str]]]:
    return {"1 short": [[short[i % len(short)]] for i in range(n)],
            "8 short": [[short[(i * 8 + j) % len(short)] for j in range(8)] for i in range(n)],
            "8 x 2000 chars": [[long[(i * 8 + j) % len(long)] for j in range(8)] for i in range(max(n // 4, 10))]}


def raw_child(spec_file: Path) -> None:
    spec = json.loads(spec_file.read_text(encoding="utf-8"))
    with Project.open(spec["cfg"]) as project:
        models = load_models(project, spec["ids"], spec["runtime"])
        scen = _scenarios(spec["short"], spec["long"], spec["n"])
        scen["4 models, 8 short"] = scen["8 short"]

        def shared_pass(texts: list[str]) -> None:  # what the service does for models on one encoder
            X = models[0].embed(texts)
            for m in models:
                m.predict_proba_embeddings(X)

        res = {}
        for label, batches in scen.items():
            call = shared_pass if label.startswith("4 models") else models[0].predict_proba
            for b in batches[:5]:
                call(b)
            ms = []
            for b in batches:
                time.sleep(0.05)  # idle between calls, as a server is: the scheduler favours tasks that sleep
                t0 = time.perf_counter()
                call(b)
                ms.append((time.perf_counter() - t0) * 1000)
            res[label] = summary(ms)
    Path(spec["out"]).write_text(json.dumps(res), encoding="utf-8")


def http_latency(srv: Server, key: str, ids: list[int], short: list[str], long: list[str], n: int) -> dict:
    auth = {"Authorization": f"Bearer {key}"}
    scen = _scenarios(short, long, n)
    calls = {label: (f"/v2/models/{ids[0]}/inference", batches) for label, batches in scen.items()}
    calls["4 models, 8 short"] = ("/v2/models/inference", scen["8 short"])
    out = {}
    with httpx.Client(base_url=srv.url, headers=auth, timeout=60) as client:
        for label, (path, batches) in calls.items():
            def body(texts: list[str], path: str = path) -> dict:
                if path == "/v2/models/inference":
                    return {"texts": texts, "model_settings": [{"model_id": m, "max_predictions": 3} for m in ids]}
                return {"texts": texts}

            for b in batches[:5]:
                client.post(path, json=body(b)).raise_for_status()
            ms, server_ms = [], []
            for b in batches:
                t0 = time.perf_counter()
                r = client.post(path, json=body(b))
                ms.append((time.perf_counter() - t0) * 1000)
                r.raise_for_status()
                server_ms.append(r.json()["processing_time_ms"])
            out[label] = {**summary(ms), "server_p50_ms": round(pct(server_ms, 50), 1)}
    return out


def throughput(srv: Server, key: str, model_id: int, short: list[str], clients: int, duration: float) -> dict:
    rss_before = srv.rss_mb()
    lat: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop = time.monotonic() + duration

    def worker(w: int) -> None:
        with httpx.Client(base_url=srv.url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as client:
            i = w
            while time.monotonic() < stop:
                body = {"texts": [short[(i * 8 + j) % len(short)] for j in range(8)]}
                t0 = time.perf_counter()
                try:
                    ok = client.post(f"/v2/models/{model_id}/inference", json=body).status_code == 200
                except httpx.HTTPError:
                    ok = False
                with lock:
                    if ok:
                        lat.append((time.perf_counter() - t0) * 1000)
                    else:
                        errors[0] += 1
                i += clients

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(w,)) for w in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    return {"clients": clients, "duration_s": round(elapsed, 1), "requests": len(lat), "errors": errors[0],
            "requests_per_s": round(len(lat) / elapsed, 1), "texts_per_s": round(8 * len(lat) / elapsed, 1),
            "p50_ms": round(pct(lat, 50), 1), "p99_ms": round(pct(lat, 99), 1),
            "rss_before_mb": rss_before, "rss_after_mb": srv.rss_mb()}


# -- report ---------------------------------------------------------------------------------------------------
def plot(res: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scen = list(next(iter(res["runtimes"].values()))["http"])
    fig, ax = plt.subplots(figsize=(9, 4.5))
    width = 0.8 / (2 * len(res["runtimes"]))
    x = np.arange(len(scen))
    k = 0
    for rt, r in res["runtimes"].items():
        for kind in ("raw", "http"):
            vals = [r[kind][s]["p50_ms"] for s in scen]
            errs = [r[kind][s]["p95_ms"] - r[kind][s]["p50_ms"] for s in scen]
            ax.bar(x + (k - len(res["runtimes"]) + 0.5) * width, vals, width, yerr=[np.zeros(len(errs)), errs],
                   label=f"{rt} {'in-process' if kind == 'raw' else 'HTTP'}", capsize=2)
            k += 1
    ax.axhline(30, color="grey", ls="--", lw=0.8)
    ax.text(len(scen) - 0.5, 31, "30 ms target (8 short)", ha="right", fontsize=8, color="grey")
    ax.set_xticks(x, scen)
    ax.set_ylabel("latency p50 (bar) to p95 (whisker), ms")
    ax.set_title("labelf serve on 127.0.0.1 vs in-process predict_proba, all-MiniLM-L6-v2, 2-core CPU")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def readme_table(res: dict) -> str:
    models = res.get("models", list(MODEL_NAMES.values()))
    what = ("(Banking77, Bitext intent, Bitext category, SST-5)" if models == list(MODEL_NAMES.values())
            else "(" + ", ".join(models) + ")")
    lines = [
        f"Measured by `benchmarks/serve.py` on {res['machine']} ({res['date']}): `labelf serve` as a subprocess on 127.0.0.1,",
        f"{len(models)} embedding-head models on all-MiniLM-L6-v2 {what}, sequential",
        f"requests ({res['args']['requests']} per row, 2,000-char rows {max(res['args']['requests'] // 4, 10)}) after 5 "
        "warm-ups. *in-process* = the same texts through the models' own `predict_proba` (4 models: one shared `embed` +",
        "4 heads) in a fresh process that loads them as the server does (idle 50 ms between calls, like a server between",
        "requests: on a busy machine the scheduler favours tasks that sleep), just before the server starts; *server* = the",
        "`processing_time_ms` the server reports; overhead = HTTP p50 / in-process p50. " + load_note(res),
        "",
        "| runtime | request | HTTP p50 | p95 | p99 | server p50 | in-process p50 | overhead |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for rt, r in res["runtimes"].items():
        for s, h in r["http"].items():
            raw = r["raw"][s]["p50_ms"]
            lines.append(f"| {rt} | {s} | {h['p50_ms']:.1f} ms | {h['p95_ms']:.1f} | {h['p99_ms']:.1f} | "
                         f"{h['server_p50_ms']:.0f} | {raw:.1f} ms | {h['p50_ms'] / raw:.2f}x |")
    lines += ["", "| runtime | 4 models / 1 model (8 short, HTTP p50) | throughput, "
              f"{res['args']['clients']} clients x {res['args']['duration']} s | p50 / p99 | errors | RSS before -> after |",
              "|---|---|---|---|---|---|"]
    for rt, r in res["runtimes"].items():
        t = r["throughput"]
        lines.append(f"| {rt} | {r['multi_over_single']:.2f}x | {t['requests_per_s']} req/s ({t['texts_per_s']} texts/s) "
                     f"| {t['p50_ms']} / {t['p99_ms']} ms | {t['errors']} | {t['rss_before_mb']} -> {t['rss_after_mb']} MB |")
    acc = res["accuracy"]
    lines += ["", "Accuracy on each model's test sample (" + str(res["args"]["n_test"]) + " texts), torch fp32 vs "
              "ONNX Runtime int8 embeddings (same heads):", "",
              "| model | " + " | ".join(acc) + " |", "|---|" + "---|" * len(acc)]
    for name in next(iter(acc.values())):
        lines.append(f"| {name} | " + " | ".join(f"{acc[rt][name]:.4f}" for rt in acc) + " |")
    return "\n".join(lines)


def readme_section(res: dict) -> str:
    return "### Inference service (`labelf serve`)\n\n" + readme_table(res) + "\n\n" + NOTES


def load_note(res: dict) -> str:
    """How busy the machine was (a run records its load average; older results carry a written note)."""
    if "note" in res:
        return res["note"]
    start, end = res["load_avg_start"][0], res["load_avg_end"][0]
    return (f"Load average {start:.1f} when it started, {end:.1f} at the end, on {os.cpu_count()} cores: compare "
            "within a run.")


#: reading of the published run (written by hand: update it with the figures when the benchmark is run again)
NOTES = """Reading it:
- **8 short texts end to end: 12.3 ms p50 with ONNX Runtime int8** (target <= 30 ms: met; Labelf advertises 20-50 ms
  server-side), 36.7 ms with torch fp32. One short text: 3.8 ms (int8), 17.1 ms (torch). 8 texts of 2,000 characters:
  182 ms (int8), 224 ms (torch): long texts are dominated by attention over 256 tokens, where int8 gains less.
- **4 models cost what 1 does**: models on one frozen encoder share one encoding pass, so 4 models on 8 short texts took
  1.02x (torch) and 0.94x (int8) the HTTP p50 of one model. Target <= 1.3x: met.
- **HTTP, JSON and validation** add 1-5 ms per request (overhead 1.05-1.2x for int8; torch's 1.4-1.6x is the same few
  ms on a smaller denominator).
- **Throughput**, 16 clients for 30 s, 8 texts per request: 24.4 req/s with torch, 83.6 req/s with int8 (3.4x), zero
  errors in both; torch's RSS grew by ~235 MB under concurrency (per-thread buffers), ONNX's by 15 MB.
- **Accuracy price of int8**: Banking77 -1.0 point, Bitext intent -0.7, Bitext category and SST-5 unchanged (within 0.2).
  `--runtime onnx` (fp32 export) gives torch's answers. The default runtime stays torch; use `labelf serve --runtime
  onnx-int8` when latency matters more than that point.
- An earlier run on the same machine while four other jobs ran (load average 6-10) measured 68 ms (torch) and 55 ms (int8)
  for 8 short texts: on a shared CPU, contention, not the service, sets latency."""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=100)
    ap.add_argument("--duration", type=float, default=30.0)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--n-train", type=int, default=1500)
    ap.add_argument("--n-test", type=int, default=600)
    ap.add_argument("--runtimes", default="torch,onnx-int8")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-readme", action="store_true")
    ap.add_argument("--raw-child", type=Path, help=argparse.SUPPRESS)
    common.add_dataset_args(ap, DEFAULT_DATASETS)
    common.add_publish_args(ap, tag=False)
    args = ap.parse_args()
    if args.raw_child:
        raw_child(args.raw_child)
        return
    common.apply_common_args(args)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    RESULTS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        project, ids, tests, names = build_project(Path(tmp), args.datasets, args.n_train, args.n_test, args.seed)
        _, key = ApiKeyStore(project.ws).create("bench")
        short, long = texts_pool(tests, ids[0])
        run_args = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k != "datasets"}
        meta = {"requests": args.requests, "duration": args.duration, "clients": args.clients,
                "n_train": args.n_train, "n_test": args.n_test, "runtimes": args.runtimes.split(","),
                "seed": args.seed, "datasets": [d.key for d in args.datasets]}
        res = {"date": time.strftime("%Y-%m-%d"), "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, no GPU",
               "meta": meta, "args": run_args, "models": names, "runtimes": {}, "accuracy": {},
               "load_avg_start": [round(x, 2) for x in os.getloadavg()]}
        for rt in args.runtimes.split(","):
            print(f"[{rt}] accuracy and in-process timings", flush=True)
            res["accuracy"][rt] = accuracy(project, ids, tests, rt)
            raw = raw_latency(project.config.source_path, ids, rt, short, long, args.requests)
            print(f"[{rt}] starting labelf serve", flush=True)
            srv = Server(project.config.source_path, rt)
            try:
                http = http_latency(srv, key, ids, short, long, args.requests)
                print(f"[{rt}] throughput, {args.clients} clients x {args.duration:.0f} s", flush=True)
                thr = throughput(srv, key, ids[0], short, args.clients, args.duration)
            finally:
                srv.stop()
            res["runtimes"][rt] = {"raw": raw, "http": http, "throughput": thr,
                                   "multi_over_single": round(http["4 models, 8 short"]["p50_ms"]
                                                              / http["8 short"]["p50_ms"], 3)}
            print(json.dumps(res["runtimes"][rt], indent=1), flush=True)
        project.close()
    res["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]
    table = readme_table(res)
    print(table)
    _, published = common.write_results(NAME, res, publish=args.publish,
                                        coverage=("requests", "duration", "clients", "runtimes"))
    if published:
        plot(res, RESULTS / "serve.png")
        if not args.no_readme:
            common.write_section(NAME, readme_section(common.load_results(NAME)))


if __name__ == "__main__":
    main()
