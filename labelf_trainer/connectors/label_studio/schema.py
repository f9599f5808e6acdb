"""The Label Studio labeling config: generated from the project's labels, parsed back, and choice results.

A project whose texts are conversations (speaker lines such as ``Agent:``) gets a ``Paragraphs`` object instead of
``Text``: one row per turn with the speaker's name (:mod:`.dialogue`), and a ``ParagraphLabels`` control named
``evidence`` on which a pre-annotation highlights the part of the call that drove each predicted label. Tasks keep
the whole transcript in ``data.text`` as well.

Usage::

    xml = labeling_config(project.config)                 # <View><Text name="text" .../><Choices name="label" ...>
    schema = parse_labeling_config(xml)                    # LabelSchema(from_name='label', to_name='text', ...)
    schema.result(["Billing"])                             # [{"from_name": "label", ..., "value": {"choices": [...]}}]
    schema.labels_of(annotation_result)                    # ("Billing",)
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import quoteattr

from ...config import ProjectConfig
from ..base import ConnectorError
from .dialogue import AUTHOR_KEY, TEXT_KEY, dialogue_rows, paragraphs, text_of_paragraphs
from .dialogue import region as paragraph_region

__all__ = ["CONTROL_NAME", "ID_FIELD", "REVIEW_FIELD", "TEXT_FIELD", "DIALOGUE_FIELD", "EVIDENCE_NAME", "LabelSchema",
           "labeling_config", "parse_labeling_config"]

TEXT_FIELD = "text"
"""Task data field holding the text (``$text`` in the labeling config)."""
ID_FIELD = "labelf_id"
"""Task data field holding our stable item id: how a task is matched to its item (push de-duplicates on it)."""
REVIEW_FIELD = "labelf_review"
"""Task data field of a review task (``labelf review --push``): the annotation row of the label under review, so a
label is sent for review once. Its annotations are new annotations of the item, like any other task's."""
CONTROL_NAME = "label"
"""Name of the ``Choices`` control in generated configs (the ``from_name`` of results)."""
DIALOGUE_FIELD = "dialogue"
"""Task data field (and object name) of a conversation's ``Paragraphs`` rows in generated configs."""
EVIDENCE_NAME = "evidence"
"""Name of the ``ParagraphLabels`` control on which pre-annotations highlight the deciding excerpt."""


@dataclass(frozen=True)
class LabelSchema:
    """The ``Choices`` control of a Label Studio project: its name, the object it labels, its labels."""

    from_name: str
    to_name: str
    labels: tuple[str, ...]
    multiple: bool = False
    text_field: str = TEXT_FIELD
    dialogue_field: str | None = None
    """The ``Paragraphs`` object's data field (the texts are shown as conversations), or None."""
    evidence_name: str | None = None
    """A ``ParagraphLabels`` control on the dialogue (highlights are possible), or None."""
    evidence_labels: tuple[str, ...] = ()

    @property
    def dialogue(self) -> bool:
        return self.dialogue_field is not None

    def result(self, labels: Sequence[str], *, text: str | None = None,
               evidence: Sequence[dict[str, Any]] = ()) -> list[dict[str, Any]]:
        """An annotation/prediction ``result`` choosing ``labels``; on a conversation with an evidence control, also
        a highlighted region per ``evidence`` item (``{"label", "start", "end"}``: characters of ``text``)."""
        out: list[dict[str, Any]] = [{"from_name": self.from_name, "to_name": self.to_name, "type": "choices",
                                      "value": {"choices": list(labels)}}]
        if self.evidence_name is None or self.dialogue_field is None or text is None or not evidence:
            return out
        rows = dialogue_rows(text)
        for ev in evidence:
            label = ev.get("label")
            tag = label if label in self.evidence_labels else (self.evidence_labels[0] if len(self.evidence_labels)
                                                              == 1 else None)
            value = paragraph_region(rows, int(ev["start"]), int(ev["end"])) if tag else None
            if value is not None:
                first, last = rows[int(value["start"])], rows[int(value["end"])]
                value["text"] = text[first.start + value["startOffset"]:last.start + value["endOffset"]]
                out.append({"from_name": self.evidence_name, "to_name": self.dialogue_field,
                            "type": "paragraphlabels", "value": {**value, "paragraphlabels": [tag]}})
        return out

    def data_of(self, text: str) -> dict[str, Any]:
        """Task ``data`` for a text (a conversation: its turns as ``Paragraphs`` rows too)."""
        data: dict[str, Any] = {self.text_field: text}
        if self.dialogue_field is not None:
            data[self.dialogue_field] = paragraphs(text)
        return data

    def text_of(self, data: dict[str, Any]) -> str:
        """The text of a task's ``data``: the configured field, else the dialogue rows joined (``Author: text``),
        else the first non-empty string."""
        value = data.get(self.text_field)
        if isinstance(value, str):
            return value
        if self.dialogue_field is not None and text_of_paragraphs(data.get(self.dialogue_field)):
            return text_of_paragraphs(data.get(self.dialogue_field))
        return next((v for k, v in data.items() if k not in (ID_FIELD, REVIEW_FIELD) and isinstance(v, str) and v.strip()), "")

    def labels_of(self, result: Sequence[dict[str, Any]] | None) -> tuple[str, ...]:
        """The choices made in a ``result`` (other controls' regions are ignored), sorted and unique."""
        chosen: set[str] = set()
        for region in result or []:
            if not isinstance(region, dict) or region.get("type", "choices") != "choices":
                continue
            if region.get("from_name") not in (None, self.from_name):
                continue
            chosen.update(str(c) for c in (region.get("value") or {}).get("choices") or [])
        return tuple(sorted(chosen))


