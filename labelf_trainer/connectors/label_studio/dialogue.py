"""Conversations in Label Studio: a transcript as ``Paragraphs`` rows (one per speaker turn, the speaker's name
shown) and the deciding excerpt of a prediction as a ``ParagraphLabels`` region on those rows.

Usage::

    rows = paragraphs("Agent: Hi\\nCustomer: I want to cancel")   # [{"author": "Agent", "text": "Hi"}, ...]
    text_of_paragraphs(rows)                                     # "Agent: Hi\\nCustomer: I want to cancel"
    region(rows_spans, 20, 40)                                   # {"start": "1", "startOffset": ..., ...}
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ...embeddings.windows import SPEAKER_RE, split_turns

__all__ = ["AUTHOR_KEY", "TEXT_KEY", "Row", "dialogue_rows", "paragraphs", "text_of_paragraphs", "region",
           "is_dialogue"]

AUTHOR_KEY, TEXT_KEY = "author", "text"
"""The keys of a ``Paragraphs`` row (``nameKey`` and ``textKey`` of the generated labeling config)."""


@dataclass(frozen=True)
class Row:
    """One paragraph: the speaker (``""`` for none) and where its text lies in the transcript."""

    author: str
    start: int
    end: int


def is_dialogue(text: str) -> bool:
    """Whether a text has at least two speaker lines (``Agent:``, ``Customer:``)."""
    return len(SPEAKER_RE.findall(text, 0, 200_000)) >= 2


def dialogue_rows(text: str) -> list[Row]:
    """The paragraphs of a text: its speaker turns (the name apart, the rest as the row's text), else its lines."""
    rows, speakers = [], is_dialogue(text)
    for turn in split_turns(text):
        m = SPEAKER_RE.match(text, turn.start) if speakers else None
        if m is not None:
            start = m.end()
            while start < turn.end and text[start].isspace():
                start += 1
            rows.append(Row(m.group().strip()[:-1].strip(), start, turn.end))
        else:
            rows.append(Row("", turn.start, turn.end))
    return rows


def paragraphs(text: str) -> list[dict[str, str]]:
    """The ``Paragraphs`` value of a text (see :func:`dialogue_rows`)."""
    return [{AUTHOR_KEY: r.author, TEXT_KEY: text[r.start:r.end]} for r in dialogue_rows(text)] or \
        [{AUTHOR_KEY: "", TEXT_KEY: text}]


def text_of_paragraphs(value: Any) -> str:
    """A transcript from a ``Paragraphs`` value (``Author: text`` per line); "" if it is not one."""
    if not isinstance(value, list):
        return ""
    lines = []
    for row in value:
        if isinstance(row, dict) and isinstance(row.get(TEXT_KEY), str):
            author = str(row.get(AUTHOR_KEY) or "").strip()
            lines.append(f"{author}: {row[TEXT_KEY]}" if author else row[TEXT_KEY])
    return "\n".join(lines)


def region(rows: Sequence[Row], start: int, end: int) -> dict[str, Any] | None:
    """A ``ParagraphLabels`` value covering characters ``[start, end)`` of the transcript: from the first row it
    touches to the last, offsets inside those rows' texts (None when it touches no row's text)."""
    hit = [k for k, r in enumerate(rows) if r.start < end and r.end > start]
    if not hit:
        return None
    first, last = rows[hit[0]], rows[hit[-1]]
    return {"start": str(hit[0]), "end": str(hit[-1]), "startOffset": max(start - first.start, 0),
            "endOffset": min(end, last.end) - last.start}
