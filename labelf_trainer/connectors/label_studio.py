"""The Label Studio connector (label-studio-sdk 2.x): project setup, push with pre-annotations, incremental pull.

Usage::

    with Project.open("labelf.yaml") as project:
        ls = LabelStudioConnector(project)          # url and token from the config's label_studio section
        ls.ensure_project()                          # create (or reuse) the project; labels must match the config
        print(ls.push_items(["b1", "t2"]))           # one task per item, never twice (data.labelf_id)
        print(ls.pull())                             # new/changed annotations since the last pull

    push_batch(project, batch_id)                    # what `labelf suggest --push` calls

SDK types never leave this module: callers get :class:`PushResult`, :class:`PullResult`, :class:`CheckLine`.
Errors are :mod:`labelf_trainer.connectors.base` errors with a one-line message.

How tasks map to items: each task carries our stable item id in ``data.labelf_id``; a push first lists the ids
already in the project and sends only the rest, in chunks, so a repeated or interrupted push never duplicates.
Pull asks for tasks whose ``updated_at`` (bumped by Label Studio on every annotation create, update or delete) is
past the last pull's cursor, and writes their annotations with :mod:`.ls_store` (conflict policy per task).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import numpy as np

from ..exceptions import DataError, LabelfError
from ..predict import choices
from ..progress import progress_bar
from ..types import Item
from .base import (
    CheckLine,
    ConnectorError,
    ConnectorNotFoundError,
    LabelMismatchError,
    PullResult,
    PushResult,
)
from .ls_client import make_client, normalize_url, translate_errors
from .ls_schema import ID_FIELD, LabelSchema, labeling_config, parse_labeling_config
from .ls_store import SOURCE, IngestStats, LSAnnotation, LSTask, ingest, known_task_ids, mark_deleted

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "LabelStudioConnector",
    "ingest_webhook",
    "model_version_tag",
    "pull",
    "push_batch",
    "push_pending",
]

DEFAULT_CHUNK_SIZE = 100
CURSOR_OVERLAP = timedelta(seconds=5)
"""A pull re-reads tasks changed up to this long before the last cursor (late commits); re-reading is harmless."""
WEBHOOK_ACTIONS = ["ANNOTATION_CREATED", "ANNOTATION_UPDATED", "ANNOTATIONS_DELETED"]


def model_version_tag(model_id: int, version: int) -> str:
    """The ``model_version`` shown in Label Studio for predictions of a registry model version."""
    return f"labelf-{model_id}@{version}"


def _ts(value: Any) -> str:
    """Label Studio timestamps (datetime or ISO text, 'Z' or offset) as one sortable UTC form."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _annotator(ann: dict[str, Any], users: dict[int, str]) -> str:
    who = ann.get("completed_by")
    if isinstance(who, dict):
        return str(who.get("email") or who.get("username") or f"ls-user-{who.get('id')}")
    name = str(ann.get("created_username") or "").split(",")[0].strip()
    if name:
        return name
    return users.get(who, f"ls-user-{who}") if isinstance(who, int) else "unknown"


def _to_task(raw: dict[str, Any], schema: LabelSchema, users: dict[int, str]) -> LSTask:
    data = raw.get("data") or {}
    anns = tuple(
        LSAnnotation(id=int(a["id"]), labels=schema.labels_of(a.get("result")), annotator=_annotator(a, users),
                     updated_at=_ts(a.get("updated_at") or a.get("created_at")), cancelled=bool(a.get("was_cancelled")))
        for a in raw.get("annotations") or [] if isinstance(a, dict) and a.get("id") is not None)
    item_id = data.get(ID_FIELD)
    return LSTask(id=int(raw["id"]), text=str(data.get(schema.text_field, "")),
                  item_id=str(item_id) if item_id not in (None, "") else None, annotations=anns)