def labeling_config(config: ProjectConfig, *, dialogue: bool = False) -> str:
    """The labeling config for a project: the text and one ``Choices`` (multiple for multi-label).

    Each label's description is its ``hint`` (a tooltip in the labeling page) and is also listed under the text.
    ``dialogue``: the texts are conversations, shown as ``Paragraphs`` (a row per turn, speaker names shown), with
    an ``evidence`` ``ParagraphLabels`` control for the highlighted deciding excerpts.
    """
    choice = "multiple" if config.multi_label else "single-radio"
    target = DIALOGUE_FIELD if dialogue else TEXT_FIELD
    obj = (f'  <Paragraphs name="{DIALOGUE_FIELD}" value="${DIALOGUE_FIELD}" layout="dialogue" '
           f'nameKey="{AUTHOR_KEY}" textKey="{TEXT_KEY}"/>') if dialogue else \
        f'  <Text name="{TEXT_FIELD}" value="${TEXT_FIELD}"/>'
    lines = ["<View>", obj]
    if dialogue:
        lines.append(f'  <ParagraphLabels name="{EVIDENCE_NAME}" toName="{DIALOGUE_FIELD}" showInline="true">')
        lines += [f"    <Label value={quoteattr(lab.name)}/>" for lab in config.labels]
        lines.append("  </ParagraphLabels>")
    lines += [(f'  <Header value={quoteattr("Pick " + ("all labels that apply" if config.multi_label else "one label"))}'
               ' size="6"/>'),
              (f'  <Choices name="{CONTROL_NAME}" toName="{target}" choice="{choice}" showInline="false"'
               ' required="true">')]
    for lab in config.answer_specs:
        hint = f" hint={quoteattr(lab.description)}" if lab.description else ""
        lines.append(f"    <Choice value={quoteattr(lab.name)}{hint}/>")
    lines.append("  </Choices>")
    described = [lab for lab in config.answer_specs if lab.description]
    if described:
        lines.append('  <View style="margin-top: 0.5em; color: #666">')
        for lab in described:
            lines.append(f"    <Header value={quoteattr(f'{lab.name}: {lab.description}')} size=\"6\"/>")
        lines.append("  </View>")
    lines.append("</View>")
    return "\n".join(lines)


def parse_labeling_config(xml: str) -> LabelSchema:
    """Find the ``Choices`` control of a labeling config (``ConnectorError`` if there is none)."""
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as e:
        raise ConnectorError(f"the Label Studio project's labeling config is not valid XML: {e}") from None
    controls = [el for el in root.iter() if el.tag == "Choices"]
    if not controls:
        raise ConnectorError("the Label Studio project's labeling config has no <Choices> control; "
                             "labelf-trainer needs one (text classification)")
    ctl = next((c for c in controls if c.get("name") == CONTROL_NAME), controls[0])
    to_name = ctl.get("toName", TEXT_FIELD).split(",")[0]
    text_field, dialogue_field = TEXT_FIELD, None
    for el in root.iter():
        if el.tag in ("Text", "HyperText") and el.get("name") == to_name:
            text_field = (el.get("value") or f"${TEXT_FIELD}").lstrip("$") or TEXT_FIELD
        elif el.tag == "Paragraphs" and el.get("name") == to_name:
            dialogue_field = (el.get("value") or f"${DIALOGUE_FIELD}").lstrip("$") or DIALOGUE_FIELD
    evidence = next((el for el in root.iter() if el.tag == "ParagraphLabels" and dialogue_field is not None
                     and el.get("toName", "").split(",")[0] == to_name), None)
    labels = tuple(c.get("value") or c.get("alias") or "" for c in ctl.iter() if c.tag == "Choice")
    return LabelSchema(from_name=ctl.get("name", CONTROL_NAME), to_name=to_name, labels=labels,
                       multiple=ctl.get("choice", "single") == "multiple", text_field=text_field,
                       dialogue_field=dialogue_field, evidence_name=evidence.get("name") if evidence is not None
                       else None, evidence_labels=tuple(c.get("value") or "" for c in evidence.iter()
                                                        if c.tag == "Label") if evidence is not None else ())
