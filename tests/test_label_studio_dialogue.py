"""Conversations in a real Label Studio: pushed as ``Paragraphs`` (a row per speaker turn) with the pre-annotation
and its deciding excerpt highlighted, annotated the way the labeling page does, and pulled back."""

from __future__ import annotations

import pytest
from helpers.data import ROWS, open_project
from helpers.label_studio import annotator_ids, sdk_client

from labelf_trainer.connectors.label_studio.connector import LabelStudioConnector
from labelf_trainer.connectors.label_studio.dialogue import dialogue_rows, is_dialogue, paragraphs
from labelf_trainer.connectors.label_studio.schema import (DIALOGUE_FIELD, EVIDENCE_NAME, ID_FIELD,
                                                           labeling_config, parse_labeling_config)

pytestmark = pytest.mark.labelstudio

SMALL_TALK = [("Agent", "Nordtel customer service, this is Wilma. How can I help you today?"),
              ("Customer", "Hi, I have a question about my account and a few other things."),
              ("Agent", "Of course. Could I have your customer number so I can find the account?"),
              ("Customer", "It is 65-232431, and the address is Storgatan 55 in Gävle."),
              ("Agent", "Thank you, I have your account in front of me now. What can I do for you?")]
LATE_CANCEL = [("Customer", "Honestly, I want to cancel my contract and end my subscription today."),
               ("Agent", "I understand. I can register the termination for the end of the month.")]


def call(turns: list[tuple[str, str]]) -> str:
    return "\n".join(f"{who}: {what}" for who, what in turns)


CALL = call(SMALL_TALK * 3 + LATE_CANCEL)  # the deciding request comes last
ROUTER = call(SMALL_TALK[:2] + [("Customer", "My router lights are red and the internet keeps dropping."),
                                ("Agent", "Let me run a line test on the broadband connection.")])
DIALOGUES = [("call-1", CALL, "Cancellation"), ("call-2", ROUTER, "Technical Issue")]


def test_paragraphs_round_trip_without_a_server(make_config) -> None:
    from labelf_trainer.config import load_config

    schema = parse_labeling_config(labeling_config(load_config(make_config()), dialogue=True))
    assert schema.dialogue_field == DIALOGUE_FIELD and schema.to_name == DIALOGUE_FIELD
    assert schema.evidence_name == EVIDENCE_NAME and "Cancellation" in schema.evidence_labels
    rows = paragraphs(CALL)
    assert [r["author"] for r in rows[:3]] == ["Agent", "Customer", "Agent"] and len(rows) == 17
    assert schema.text_of({DIALOGUE_FIELD: rows}) == CALL  # a task with only the rows still gives the transcript
    assert not is_dialogue("Customer: one line only") and is_dialogue(ROUTER)
    start = CALL.index("Honestly")
    region = next(r for r in schema.result(["Cancellation"], text=CALL, evidence=[
        {"label": "Cancellation", "start": start, "end": start + 30}]) if r["type"] == "paragraphlabels")
    assert region["value"] == {"start": "15", "end": "15", "startOffset": 0, "endOffset": 30,
                               "text": CALL[start:start + 30], "paragraphlabels": ["Cancellation"]}