class LabelStudioConnector:
    """One project's link to one Label Studio server (``url`` and token from the config unless given)."""

    def __init__(self, project: Any, *, url: str | None = None, token: str | None = None,
                 httpx_client: httpx.Client | None = None, timeout: float = 60.0, max_retries: int = 1) -> None:
        self.project = project
        self.cfg = project.config.label_studio
        self.url = normalize_url(url or self.cfg.url)
        self._token = token if token is not None else self.cfg.token
        self._httpx_client = httpx_client
        self._timeout = timeout
        self._max_retries = max_retries
        self._client: Any = None
        self.project_id: int | None = None
        self.schema: LabelSchema | None = None

    # -- plumbing ------------------------------------------------------------------------------------------
    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = make_client(self.url, self._token, token_env=self.cfg.token_env, timeout=self._timeout,
                                       httpx_client=self._httpx_client, max_retries=self._max_retries)
        return self._client

    def _errors(self, what: str) -> Any:
        return translate_errors(self.url, what, token_env=self.cfg.token_env)

    def _key(self, name: str) -> str:
        return f"label_studio:{self.url}:{name}"

    @property
    def ws(self) -> Any:
        return self.project.ws

    # -- project setup -------------------------------------------------------------------------------------
    def _remembered_project(self) -> int | None:
        return self.cfg.project_id or self.ws.get_state(self._key("project_id"))

    def _load_schema(self, project_id: int, *, check: bool = True) -> LabelSchema:
        with self._errors(f"reading project {project_id}"):
            p = self.client.projects.get(id=project_id)
        schema = parse_labeling_config(p.label_config or "")
        if check:
            want, have = set(self.project.config.label_names), set(schema.labels)
            if want != have:
                raise LabelMismatchError(project_id, missing=list(want - have), extra=list(have - want))
        return schema

    def ensure_project(self, *, create: bool = True, check_labels: bool = True) -> int:
        """The Label Studio project id: the config's, the one remembered by the workspace, one with the config's
        title, or (``create``) a new one with a generated labeling config. ``check_labels``: raise
        :class:`LabelMismatchError` when its labels differ from the config's (a pull only refuses labels in use)."""
        cfg = self.project.config
        pid = self._remembered_project()
        if pid is not None:
            try:
                self.schema = self._load_schema(int(pid), check=check_labels)
            except ConnectorNotFoundError:
                if self.cfg.project_id:
                    raise ConnectorNotFoundError(f"Label Studio at {self.url} has no project {pid} "
                                                 "(label_studio.project_id in the config)") from None
                pid = None  # remembered project was deleted: find or create it again
        if pid is None:
            title = self.cfg.project_title or cfg.project
            with self._errors("listing projects"):
                found = [p for p in self.client.projects.list(title=title) if p.title == title]
            if found:
                pid = min(p.id for p in found)
            elif not create:
                raise ConnectorNotFoundError(f"Label Studio at {self.url} has no project titled {title!r} yet "
                                             "(`labelf push` creates it)")
            else:
                with self._errors(f"creating project {title!r}"):
                    p = self.client.projects.create(
                        title=title, label_config=labeling_config(cfg),
                        description=f"labelf-trainer project {cfg.project!r} ({cfg.task})",
                        show_collab_predictions=True)
                pid = p.id
            self.schema = self._load_schema(int(pid), check=check_labels)
        self.project_id = int(pid)
        if self.ws.get_state(self._key("project_id")) != self.project_id:
            self.ws.set_state(self._key("project_id"), self.project_id)
        return self.project_id

    def check(self) -> list[CheckLine]:
        """``labelf labelstudio check``: connection, token, project, labeling config; stops at the first failure."""
        lines: list[CheckLine] = []
        try:
            r = httpx.get(f"{self.url}/health", timeout=min(self._timeout, 10.0))
            ok = r.status_code == 200
            lines.append(CheckLine("connection", ok, f"{self.url} answers /health" if ok
                                   else f"{self.url}/health answered HTTP {r.status_code}"))
        except httpx.HTTPError as e:
            lines.append(CheckLine("connection", False, f"{self.url} is unreachable ({type(e).__name__}); is Label "
                                   "Studio running? (docs/label-studio.md)"))
        if not lines[-1].ok:
            return lines
        try:
            with self._errors("checking the token"):
                me = self.client.users.whoami()
            lines.append(CheckLine("token", True, f"${self.cfg.token_env} accepted (user {me.email or me.username})"))
        except LabelfError as e:
            lines.append(CheckLine("token", False, str(e)))
            return lines
        try:
            pid = self.ensure_project(create=False)
            with self._errors(f"reading project {pid}"):
                p = self.client.projects.get(id=pid)
            lines.append(CheckLine("project", True, f"project {pid} {p.title!r} with {p.task_number or 0} task(s)"))
            assert self.schema is not None
            lines.append(CheckLine("label config", True, f"{len(self.schema.labels)} labels match the config "
                                   f"({'multiple' if self.schema.multiple else 'single'} choice)"))
        except LabelMismatchError as e:
            lines.append(CheckLine("project", True, f"project {e.project_id}"))
            lines.append(CheckLine("label config", False, str(e)))
        except LabelfError as e:
            lines.append(CheckLine("project", False, str(e)))
        return lines

    # -- push ----------------------------------------------------------------------------------------------
    def existing_tasks(self) -> dict[str, int]:
        """``{item id: task id}`` for the project's tasks that carry ``data.labelf_id``."""
        assert self.project_id is not None
        out: dict[str, int] = {}
        with self._errors(f"listing tasks of project {self.project_id}"):
            for t in self.client.tasks.list(project=self.project_id, include="id,data", page_size=1000):
                item_id = (t.data or {}).get(ID_FIELD)
                if item_id not in (None, ""):
                    out.setdefault(str(item_id), int(t.id))
        return out

    def _predictions(self, items: Sequence[Item], model_ref: tuple[int, int] | None) -> list[dict[str, Any] | None]:
        """Per item: labels, score, per-label scores and model tag from ``model_ref`` (default: the active model)."""
        registry = self.project.registry
        try:
            if model_ref is None:
                mid = registry.active_model_id()
                if mid is None:
                    return [None] * len(items)
                rec = registry.get(mid)
                model_ref = (mid, rec.current.version if rec.current else 0)
            model = registry.load(*model_ref)
            proba = np.asarray(model.predict_proba([it.text for it in items]))
        except LabelfError:
            return [None] * len(items)
        classes = list(model.classes_ or [])
        picks = choices(proba, classes, multi_label=self.project.config.multi_label,
                        threshold=float(getattr(model, "threshold", 0.5)))
        return [{"labels": chosen, "score": score, "scores": {classes[i]: round(float(row[i]), 4) for i in order},
                 "model_version": model_version_tag(*model_ref)} for row, (chosen, score, order) in zip(proba, picks)]

    def _task(self, item: Item, pred: dict[str, Any] | None, meta: dict[str, Any]) -> dict[str, Any]:
        assert self.schema is not None
        task: dict[str, Any] = {"data": {self.schema.text_field: item.text, ID_FIELD: item.id}}
        labelf_meta = {k: v for k, v in meta.items() if v is not None}
        if pred is not None:
            labelf_meta["scores"] = pred["scores"]
            labelf_meta["model_version"] = pred["model_version"]
            task["predictions"] = [{"model_version": pred["model_version"], "score": pred["score"],
                                    "result": self.schema.result(pred["labels"])}]
        task["meta"] = {"labelf": labelf_meta}
        return task

    def push_items(self, item_ids: Sequence[str], *, batch_id: int | None = None,
                   meta: dict[str, dict[str, Any]] | None = None,
                   models: dict[str, tuple[int, int] | None] | None = None,
                   chunk_size: int = DEFAULT_CHUNK_SIZE, progress: bool = True) -> PushResult:
        """Send items as tasks (with pre-annotations) in chunks; items already in the project are left alone.

        ``meta``: per item id, why it was picked (reason, rank, score, batch id). ``models``: per item id, the
        ``(model_id, version)`` whose predictions to pre-annotate with (default: the active model).
        """
        if chunk_size < 1:
            raise DataError("chunk_size: must be at least 1")
        pid = self.ensure_project()
        items = self.ws.items(list(dict.fromkeys(item_ids)))
        missing = sorted(set(item_ids) - {it.id for it in items})
        if missing:
            raise DataError(f"item(s) not in the workspace: {', '.join(missing[:10])}"
                            f"{' ...' if len(missing) > 10 else ''}")
        existing = self.existing_tasks()
        task_ids = {it.id: existing[it.id] for it in items if it.id in existing}
        todo = [it for it in items if it.id not in existing]
        created = 0
        bar = progress_bar(len(todo), f"Pushing to Label Studio project {pid}", enabled=progress and bool(todo))
        with bar as advance:
            for start in range(0, len(todo), chunk_size):
                chunk = todo[start:start + chunk_size]
                groups: dict[tuple[int, int] | None, list[Item]] = {}
                for it in chunk:
                    groups.setdefault((models or {}).get(it.id), []).append(it)
                preds: dict[str, dict[str, Any] | None] = {}
                for ref, group in groups.items():
                    preds.update(zip((it.id for it in group), self._predictions(group, ref)))
                tasks = [self._task(it, preds[it.id], (meta or {}).get(it.id, {"batch_id": batch_id})) for it in chunk]
                try:
                    with self._errors(f"importing tasks {start + 1}-{start + len(chunk)} of {len(todo)}"):
                        resp = self.client.projects.import_tasks(id=pid, request=tasks, return_task_ids=True,
                                                                 request_options={"max_retries": 0})
                except ConnectorError as e:
                    raise type(e)(f"{e} ({created} of {len(todo)} new task(s) were sent; push again to send the "
                                  "rest: tasks already in Label Studio are not sent twice)") from None
                new_ids = list(resp.task_ids or [])
                task_ids.update(zip((it.id for it in chunk), new_ids))
                created += len(chunk)
                advance(len(chunk))
        self.ws.set_state(self._key(f"{pid}:last_push"), {"batch_id": batch_id, "created": created,
                                                           "already_there": len(items) - len(todo)})
        return PushResult(project_id=pid, created=created, already_there=len(items) - len(todo), total=len(items),
                          batch_id=batch_id, task_ids=task_ids)

    # -- pull ----------------------------------------------------------------------------------------------
    def _users(self) -> dict[int, str]:
        try:
            with self._errors("listing users"):
                return {int(u.id): str(u.email or u.username) for u in self.client.users.list()}
        except ConnectorError:
            return {}

    def _fetch(self, since: str | None, progress: bool = True) -> tuple[list[dict[str, Any]], str | None]:
        assert self.project_id is not None
        query: dict[str, Any] = {"ordering": ["tasks:id"]}
        if since:
            after = datetime.fromisoformat(since.replace("Z", "+00:00")) - CURSOR_OVERLAP
            query["filters"] = {"conjunction": "and", "items": [
                {"filter": "filter:tasks:updated_at", "operator": "greater", "type": "Datetime",
                 "value": after.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}]}
        raws: list[dict[str, Any]] = []
        newest = since
        with self._errors(f"reading tasks of project {self.project_id}"), \
                progress_bar(None, f"Reading Label Studio project {self.project_id}",  # type: ignore[arg-type]
                             enabled=progress) as advance:
            for t in self.client.tasks.list(project=self.project_id, fields="all", query=json.dumps(query),
                                            page_size=200):
                raw = t.model_dump(mode="json") if hasattr(t, "model_dump") else dict(t)
                raws.append(raw)
                advance(1)
                stamp = _ts(raw.get("updated_at"))
                if stamp and (newest is None or stamp > newest):
                    newest = stamp
        return raws, newest

    def pull(self, *, full: bool = False, policy: str | None = None, progress: bool = True) -> PullResult:
        """Write new, changed and deleted annotations since the last pull (``full``: re-read every task, which
        also notices deleted tasks). Nothing is written when a label is unknown (:class:`UnknownLabelError`)."""
        pid = self.ensure_project(create=False, check_labels=False)
        assert self.schema is not None
        cursor_key = self._key(f"{pid}:cursor")
        since = None if full else self.ws.get_state(cursor_key)
        raws, newest = self._fetch(since, progress)
        users = self._users() if raws else {}
        tasks = [_to_task(r, self.schema, users) for r in raws]
        if since is None:  # a full read: tasks we know that are gone were deleted with their annotations
            seen = {t.id for t in tasks}
            for task_id in sorted(known_task_ids(self.ws, pid) - seen):
                row = self.ws.query("SELECT a.item_id, i.text FROM annotations a JOIN items i ON i.id = a.item_id "
                                    "WHERE a.source = ? AND a.external_id LIKE ? LIMIT 1",
                                    (SOURCE, f"ls:{pid}:{task_id}:%"))[0]
                tasks.append(LSTask(id=task_id, text=row["text"], item_id=row["item_id"]))
        stats = ingest(self.ws, pid, tasks, known_labels=self.project.config.label_names,
                       policy=policy or self.cfg.conflict_policy, multi_label=self.project.config.multi_label,
                       complete=True, state={cursor_key: newest} if newest else None)
        return self._result(pid, stats, seen=sum(len(t.annotations) for t in tasks))

    def _result(self, pid: int, stats: IngestStats, seen: int) -> PullResult:
        labeled = self.ws.labeled()
        touched = list(dict.fromkeys(i for i in stats.item_ids if i in labeled))
        pairs = [(it.text, labeled[it.id]) for it in self.ws.items(touched)]
        return PullResult(project_id=pid, seen=seen, new=stats.new, updated=stats.updated, deleted=stats.deleted,
                          skipped=stats.skipped, conflicts=stats.conflicts, new_items=stats.new_items, pairs=pairs)

    # -- ML backend and webhooks ---------------------------------------------------------------------------
    def connect_ml_backend(self, backend_url: str, *, title: str = "labelf-trainer", webhook: bool = True,
                           api_key: str | None = None) -> int:
        """Connect our ML backend (served at ``backend_url``) to the project, and (``webhook``) send annotation
        events to its ``/webhook`` so they reach the store at once. ``api_key``: a `labelf keys create` key for a
        `labelf serve` with auth (sent as HTTP Basic password by the ML backend client, as Bearer by the webhook).
        Idempotent; returns the ML backend id."""
        pid = self.ensure_project()
        backend_url = backend_url.rstrip("/")
        auth: dict[str, Any] = {"auth_method": "NONE"}
        if api_key:
            auth = {"auth_method": "BASIC_AUTH", "basic_auth_user": "labelf", "basic_auth_pass": api_key}
        with self._errors(f"connecting the ML backend {backend_url} to project {pid}"):
            known = [m for m in self.client.ml.list(project=pid) if (m.url or "").rstrip("/") == backend_url]
            if known:
                ml_id = known[0].id
                self.client.ml.update(id=ml_id, project=pid, url=backend_url, title=title, auto_update=True, **auth)
            else:
                ml_id = self.client.ml.create(project=pid, url=backend_url, title=title, is_interactive=False,
                                              auto_update=True, **auth).id
            if webhook:
                hook = f"{backend_url}/webhook"
                headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
                hooks = [w for w in self.client.webhooks.list(project=str(pid)) if (w.url or "") == hook]
                if hooks:
                    self.client.webhooks.update(id=hooks[0].id, url=hook, headers=headers, is_active=True)
                else:
                    self.client.webhooks.create(url=hook, project=pid, send_payload=True, send_for_all_actions=False,
                                                actions=WEBHOOK_ACTIONS, is_active=True, headers=headers)
            self.client.projects.update(id=pid, evaluate_predictions_automatically=True, show_collab_predictions=True)
        return int(ml_id)

    def request_predictions(self, task_ids: Iterable[int] | None = None) -> None:
        """Ask Label Studio to fetch predictions from the connected ML backend (all tasks, or these)."""
        pid = self.project_id or self.ensure_project(create=False)
        ids = list(task_ids) if task_ids is not None else None
        selected = {"all": True, "excluded": []} if ids is None else {"all": False, "included": ids}
        with self._errors(f"requesting predictions for project {pid}"):
            self.client.actions.create(id="retrieve_tasks_predictions", project=pid, selected_items=selected)


