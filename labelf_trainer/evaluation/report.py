"""The evaluation report: one self-contained HTML page (inline CSS and SVG, no scripts) from a metrics dict.

Usage::

    page = write_report("eval-report/", metrics, title="Contact reason v3", subtitle="setfit, 1,240 texts")

It shows the headline numbers, the confidence-threshold curves with the recommended threshold and routing bands,
the confusion matrix as a heatmap (row-normalised; label text shrinks but stays legible up to ~100 labels), the
per-class table sorted by F1, the most confused label pairs with example texts, and the per-language breakdown.
"""

from __future__ import annotations

import html
from datetime import datetime, timezone
from pathlib import Path
from string import Template
from typing import Any

from ..io_utils import atomic_writer

__all__ = ["render_report", "write_report", "REPORT_FILE"]

REPORT_FILE = "index.html"
TEMPLATE = Path(__file__).with_name("report_template.html")
BAND_COLORS = {"auto": "#15803d", "review": "#d97706", "human": "#b91c1c"}


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _pct(x: float | None, digits: int = 1) -> str:
    return "n/a" if x is None else f"{100 * x:.{digits}f}%"


def _card(k: str, v: str, s: str = "") -> str:
    return (f'<div class="card"><div class="k">{_e(k)}</div><div class="v">{_e(v)}</div>'
            f'<div class="s">{_e(s)}</div></div>')


def _heat(v: float) -> str:
    """White -> blue for a share in [0, 1]."""
    v = max(0.0, min(1.0, v)) ** 0.6
    r, g, b = (int(255 + (t - 255) * v) for t in (29, 78, 216))
    return f"rgb({r},{g},{b})"


def _short(label: str, n: int = 28) -> str:
    return label if len(label) <= n else label[: n - 1] + "…"


