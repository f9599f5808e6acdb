"""`labelf review --push` against a real Label Studio: suspect labels become review tasks (the current label as the
pre-annotation, ``data.labelf_review``) even for items that have a task, never twice for the same label; corrections
made on them come back through the normal pull as new annotations of the item (the newest wins, the history stays)."""

from __future__ import annotations

import json

import pytest
from helpers.data import GOLD, ROWS, annotate_all, open_project
from helpers.label_studio import annotate, annotator_ids, sdk_client

from labelf_trainer.connectors.label_studio.connector import LabelStudioConnector
from labelf_trainer.connectors.label_studio.schema import ID_FIELD, REVIEW_FIELD
from labelf_trainer.quality.review import REVIEW_MODEL_VERSION, push_review, review, suspect_count
from labelf_trainer.types import Annotation

pytestmark = pytest.mark.labelstudio

FLIPS = {"b3": "Cancellation", "t2": "Billing", "c5": "Technical Issue"}


def test_review_tasks_pushed_once_and_corrections_pulled(label_studio, ls_config) -> None:
    project = open_project(ls_config(rows=ROWS, encoder="minilm"))
    annotate_all(project)
    conn = LabelStudioConnector(project, progress=False)
    client = sdk_client(label_studio)
    ann1, ann2, _ = annotator_ids(label_studio)

    # b3 already has an ordinary task, where an annotator gave it the wrong label (pulled: the newest label)
    first = conn.push_items(["b3", "t1"])
    assert first.created == 2
    annotate(client, first.task_ids["b3"], FLIPS["b3"], ann2)
    assert conn.pull().new == 1
    project.ws.annotations.add([Annotation(i, (lab,), annotator="sloppy") for i, lab in FLIPS.items() if i != "b3"])
    assert project.ws.annotations.labeled()["b3"] == ("Cancellation",)

    res = review(project)
    flagged = {s.item_id for s in res.suspects}
    assert set(FLIPS) <= flagged
    latest = project.ws.annotations.latest_rows()
    pushed = push_review(project, res.suspects, progress=False)
    assert pushed.review and (pushed.created, pushed.already_there) == (len(flagged), 0)
    assert pushed.task_ids["b3"] != first.task_ids["b3"]  # a new task beside the item's own
    assert "new review task(s)" in str(pushed)

    for s in res.suspects:
        task = client.tasks.get(id=str(pushed.task_ids[s.item_id]))
        assert task.data[ID_FIELD] == s.item_id and task.data[REVIEW_FIELD] == str(latest[s.item_id])
        assert task.data["text"] == s.text
        pred = task.predictions[0]  # the current label, pre-filled
        assert pred.model_version == REVIEW_MODEL_VERSION
        assert [r["value"]["choices"] for r in pred.result if r["type"] == "choices"] == [s.given]
        assert task.meta["labelf"]["reason"]["review"]["suggested"] == s.suggested

    def review_tasks() -> list:
        return [t for t in client.tasks.list(project=pushed.project_id, include="id,data")
                if (t.data or {}).get(REVIEW_FIELD)]

    assert len(review_tasks()) == len(flagged)

    # pushing the same suspects again creates nothing; an ordinary push sends neither (an item's own task is
    # preferred, a review task counts as a task of the item)
    again = push_review(project, res.suspects, progress=False)
    assert (again.created, again.already_there) == (0, len(flagged))
    assert again.task_ids == pushed.task_ids and len(review_tasks()) == len(flagged)
    plain = conn.push_items(["b3", "c5"])
    assert plain.created == 0 and plain.task_ids == {"b3": first.task_ids["b3"], "c5": pushed.task_ids["c5"]}

    # the reviewer corrects b3 (its own task said Cancellation: the newest wins, no conflict) and confirms c5
    annotate(client, pushed.task_ids["b3"], GOLD["b3"], ann1)
    annotate(client, pushed.task_ids["c5"], FLIPS["c5"], ann1)
    pulled = conn.pull()
    assert pulled.new == 2 and pulled.conflicts == 0
    labeled = project.ws.annotations.labeled()
    assert labeled["b3"] == (GOLD["b3"],) and labeled["c5"] == (FLIPS["c5"],) and labeled["t2"] == (FLIPS["t2"],)
    history = project.ws.query("SELECT labels, status FROM annotations WHERE item_id = 'b3' ORDER BY id")
    assert [json.loads(r["labels"]) for r in history] == [[GOLD["b3"]], [FLIPS["b3"]], [GOLD["b3"]]]
    assert not project.ws.annotations.conflicted()
    assert suspect_count(project)["still_suspect"] == len(flagged) - 2
    assert not conn.pull().changed

    # a newer label is a new label row: flagged again, it gets a new review task; the settled ones do not repeat
    res2 = review(project, remember=False)
    repeat = push_review(project, res2.suspects, progress=False)
    renewed = {s.item_id for s in res2.suspects} & {"b3", "c5"}
    assert repeat.created == len(renewed) + len({s.item_id for s in res2.suspects} - flagged)
    project.close()
