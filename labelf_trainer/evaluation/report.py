"""The evaluation report: one self-contained HTML page (inline CSS and SVG, no scripts) from a metrics dict.

Usage::

    page = write_report("eval-report/", metrics, title="Contact reason v3", subtitle="setfit, 1,240 texts")

It shows the headline numbers, the confidence-threshold curves with the recommended threshold and routing bands,
the confusion matrix as a heatmap (row-normalised; label text shrinks but stays legible up to ~100 labels), the
per-class table sorted by F1, the most confused label pairs with example texts, the reliability diagram (calibration,
with its expected calibration error), the out-of-scope label's figures when the model has one, and the breakdowns
per language and per text length.
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


def reliability_svg(rows: list[dict[str, Any]], *, label: str = "confidence") -> str:
    """Reliability diagram: mean confidence (x) against accuracy (y) per bin, a dot sized by its share of texts,
    bars from the diagonal showing the gap; the diagonal is perfect calibration."""
    w, h, l, r, t, b = 360, 300, 44, 12, 12, 40
    pw, ph = w - l - r, h - t - b
    total = sum(int(row.get("n", 0)) for row in rows) or 1

    def px(x: float) -> float:
        return l + x * pw

    def py(y: float) -> float:
        return t + (1 - y) * ph

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="100%" viewBox="0 0 {w} {h}" role="img" '
           'aria-label="reliability diagram">']
    for v in (0, 0.25, 0.5, 0.75, 1.0):
        out.append(f'<line x1="{l}" x2="{w - r}" y1="{py(v):.1f}" y2="{py(v):.1f}" stroke="#e4e7eb"/>'
                   f'<text x="{l - 6}" y="{py(v) + 4:.1f}" font-size="11" text-anchor="end" fill="#616e7c">{v:.2f}'
                   f'</text><text x="{px(v):.1f}" y="{h - b + 16}" font-size="11" text-anchor="middle" '
                   f'fill="#616e7c">{v:.2f}</text>')
    out.append(f'<line x1="{px(0)}" y1="{py(0)}" x2="{px(1)}" y2="{py(1)}" stroke="#9aa5b1" stroke-dasharray="4 3"/>')
    for row in rows:
        c, a, n = float(row["confidence"]), float(row["accuracy"]), int(row["n"])
        color = "#b91c1c" if abs(a - c) > 0.1 else "#2563eb"
        out.append(f'<line x1="{px(c):.1f}" x2="{px(c):.1f}" y1="{py(c):.1f}" y2="{py(a):.1f}" stroke="{color}" '
                   f'stroke-width="2" opacity="0.5"/>')
        out.append(f'<circle cx="{px(c):.1f}" cy="{py(a):.1f}" r="{2.5 + 9 * (n / total) ** 0.5:.1f}" '
                   f'fill="{color}" opacity="0.85"><title>{row["lo"]:.2f}-{row["hi"]:.2f}: {n} {_e(label)}s, '
                   f'mean confidence {c:.3f}, accuracy {a:.3f}</title></circle>')
    out.append(f'<text x="{l + pw / 2}" y="{h - 6}" font-size="12" text-anchor="middle" fill="#616e7c">'
               f'mean {_e(label)}</text><text transform="translate(12,{t + ph / 2}) rotate(-90)" font-size="12" '
               'text-anchor="middle" fill="#616e7c">share correct</text></svg>')
    return "".join(out)


def _calibration_section(metrics: dict[str, Any]) -> str:
    """The reliability diagram of the evaluated scores (``calibration_check``), else of the held-out scores the
    calibration was fitted on (``calibration``), with the expected calibration error."""
    cal = metrics.get("calibration_check") or metrics.get("calibration") or {}
    rows = cal.get("reliability") or []
    if not rows:
        return ""
    multi = metrics.get("multi_label")
    what = "every (text, label) score against whether the label applies" if multi else "the top label's confidence"
    ece = cal.get("ece")
    fitted = (metrics.get("calibration") or {}).get("method") or {}
    how = {"temperature": f"temperature scaling (T = {fitted.get('temperature')})",
           "multilabel_platt": "shared Platt scaling"}.get(fitted.get("kind"), "")
    return (f'<section><h2>Calibration</h2><p class="note">Reliability diagram of {what}, in {cal.get("bins", 15)} '
            f"bins: a dot on the diagonal means that scores of 0.8 are right 80% of the time. Expected calibration "
            f"error <b>{'n/a' if ece is None else f'{ece:.3f}'}</b> on {cal.get('n', 0):,} texts"
            f"{'; ' + _e(how) + ' fitted on held-out scores' if how else ''}.</p>"
            f"<div style='max-width:420px'>{reliability_svg(rows, label='score' if multi else 'confidence')}</div>"
            "</section>")


def _out_of_scope_section(oos: dict[str, Any]) -> str:
    if not oos:
        return ""
    cells = [("recall", _pct(oos.get("recall")), f"of {oos.get('n_out_of_scope', 0)} texts labeled "
              f"{oos.get('label')}"),
             ("precision", _pct(oos.get("precision")), f"of {oos.get('answered_out_of_scope', 0)} answered "
              f"{oos.get('label')}"),
             ("in-scope accuracy", _pct(oos.get("in_scope_accuracy")), f"{oos.get('n_in_scope', 0)} in-scope texts"),
             ("AUROC", "n/a" if oos.get("auroc") is None else f"{oos['auroc']:.3f}", f"of the {oos.get('label')} score")]
    return (f'<section><h2>Out of scope: “{_e(oos.get("label"))}”</h2><p class="note">Texts that fit none of the '
            "labels: how many the model answers with the out-of-scope label, how often that answer is right, and "
            "what it costs the texts that are in scope.</p><div class='cards'>"
            + "".join(_card(k, v, sub) for k, v, sub in cells) + "</div></section>")


def _lengths_section(buckets: dict[str, dict[str, Any]]) -> str:
    if not buckets:
        return ""
    micro = any("f1_micro" in v for v in buckets.values())
    rows = "".join(f"<tr><td>{_e(k)}</td><td class='num'>{v['n']}</td><td class='num'>{_pct(v['accuracy'])}</td>"
                   f"<td class='num'>{_pct(v['f1_macro'])}</td>"
                   + (f"<td class='num'>{_pct(v.get('f1_micro'))}</td>" if micro else "") + "</tr>"
                   for k, v in buckets.items())
    return ('<section><h2>Per text length</h2><p class="note">Characters per evaluation text: messages, chats, '
            'whole calls. Texts longer than the encoder\'s window are read in windows (long_texts).</p><table><thead>'
            "<tr><th>length</th><th class='num'>texts</th><th class='num'>accuracy</th><th class='num'>macro-F1</th>"
            + ("<th class='num'>micro-F1</th>" if micro else "") + f"</tr></thead><tbody>{rows}</tbody></table>"
            "</section>")


def _labels_section(quality: dict[str, Any]) -> str:
    """The labels behind the model: suspect labels of the last `labelf review`, annotator agreement."""
    sus, agr = quality.get("suspects"), quality.get("agreement")
    if not sus and not agr:
        return ""
    rows = []
    if sus:
        rows.append(f"<tr><td>suspect labels (last <code>labelf review</code>, {_e(sus['at'])})</td><td class='num'>"
                    f"{sus['still_suspect']} of {sus['flagged']} flagged, {sus['reviewed']} reviewed</td></tr>")
    if agr:
        rows.append(f"<tr><td>annotator agreement (Krippendorff's alpha)</td><td class='num'>"
                    f"{agr['krippendorff_alpha']} on {agr['texts']} texts, {agr['disputed']} disputed</td></tr>")
    return ('<section><h2>The labels</h2><p class="note">Labels the model contradicts that nobody has looked at '
            "since the review, and how far annotators agree where two or more labeled a text "
            "(<code>labelf review</code>, <code>labelf agreement</code>).</p><table><tbody>"
            + "".join(rows) + "</tbody></table></section>")


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
        "calibration_section": _calibration_section(metrics),
        "out_of_scope_section": _out_of_scope_section(metrics.get("out_of_scope") or {}),
        "lengths_section": _lengths_section(metrics.get("length_buckets") or {}),
        "labels_section": _labels_section(metrics.get("label_quality") or {}),
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