def test_dialogue_pushed_as_paragraphs_with_pre_annotation_and_pulled(label_studio, ls_config) -> None:
    project = open_project(ls_config(rows=ROWS[:12] + DIALOGUES))
    conn = LabelStudioConnector(project, progress=False)
    pushed = conn.push_items(["call-1", "call-2", "b1"])
    assert pushed.created == 3
    client = sdk_client(label_studio)
    xml = client.projects.get(id=pushed.project_id).label_config
    assert '<Paragraphs name="dialogue" value="$dialogue" layout="dialogue" nameKey="author"' in xml
    assert '<Choices name="label" toName="dialogue"' in xml and '<ParagraphLabels name="evidence"' in xml

    task = client.tasks.get(id=str(pushed.task_ids["call-1"]))
    assert task.data["text"] == CALL and task.data[ID_FIELD] == "call-1"
    rows = task.data[DIALOGUE_FIELD]  # one row per turn, the speaker's name apart
    assert len(rows) == len(SMALL_TALK) * 3 + len(LATE_CANCEL)
    assert rows[0] == {"author": "Agent", "text": SMALL_TALK[0][1]} and rows[-2]["text"] == LATE_CANCEL[0][1]
    short = client.tasks.get(id=str(pushed.task_ids["b1"]))  # a one-line text is one row without a speaker
    assert short.data[DIALOGUE_FIELD] == [{"author": "", "text": short.data["text"]}]

    pred = task.predictions[0]
    assert pred.model_version.startswith("labelf-") and 0 < pred.score <= 1
    choices = [r for r in pred.result if r["type"] == "choices"]
    assert choices and choices[0]["to_name"] == DIALOGUE_FIELD
    chosen = choices[0]["value"]["choices"]
    highlights = [r for r in pred.result if r["type"] == "paragraphlabels"]
    assert [h["value"]["paragraphlabels"] for h in highlights] == [[c] for c in chosen]  # one per predicted label
    for h in highlights:  # the highlight is the excerpt, on the rows it lies in
        v = h["value"]
        assert h["from_name"] == EVIDENCE_NAME and h["to_name"] == DIALOGUE_FIELD
        first, last = int(v["start"]), int(v["end"])
        assert 0 <= first <= last < len(rows)
        spans = dialogue_rows(CALL)
        assert v["text"] == CALL[spans[first].start + v["startOffset"]:spans[last].start + v["endOffset"]]
        assert v["text"].strip()

    # annotators answer on the dialogue (a choice and a highlight of their own, as the labeling page sends them)
    ann1, ann2, _ = annotator_ids(label_studio)
    start = CALL.index("Honestly")
    mine = conn.schema.result(["Cancellation"], text=CALL, evidence=[
        {"label": "Cancellation", "start": start, "end": start + len(LATE_CANCEL[0][1])}])
    assert {r["type"] for r in mine} == {"choices", "paragraphlabels"}
    client.annotations.create(id=pushed.task_ids["call-1"], result=mine, completed_by=ann1)
    client.annotations.create(id=pushed.task_ids["call-2"], completed_by=ann2, result=[
        {"from_name": "label", "to_name": DIALOGUE_FIELD, "type": "choices",
         "value": {"choices": ["Technical Issue"]}}])
    res = conn.pull()
    assert res.new == 2
    assert project.ws.annotations.labeled() == {"call-1": ("Cancellation",), "call-2": ("Technical Issue",)}
    assert sorted(res.pairs) == sorted([(CALL, ("Cancellation",)), (ROUTER, ("Technical Issue",))])
    assert not conn.pull().changed and conn.push_items(["call-1"]).created == 0
    project.close()


def test_ml_backend_predicts_on_dialogue_tasks_from_the_real_server(label_studio, ls_config) -> None:
    """Label Studio itself asks the ML backend for predictions on tasks a user imported as dialogues: the answers
    land on the Paragraphs field, the choice is the model's and the highlight lies on the transcript's rows."""
    import time

    from helpers.service import uvicorn_server

    from labelf_trainer.service.app import create_app
    from labelf_trainer.service.settings import ServiceSettings

    project = open_project(ls_config(rows=ROWS[:12] + DIALOGUES))
    conn = LabelStudioConnector(project, progress=False)
    pid = conn.ensure_project()
    client = sdk_client(label_studio)
    late = call(SMALL_TALK * 2 + LATE_CANCEL)
    client.projects.import_tasks(id=pid, request=[{"text": late, DIALOGUE_FIELD: paragraphs(late)}])
    with uvicorn_server(create_app(project, settings=ServiceSettings(auth=False))) as url:
        conn.connect_ml_backend(f"{url}/ml-backend", webhook=False)
        conn.request_predictions()
        deadline = time.monotonic() + 120
        while not (tasks := [t for t in client.tasks.list(project=pid, fields="all") if t.predictions]):
            assert time.monotonic() < deadline, "Label Studio fetched no prediction"
            time.sleep(0.5)
    pred = tasks[0].predictions[0]
    model = project.registry.load(project.registry.active_model_id())
    choices = [r for r in pred.result if r["type"] == "choices"]
    assert choices[0]["to_name"] == DIALOGUE_FIELD and choices[0]["value"]["choices"] == [model.predict([late])[0]]
    rows = tasks[0].data[DIALOGUE_FIELD]
    for h in (r for r in pred.result if r["type"] == "paragraphlabels"):
        assert h["to_name"] == DIALOGUE_FIELD and 0 <= int(h["value"]["start"]) <= int(h["value"]["end"]) < len(rows)
    project.close()