def confusion_svg(labels: list[str], matrix: list[list[int]]) -> str:
    """Row-normalised heatmap; font and cell size scale with the number of labels."""
    k = len(labels)
    cell = max(7, min(36, 900 // max(k, 1)))
    font = max(6.5, min(12.0, cell * 0.85))
    pad = int(min(28, max(len(lab) for lab in labels)) * font * 0.58) + 10
    size = cell * k
    w, h = pad + size + 10, pad + size + 10
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" '
           f'role="img" aria-label="confusion matrix">']
    out.append(f'<rect x="{pad}" y="{pad}" width="{size}" height="{size}" fill="#ffffff"/>')
    for i, row in enumerate(matrix):
        total = sum(row)
        for j, count in enumerate(row):
            if not count and i != j:  # empty cells are the white background: keeps 100-label pages small
                continue
            share = count / (total or 1)
            x, y = pad + j * cell, pad + i * cell
            stroke = ' stroke="#111827" stroke-width="0.6"' if i == j else ""
            out.append(f'<rect x="{x}" y="{y}" width="{cell}" height="{cell}" fill="{_heat(share)}"{stroke}>'
                       f'<title>{_e(labels[i])} → {_e(labels[j])}: {count} ({share:.0%} of {total})</title></rect>')
            if cell >= 22 and count:
                color = "#fff" if share > 0.5 else "#1f2933"
                out.append(f'<text x="{x + cell / 2}" y="{y + cell / 2 + font / 3}" font-size="{font * 0.85:.1f}" '
                           f'text-anchor="middle" fill="{color}">{count}</text>')
    for i, lab in enumerate(labels):
        c = pad + i * cell + cell / 2 + font / 3
        out.append(f'<text x="{pad - 4}" y="{c:.1f}" font-size="{font:.1f}" text-anchor="end">'
                   f'<title>{_e(lab)}</title>{_e(_short(lab))}</text>')
        out.append(f'<text transform="translate({c:.1f},{pad - 4}) rotate(-90)" font-size="{font:.1f}">'
                   f'<title>{_e(lab)}</title>{_e(_short(lab))}</text>')
    out.append(f'<rect x="{pad}" y="{pad}" width="{size}" height="{size}" fill="none" stroke="#cbd2d9"/></svg>')
    return "".join(out)


def curve_svg(curve: dict[str, list], recommended: float | None, bands: dict[str, Any] | None,
              series: tuple[tuple[str, str, str], ...]) -> str:
    """Line chart over thresholds 0..1 for each (key, name, colour) in ``series``, with band shading."""
    w, h, l, r, t, b = 640, 300, 48, 16, 14, 40
    pw, ph = w - l - r, h - t - b

    def px(x: float) -> float:
        return l + x * pw

    def py(y: float) -> float:
        return t + (1 - y) * ph

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="100%" viewBox="0 0 {w} {h}" role="img" '
           'aria-label="threshold curves">']
    if bands:
        for name, band in bands.items():
            lo, hi = band["range"]
            out.append(f'<rect x="{px(lo):.1f}" y="{t}" width="{px(hi) - px(lo):.1f}" height="{ph}" '
                       f'fill="{BAND_COLORS.get(name, "#999")}" opacity="0.07"/>')
    for v in (0, 0.25, 0.5, 0.75, 1.0):
        out.append(f'<line x1="{l}" x2="{w - r}" y1="{py(v):.1f}" y2="{py(v):.1f}" stroke="#e4e7eb"/>'
                   f'<text x="{l - 6}" y="{py(v) + 4:.1f}" font-size="11" text-anchor="end" fill="#616e7c">'
                   f'{v:.2f}</text>')
        out.append(f'<text x="{px(v):.1f}" y="{h - b + 16}" font-size="11" text-anchor="middle" fill="#616e7c">'
                   f'{v:.2f}</text>')
    out.append(f'<text x="{l + pw / 2}" y="{h - 6}" font-size="12" text-anchor="middle" fill="#616e7c">'
               'confidence threshold</text>')
    xs = curve["threshold"]
    for key, _name, color in series:
        pts = [(px(x), py(y)) for x, y in zip(xs, curve.get(key, [])) if y is not None]
        if pts:
            d = " ".join(f"{'M' if i == 0 else 'L'}{x:.1f},{y:.1f}" for i, (x, y) in enumerate(pts))
            out.append(f'<path d="{d}" fill="none" stroke="{color}" stroke-width="2.2"/>')
    if recommended is not None:
        out.append(f'<line x1="{px(recommended):.1f}" x2="{px(recommended):.1f}" y1="{t}" y2="{t + ph}" '
                   f'stroke="#111827" stroke-dasharray="4 3"/>'
                   f'<text x="{px(recommended) + 4:.1f}" y="{t + 12}" font-size="11" fill="#111827">'
                   f'recommended {recommended:.2f}</text>')
    out.append("</svg>")
    legend = "".join(f'<span><i style="background:{c}"></i>{_e(n)}</span>' for _k, n, c in series)
    return "".join(out) + f'<div class="legend">{legend}</div>'


def _per_class_table(per_class: dict[str, dict[str, Any]]) -> str:
    rows = sorted(per_class.items(), key=lambda kv: (kv[1]["f1"], -kv[1]["support"], kv[0]))
    body = []
    for lab, m in rows:
        bar = f'<span class="bar" style="width:{60 * m["f1"]:.0f}px"></span>'
        body.append(f"<tr><td>{_e(lab)}</td><td class='num'>{bar}{m['f1']:.3f}</td>"
                    f"<td class='num'>{m['precision']:.3f}</td><td class='num'>{m['recall']:.3f}</td>"
                    f"<td class='num'>{m['support']}</td></tr>")
    return ("<table><thead><tr><th>label</th><th class='num'>F1</th><th class='num'>precision</th>"
            "<th class='num'>recall</th><th class='num'>support</th></tr></thead><tbody>"
            + "".join(body) + "</tbody></table>")