def ingest_webhook(project: Any, payload: dict[str, Any]) -> IngestStats | None:
    """Write what a Label Studio webhook reports (ANNOTATION_CREATED/UPDATED: that annotation, at once;
    ANNOTATIONS_DELETED: mark them deleted). Returns None for other actions. No call back to Label Studio."""
    action = payload.get("action")
    cfg = project.config
    proj = payload.get("project") or {}
    if action in ("ANNOTATION_CREATED", "ANNOTATION_UPDATED"):
        ann, task = payload.get("annotation"), payload.get("task")
        if not isinstance(ann, dict) or not isinstance(task, dict):
            raise DataError(f"{action} webhook: 'annotation' and 'task' objects are required")
        pid = int(proj.get("id") or task.get("project") or ann.get("project"))
        schema = parse_labeling_config(proj["label_config"]) if proj.get("label_config") else \
            LabelSchema(from_name=(ann.get("result") or [{}])[0].get("from_name", "label"), to_name="text",
                        labels=tuple(cfg.label_names))
        t = _to_task({**task, "annotations": [ann]}, schema, {})
        return ingest(project.ws, pid, [t], known_labels=cfg.label_names, policy=cfg.label_studio.conflict_policy,
                      multi_label=cfg.multi_label, complete=False)
    if action == "ANNOTATIONS_DELETED":
        anns = payload.get("annotations") or []
        pid = int(proj.get("id") or (anns[0].get("project") if anns else 0) or 0)
        return mark_deleted(project.ws, pid, [a["id"] for a in anns if isinstance(a, dict) and "id" in a],
                            policy=cfg.label_studio.conflict_policy, multi_label=cfg.multi_label)
    return None


