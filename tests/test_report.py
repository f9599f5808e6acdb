"""The HTML evaluation report and `labelf models compare`: real metrics in, a self-contained page out."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import numpy as np
from helpers.data import annotate_all

from labelf_trainer.config import Thresholds
from labelf_trainer.evaluation import evaluate_scores
from labelf_trainer.evaluation.compare import compare_metrics
from labelf_trainer.evaluation.report import confusion_svg, render_report, write_report
from labelf_trainer.loop.project import Project
from labelf_trainer.loop.trainer import train_and_register

EVIL = 'Bill <script>alert("x")</script> & co'


class Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def _metrics(classes: list[str], seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    y = [classes[i % len(classes)] for i in range(60)]
    proba = rng.dirichlet(np.ones(len(classes)) * 0.3, size=60)
    for i, lab in enumerate(y[:40]):  # two thirds right
        proba[i] = np.roll(np.sort(proba[i])[::-1], classes.index(lab))
    texts = [f"customer message number {i} about {lab.lower()} and other things" for i, lab in enumerate(y)]
    return evaluate_scores(proba, y, classes, multi_label=False, texts=texts, thresholds=Thresholds())


def test_report_is_self_contained_escaped_and_complete(tmp_path):
    classes = [EVIL, "Technical Issue", "Cancellation"]
    metrics = _metrics(classes)
    page = write_report(tmp_path / "rep", metrics, title="Contact reason v3", subtitle="embedding-head")
    assert page.name == "index.html" and page.stat().st_mode & 0o444 == 0o444
    doc = page.read_text(encoding="utf-8")
    assert "<script" not in doc  # the label was escaped, and the page has no scripts
    assert "&lt;script&gt;" in doc
    p = Collect()
    p.feed(doc)
    assert not [a for _, a in p.tags if any(str(v).startswith(("http:", "https:", "//")) for k, v in a.items()
                                              if k in ("src", "href"))]  # no external resources
    figures = {a.get("aria-label") for t, a in p.tags if t == "svg"}  # each chart by what it shows, not a count
    assert {"threshold curves", "reliability diagram", "confusion matrix"} <= figures
    assert all(a.get("role") == "img" and a.get("aria-label") for t, a in p.tags if t == "svg")
    cm = metrics["confusion_matrix"]["matrix"]
    cells = [a for t, a in p.tags if t == "rect" and a.get("fill", "").startswith("rgb")]
    assert len(cells) == sum(1 for i, r in enumerate(cm) for j, c in enumerate(r) if c or i == j)
    text = " ".join(p.text)
    assert "mislabeled as" in text and "Routing bands" in text and "Confidence thresholds" in text
    assert "Calibration" in text and "Per text length" in text  # the reliability diagram and the length table
    # per-class rows sorted by F1, worst first
    f1s = [float(x) for x in re.findall(r"<span class=\"bar\"[^>]*></span>([0-9.]+)</td>", doc)]
    assert len(f1s) == 3 and f1s == sorted(f1s)


def test_confusion_matrix_stays_legible_at_77_labels():
    labels = [f"label_number_{i:02d}_with_a_long_name" for i in range(77)]
    m = np.eye(77, dtype=int) * 9
    m[0, 1] = m[5, 70] = 2
    svg = confusion_svg(labels, m.tolist())
    sizes = [float(s) for s in re.findall(r'font-size="([0-9.]+)"', svg)]
    assert min(sizes) >= 6.5
    width = float(re.search(r'<svg[^>]*width="([0-9.]+)"', svg).group(1))
    assert width < 1300
    assert svg.count("<rect") == 77 + 2 + 2  # diagonal, two mistakes, background and frame
    assert len(svg) < 60_000


def test_multi_label_report_has_per_label_thresholds():
    Y = [("A",), ("A", "B"), ("B",), ()] * 5
    scores = np.array([[0.9, 0.1], [0.8, 0.7], [0.2, 0.9], [0.3, 0.2]] * 5)
    metrics = evaluate_scores(scores, Y, ["A", "B"], multi_label=True, texts=["x"] * 20)
    doc = render_report(metrics, title="multi", subtitle="")
    assert "Per-label thresholds" in doc and "<td class='num'>10</td>" in doc and "TP" in doc


def test_compare_metrics_and_cli(make_config, cli):
    a = {"accuracy": 0.8, "f1_macro": 0.7, "n_eval": 10, "evaluation": {"method": "holdout"},
         "per_class": {"X": {"precision": 0.9, "recall": 0.8, "f1": 0.85, "support": 5},
                       "Y": {"precision": 0.5, "recall": 0.6, "f1": 0.55, "support": 5}}}
    b = {"accuracy": 0.9, "f1_macro": 0.75, "n_eval": 10, "evaluation": {"method": "holdout"},
         "per_class": {"X": {"precision": 0.8, "recall": 0.8, "f1": 0.8, "support": 5},
                       "Y": {"precision": 0.7, "recall": 0.7, "f1": 0.7, "support": 5}}}
    c = compare_metrics(a, b, name_a="1@1", name_b="1@2")
    assert c["headline"]["accuracy"]["delta"] == 0.1 and c["same_evaluation"]
    assert [r["label"] for r in c["per_class"]] == ["X", "Y"]  # worst change first
    assert c["per_class"][0]["f1_delta"] == -0.05 and (c["improved"], c["worse"]) == (1, 1)

    cfg = make_config()
    with Project.open(cfg, create=True) as project:
        project.import_sources()
        annotate_all(project)
        r1 = train_and_register(project, progress=False)
        train_and_register(project, progress=False, C=0.5)
    r = cli("models", "compare", f"{r1.model_id}@1", f"{r1.model_id}@2", "--config", str(cfg), "--format", "json",
            cwd=cfg.parent)
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["a"] == f"{r1.model_id}@1" and len(res["per_class"]) == 3 and res["same_evaluation"]
    r = cli("models", "compare", f"{r1.model_id}@1", f"{r1.model_id}@2", "--config", str(cfg), "--data",
            str(cfg.parent / "demo.csv"), cwd=cfg.parent)
    assert r.returncode == 0, r.stderr
    assert "per class" in r.stdout and "accuracy:" in r.stderr
    r = cli("evaluate", f"{r1.model_id}@2", "--config", str(cfg), "--report", str(cfg.parent / "rep"), cwd=cfg.parent)
    assert r.returncode == 0, r.stderr
    assert (cfg.parent / "rep" / "index.html").is_file() and "report:" in r.stderr
    r = cli("models", "compare", "1", "1", "--config", str(cfg), "--data", str(cfg.parent / "demo.csv"),
            cwd=cfg.parent)
    assert r.returncode == 1 and "two different versions" in r.stderr