def _threshold_section(metrics: dict[str, Any]) -> str:
    th = metrics.get("thresholds") or {}
    if "curve" in th:
        rec = th["recommended"]
        bands = th.get("bands") or {}
        chart = curve_svg(th["curve"], rec.get("threshold"), bands,
                          (("precision", "precision of kept predictions", "#2563eb"),
                           ("coverage", "coverage (share kept)", "#f59e0b")))
        if rec.get("reached"):
            text = (f"At a threshold of <b>{rec['threshold']:.2f}</b> the model keeps <b>{_pct(rec.get('coverage'))}"
                    f"</b> of texts at <b>{_pct(rec['precision'])}</b> precision (target "
                    f"{_pct(rec['target_precision'], 0)}); the rest go to people.")
        else:
            text = (f"No threshold reaches the target precision of {_pct(rec['target_precision'], 0)} "
                    f"(best {_pct(rec.get('precision'))}): label more data before automating.")
        strip = "".join(
            f'<div style="width:{100 * b["share"]:.2f}%;background:{BAND_COLORS.get(name, "#999")}">'
            f'{_e(name) + " " + _pct(b["share"], 0) if b["share"] >= 0.08 else ""}</div>'
            for name, b in bands.items() if b["share"] > 0)
        band_rows = "".join(
            f"<tr><td>{_e(name)}</td><td>{b['range'][0]:.2f}–{b['range'][1]:.2f}</td>"
            f"<td class='num'>{_pct(b['share'])}</td><td class='num'>{b['n']}</td>"
            f"<td class='num'>{_pct(b['accuracy'])}</td></tr>" for name, b in bands.items())
        return (f'<div class="grid2"><section><h2>Confidence thresholds</h2><p class="note">{text}</p>{chart}</section>'
                f'<section><h2>Routing bands</h2><p class="note">Share of texts by top confidence, and the accuracy '
                f'of each band.</p><div class="bands">{strip}</div><table><thead><tr><th>band</th><th>confidence'
                f"</th><th class='num'>share</th><th class='num'>texts</th><th class='num'>accuracy</th></tr>"
                f"</thead><tbody>{band_rows}</tbody></table></section></div>")
    if "per_label" in th:
        rows = []
        for lab, v in th["per_label"].items():
            r = v["recommended"]
            thr = "n/a" if r.get("threshold") is None else f"{r['threshold']:.2f}"
            how = "target reached" if r.get("reached") else _e(r.get("fallback", "not reached"))
            rows.append(f"<tr><td>{_e(lab)}</td><td class='num'>{thr}</td><td class='num'>{_pct(r.get('precision'))}"
                        f"</td><td class='num'>{_pct(r.get('recall'))}</td><td class='num'>{v['support']}</td>"
                        f"<td>{how}</td></tr>")
        return (f'<section><h2>Per-label thresholds (multi-label)</h2><p class="note">Each label is predicted when '
                f"its own score is at or above its threshold; recommended for precision "
                f"{_pct(th.get('target_precision'), 0)}, else the best-F1 threshold.</p><div class='scroll'><table>"
                "<thead><tr><th>label</th><th class='num'>threshold</th><th class='num'>precision</th>"
                "<th class='num'>recall</th><th class='num'>support</th><th>how</th></tr></thead><tbody>"
                + "".join(rows) + "</tbody></table></div></section>")
    return ""


def _pairs_section(pairs: list[dict[str, Any]]) -> str:
    if not pairs:
        return ""
    items = []
    for p in pairs:
        ex = "".join(f"<li>“{_e(t)}”</li>" for t in p.get("examples", []))
        items.append(f'<div class="pair"><b class="t">{_e(p["true"])}</b> mislabeled as <b class="p">'
                     f'{_e(p["predicted"])}</b> {_pct(p["rate"], 0)} of the time ({p["count"]} texts)'
                     f"<ul>{ex}</ul></div>")
    return ('<section><h2>Most confused label pairs</h2><p class="note">Share of the true label\'s texts given the '
            'other label, with examples: candidates for clearer label descriptions, merging, or more examples.</p>'
            '<div class="scroll">' + "".join(items) + "</div></section>")