# -- module-level entry points (the CLI and the sampler use these) ----------------------------------------
def _batch_rows(project: Any, batch_id: int | None) -> list[Any]:
    sql = ("SELECT bi.batch_id, bi.item_id, bi.rank, bi.score, bi.confidence, bi.reason, b.model_id, b.model_version "
           "FROM batch_items bi JOIN batches b ON b.id = bi.batch_id ")
    if batch_id is not None:
        if not project.ws.query("SELECT 1 FROM batches WHERE id = ?", (batch_id,)):
            known = [str(r["id"]) for r in project.ws.query("SELECT id FROM batches ORDER BY id")]
            listed = ", ".join(known) or "none yet; run `labelf suggest`"
            raise DataError(f"no suggestion batch {batch_id} (batches: {listed})")
        return project.ws.query(sql + "WHERE bi.batch_id = ? ORDER BY bi.rank", (batch_id,))
    return project.ws.query(sql + "WHERE bi.status = 'pending' ORDER BY bi.batch_id, bi.rank")


def _push_rows(project: Any, rows: list[Any], batch_id: int | None, **kw: Any) -> PushResult:
    meta: dict[str, dict[str, Any]] = {}
    models: dict[str, tuple[int, int] | None] = {}
    for r in rows:
        if r["item_id"] in meta:
            continue
        try:
            reason = json.loads(r["reason"]) if r["reason"] else None
        except (TypeError, ValueError):
            reason = r["reason"]
        meta[r["item_id"]] = {"batch_id": r["batch_id"], "rank": r["rank"], "reason": reason,
                              "priority": r["score"], "confidence": r["confidence"]}
        models[r["item_id"]] = (int(r["model_id"]), int(r["model_version"])) \
            if r["model_id"] is not None and r["model_version"] is not None else None
    conn = LabelStudioConnector(project, **{k: kw.pop(k) for k in ("url", "token", "httpx_client") if k in kw})
    return conn.push_items(list(meta), batch_id=batch_id, meta=meta, models=models, **kw)


def push_batch(project: Any, batch_id: int, **kw: Any) -> PushResult:
    """Push one suggestion batch (``labelf suggest --push``): tasks with pre-annotations from the batch's model."""
    return _push_rows(project, _batch_rows(project, int(batch_id)), int(batch_id), **kw)


def push_pending(project: Any, **kw: Any) -> PushResult:
    """Push every pending suggestion (all batches) that is not in Label Studio yet."""
    rows = _batch_rows(project, None)
    if not rows:
        raise DataError("no pending suggestions to push: run `labelf suggest` first, or pass a batch file")
    return _push_rows(project, rows, None, **kw)


def pull(project: Any, *, full: bool = False, **kw: Any) -> PullResult:
    """Pull annotations into the store (see :meth:`LabelStudioConnector.pull`)."""
    conn = LabelStudioConnector(project, **{k: kw.pop(k) for k in ("url", "token", "httpx_client") if k in kw})
    return conn.pull(full=full, **kw)
