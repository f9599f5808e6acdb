"""The Label Studio labeling config: generated from the project's labels, parsed back, and choice results.

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

__all__ = ["CONTROL_NAME", "ID_FIELD", "TEXT_FIELD", "LabelSchema", "labeling_config", "parse_labeling_config"]

TEXT_FIELD = "text"
"""Task data field holding the text (``$text`` in the labeling config)."""
ID_FIELD = "labelf_id"
"""Task data field holding our stable item id: how a task is matched to its item (push de-duplicates on it)."""
CONTROL_NAME = "label"
"""Name of the ``Choices`` control in generated configs (the ``from_name`` of results)."""


@dataclass(frozen=True)
class LabelSchema:
    """The ``Choices`` control of a Label Studio project: its name, the object it labels, its labels."""

    from_name: str
    to_name: str
    labels: tuple[str, ...]
    multiple: bool = False
    text_field: str = TEXT_FIELD

    def result(self, labels: Sequence[str]) -> list[dict[str, Any]]:
        """An annotation/prediction ``result`` choosing ``labels``."""
        return [{"from_name": self.from_name, "to_name": self.to_name, "type": "choices",
                 "value": {"choices": list(labels)}}]

    def data_of(self, text: str) -> dict[str, Any]:
        """Task ``data`` for a text."""
        return {self.text_field: text}

    def text_of(self, data: dict[str, Any]) -> str:
        """The text of a task's ``data`` (the configured field, else the first non-empty string)."""
        value = data.get(self.text_field)
        if isinstance(value, str):
            return value
        return next((v for k, v in data.items() if k != ID_FIELD and isinstance(v, str) and v.strip()), "")

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


def labeling_config(config: ProjectConfig) -> str:
    """The labeling config for a project: the text and one ``Choices`` (multiple for multi-label).

    Each label's description is its ``hint`` (a tooltip in the labeling page) and is also listed under the text.
    """
    choice = "multiple" if config.multi_label else "single-radio"
    lines = ["<View>",
             f'  <Text name="{TEXT_FIELD}" value="${TEXT_FIELD}"/>',
             (f'  <Header value={quoteattr("Pick " + ("all labels that apply" if config.multi_label else "one label"))}'
              ' size="6"/>'),
             (f'  <Choices name="{CONTROL_NAME}" toName="{TEXT_FIELD}" choice="{choice}" showInline="false"'
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
    text_field = TEXT_FIELD
    for el in root.iter():
        if el.tag in ("Text", "HyperText", "Paragraphs") and el.get("name") == to_name:
            text_field = (el.get("value") or f"${TEXT_FIELD}").lstrip("$") or TEXT_FIELD
    labels = tuple(c.get("value") or c.get("alias") or "" for c in ctl.iter() if c.tag == "Choice")
    return LabelSchema(from_name=ctl.get("name", CONTROL_NAME), to_name=to_name, labels=labels,
                       multiple=ctl.get("choice", "single") == "multiple", text_field=text_field)