def _languages_section(langs: dict[str, dict[str, Any]]) -> str:
    if not langs:
        return ""
    rows = "".join(f"<tr><td>{_e(k)}</td><td class='num'>{v['n']}</td><td class='num'>{_pct(v['accuracy'])}</td>"
                   f"<td class='num'>{_pct(v['f1_macro'])}</td></tr>" for k, v in langs.items())
    return ('<section><h2>Per language</h2><p class="note">Detected language of each evaluation text '
            '("unknown": too short to tell).</p><table><thead><tr><th>language</th><th class=\'num\'>texts</th>'
            f"<th class='num'>accuracy</th><th class='num'>macro-F1</th></tr></thead><tbody>{rows}</tbody></table>"
            "</section>")


def render_report(metrics: dict[str, Any], *, title: str, subtitle: str = "") -> str:
    """The report page as an HTML string."""
    from .. import __version__

    ev = metrics.get("evaluation") or {}
    th = metrics.get("thresholds") or {}
    cards = [_card("accuracy", _pct(metrics.get("accuracy")),
                   "exact match" if metrics.get("multi_label") else "top label"),
             _card("macro-F1", _pct(metrics.get("f1_macro"))),
             _card("evaluated on", f"{metrics.get('n_eval', 0):,} texts", ev.get("method", ""))]
    rec = th.get("recommended") or {}
    if rec.get("reached"):
        cards.append(_card("recommended threshold", f"{rec['threshold']:.2f}",
                           f"{_pct(rec.get('coverage'), 0)} coverage at {_pct(rec['precision'], 0)} precision"))
    bands = th.get("bands") or {}
    if "auto" in bands:
        cards.append(_card("automated", _pct(bands["auto"]["share"], 0),
                           f"confidence ≥ {bands['auto']['range'][0]:.2f}"))
    cm = metrics.get("confusion_matrix") or {}
    if cm.get("matrix"):
        confusion = confusion_svg(cm["labels"], cm["matrix"])
    elif cm.get("per_label"):
        confusion = _per_label_matrix(cm["per_label"])
    else:
        confusion = "<p class='note'>not available</p>"
    values = {
        "title": _e(title), "subtitle": _e(subtitle + (f" · {ev['description']}" if ev.get("description") else "")),
        "cards": "".join(cards), "threshold_section": _threshold_section(metrics), "confusion": confusion,
        "per_class": _per_class_table(metrics.get("per_class") or {}),
        "per_class_note": f"{len(metrics.get('per_class') or {})} labels; support = evaluation texts with the label.",
        "pairs_section": _pairs_section(metrics.get("confused_pairs") or []),
        "languages_section": _languages_section(metrics.get("languages") or {}),
        "version": _e(__version__), "generated": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }
    return Template(TEMPLATE.read_text(encoding="utf-8")).substitute(values)


def _per_label_matrix(per_label: dict[str, dict[str, int]]) -> str:
    rows = "".join(f"<tr><td>{_e(lab)}</td><td class='num'>{m['tp']}</td><td class='num'>{m['fp']}</td>"
                   f"<td class='num'>{m['fn']}</td><td class='num'>{m['tn']}</td></tr>" for lab, m in per_label.items())
    return ("<table><thead><tr><th>label</th><th class='num'>TP</th><th class='num'>FP</th><th class='num'>FN</th>"
            f"<th class='num'>TN</th></tr></thead><tbody>{rows}</tbody></table>")


def write_report(folder: str | Path, metrics: dict[str, Any], *, title: str, subtitle: str = "") -> Path:
    """Write ``folder/index.html`` (atomically) and return its path."""
    page = Path(folder) / REPORT_FILE
    with atomic_writer(page) as fh:
        fh.write(render_report(metrics, title=title, subtitle=subtitle))
    page.chmod(0o644)  # a report is meant to be shared
    return page
