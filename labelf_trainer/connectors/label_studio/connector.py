"""The Label Studio connector (label-studio-sdk 2.x): project setup, push with pre-annotations, incremental pull.

Usage::

    with Project.open("labelf.yaml") as project:
        ls = LabelStudioConnector(project)          # url and token from the config's label_studio section
        ls.ensure_project()                          # create (or reuse) the project; labels must match the config
        print(ls.push(batch_rows(project, 3)))       # one task per item, never twice (data.labelf_id)
        print(ls.pull())                             # new/changed annotations since the last pull

SDK types never leave this package: callers get :class:`PushResult`, :class:`PullResult`, :class:`CheckLine`.

How tasks map to items: each task carries our stable item id in ``data.labelf_id``; a push first lists the ids
already in the project and sends only the rest, in chunks, so a repeated or interrupted push never duplicates.
Pull asks for tasks whose ``updated_at`` (bumped by Label Studio on every annotation create, update or delete) is
past the last pull's cursor, and writes their annotations with :mod:`..ingest` (conflict policy per task).

Review tasks (``push(rows, review=True)``, from ``labelf review --push``) are extra tasks of items: the current label
as the prediction and ``data.labelf_review`` = the label row under review; a push skips only a review task of the
same item and row. Their annotations are pulled like any other task's: new annotations of the item.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx

from ...exceptions import DataError, LabelfError
from ...progress import progress_bar
from ..base import CheckLine, ConnectorError, ConnectorNotFoundError, LabelMismatchError, PulledTask, PullResult, \
    PushResult, TaskRow
from ..ingest import effective_pairs, ingest
from ..tasks import item_rows, pre_annotate
from .client import make_client, normalize_url, translate_errors
from .convert import SOURCE, timestamp, to_ls_task, to_pulled_task
from .dialogue import is_dialogue
from .schema import ID_FIELD, REVIEW_FIELD, LabelSchema, labeling_config, parse_labeling_config

if TYPE_CHECKING:
    from ...loop.project import Project

__all__ = ["DEFAULT_CHUNK_SIZE", "LabelStudioConnector", "WEBHOOK_ACTIONS"]

DEFAULT_CHUNK_SIZE = 100
CURSOR_OVERLAP = timedelta(seconds=5)
"""A pull re-reads tasks changed up to this long before the last cursor (late commits); re-reading is harmless."""
WEBHOOK_ACTIONS = ["ANNOTATION_CREATED", "ANNOTATION_UPDATED", "ANNOTATIONS_DELETED"]


class LabelStudioConnector:
    """One project's link to one Label Studio server (``url`` and token from the config unless given)."""

    name = "label-studio"
    source = SOURCE

    def __init__(self, project: "Project", *, url: str | None = None, token: str | None = None,
                 httpx_client: httpx.Client | None = None, timeout: float = 60.0, max_retries: int = 1,
                 chunk_size: int = DEFAULT_CHUNK_SIZE, progress: bool = True) -> None:
        if chunk_size < 1:
            raise DataError("chunk_size: must be at least 1")
        self.project = project
        self.chunk_size = chunk_size
        self.progress = progress
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

    @property
    def target(self) -> str:
        return f"Label Studio project {self.project_id}"

    # -- project setup -------------------------------------------------------------------------------------
    def _remembered_project(self) -> int | None:
        return self.cfg.project_id or self.ws.kv.get(self._key("project_id"))

    def _load_schema(self, project_id: int, *, check: bool = True) -> LabelSchema:
        with self._errors(f"reading project {project_id}"):
            p = self.client.projects.get(id=project_id)
        schema = parse_labeling_config(p.label_config or "")
        if check:
            want, have = set(self.project.config.answer_labels), set(schema.labels)
            if want != have:
                raise LabelMismatchError(f"Label Studio project {project_id}", missing=list(want - have),
                                         extra=list(have - want))
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
                        title=title, label_config=labeling_config(cfg, dialogue=self._pool_has_dialogues()),
                        description=f"labelf-trainer project {cfg.project!r} ({cfg.task})",
                        show_collab_predictions=True, **self._overlap())
                pid = p.id
                self.ws.kv.set(self._key("overlap"), cfg.sampler.overlap)
            self.schema = self._load_schema(int(pid), check=check_labels)
        self._ensure_overlap(int(pid))
        self.project_id = int(pid)
        if self.ws.kv.get(self._key("project_id")) != self.project_id:
            self.ws.kv.set(self._key("project_id"), self.project_id)
        return self.project_id

    def _overlap(self) -> dict[str, int]:
        """Label Studio's overlap settings for ``sampler.overlap``: that share of tasks gets two annotators."""
        share = self.project.config.sampler.overlap
        return {"maximum_annotations": 2 if share > 0 else 1, "overlap_cohort_percentage": round(100 * share)}

    def _ensure_overlap(self, pid: int) -> None:
        """Bring the project's overlap settings to ``sampler.overlap`` when the config asks for overlap or changed
        what labelf set before (a project whose overlap someone set in Label Studio is left alone at 0)."""
        share = self.project.config.sampler.overlap
        applied = self.ws.kv.get(self._key("overlap"))
        if applied == share or (applied is None and share == 0):
            return
        with self._errors(f"setting project {pid}'s overlap"):
            self.client.projects.update(id=pid, **self._overlap())
        self.ws.kv.set(self._key("overlap"), share)

    def _pool_has_dialogues(self, sample: int = 5000) -> bool:
        """Whether the pool holds conversations (speaker lines), judged on a seeded sample of ``sample`` texts
        (only those are read): a new project then shows every text as ``Paragraphs`` (a row per turn), not as one
        ``Text``."""
        import numpy as np

        return any(is_dialogue(t) for t in self.ws.items.draw_texts(sample, np.random.default_rng(0))[0])

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
            lines.append(CheckLine("project", True, e.where))
            lines.append(CheckLine("label config", False, str(e)))
        except LabelfError as e:
            lines.append(CheckLine("project", False, str(e)))
        return lines

    # -- push ----------------------------------------------------------------------------------------------
    def _task_index(self) -> list[tuple[str, str | None, int]]:
        """``(item id, review key or None, task id)`` of every task that carries ``data.labelf_id``, oldest first."""
        assert self.project_id is not None
        out: list[tuple[str, str | None, int]] = []
        with self._errors(f"listing tasks of project {self.project_id}"):
            for t in self.client.tasks.list(project=self.project_id, include="id,data", page_size=1000):
                data = t.data or {}
                item_id, review = data.get(ID_FIELD), data.get(REVIEW_FIELD)
                if item_id not in (None, ""):
                    out.append((str(item_id), None if review in (None, "") else str(review), int(t.id)))
        return sorted(out, key=lambda x: x[2])

    def existing_tasks(self, index: list[tuple[str, str | None, int]] | None = None) -> dict[str, int]:
        """``{item id: task id}`` for the project's tasks that carry ``data.labelf_id`` (an item's first task that
        is not a review task, else its first review task)."""
        out: dict[str, int] = {}
        for item_id, review, task_id in sorted(index if index is not None else self._task_index(),
                                               key=lambda x: (x[1] is not None, x[2])):
            out.setdefault(item_id, task_id)
        return out

    def existing_reviews(self, index: list[tuple[str, str | None, int]] | None = None) -> dict[tuple[str, str], int]:
        """``{(item id, review key): task id}`` for the project's review tasks (``data.labelf_review``)."""
        out: dict[tuple[str, str], int] = {}
        for item_id, review, task_id in index if index is not None else self._task_index():
            if review is not None:
                out.setdefault((item_id, review), task_id)
        return out

    def sync_labels(self) -> None:
        """Create the project, or give it the config's labels (its tasks and annotations stay)."""
        pid = self.ensure_project(check_labels=False)
        assert self.schema is not None
        if set(self.schema.labels) != set(self.project.config.answer_labels):
            with self._errors(f"updating the labeling config of project {pid}"):
                self.client.projects.update(id=pid, label_config=labeling_config(
                    self.project.config, dialogue=self.schema.dialogue))
            self.schema = self._load_schema(pid)

    def push(self, rows: Sequence[TaskRow], *, batch_id: int | None = None, review: bool = False) -> PushResult:
        """Send rows as tasks (with pre-annotations) in chunks; items already in the project are left alone.

        ``review``: the rows are review tasks (:attr:`TaskRow.review` set, the current label as the prediction):
        each becomes a new task of its item with ``data.labelf_review``, even when the item has a task already;
        only a review task of the same item and label row is not sent twice."""
        pid = self.ensure_project()
        assert self.schema is not None
        index = self._task_index()
        if review:
            missing = [r.item_id for r in rows if r.review is None]
            if missing:
                raise DataError(f"review rows need the label row under review (TaskRow.review): {missing[0]}")
            rows = list({(r.item_id, r.review): r for r in rows}.values())
            known = self.existing_reviews(index)
            task_ids = {r.item_id: known[(r.item_id, r.review)] for r in rows if (r.item_id, r.review) in known}
            todo = [r for r in rows if (r.item_id, r.review) not in known]
        else:
            rows = list({r.item_id: r for r in rows}.values())
            existing = self.existing_tasks(index)
            task_ids = {r.item_id: existing[r.item_id] for r in rows if r.item_id in existing}
            todo = [r for r in rows if r.item_id not in existing]
        created = 0
        what = "review tasks" if review else "tasks"
        with progress_bar(len(todo), f"Pushing {what} to Label Studio project {pid}",
                          enabled=self.progress and bool(todo)) as advance:
            for start in range(0, len(todo), self.chunk_size):
                chunk = pre_annotate(self.project, todo[start:start + self.chunk_size])
                if self.schema.evidence_name is not None:
                    chunk = with_excerpts(self.project, chunk)
                tasks = [to_ls_task(r, self.schema) for r in chunk]
                try:
                    with self._errors(f"importing {what} {start + 1}-{start + len(chunk)} of {len(todo)}"):
                        resp = self.client.projects.import_tasks(id=pid, request=tasks, return_task_ids=True,
                                                                 request_options={"max_retries": 0})
                except ConnectorError as e:
                    raise type(e)(f"{e} ({created} of {len(todo)} new {what} were sent; push again to send the "
                                  f"rest: {what} already in Label Studio are not sent twice)") from None
                task_ids.update(zip((r.item_id for r in chunk), list(resp.task_ids or [])))
                created += len(chunk)
                advance(len(chunk))
        self.ws.kv.set(self._key(f"{pid}:last_{'review' if review else 'push'}"), {
            "batch_id": batch_id, "created": created, "already_there": len(rows) - len(todo)})
        return PushResult(target=self.target, project_id=pid, created=created, already_there=len(rows) - len(todo),
                          total=len(rows), batch_id=batch_id, task_ids=task_ids, review=review)

    def push_items(self, item_ids: Sequence[str], *, batch_id: int | None = None) -> PushResult:
        """Push chosen pool items (pre-annotated by the active model)."""
        return self.push(item_rows(self.project, item_ids), batch_id=batch_id)

    # -- pull ----------------------------------------------------------------------------------------------
    def _users(self) -> dict[int, str]:
        try:
            with self._errors("listing users"):
                return {int(u.id): str(u.email or u.username) for u in self.client.users.list()}
        except ConnectorError:
            return {}

    def _fetch(self, since: str | None) -> tuple[list[dict[str, Any]], str | None]:
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
                             enabled=self.progress) as advance:
            for t in self.client.tasks.list(project=self.project_id, fields="all", query=json.dumps(query),
                                            page_size=200):
                raw = t.model_dump(mode="json") if hasattr(t, "model_dump") else dict(t)
                raws.append(raw)
                advance(1)
                stamp = timestamp(raw.get("updated_at"))
                if stamp and (newest is None or stamp > newest):
                    newest = stamp
        return raws, newest

    def pull(self, *, full: bool = False, policy: str | None = None) -> PullResult:
        """Write new, changed and deleted annotations since the last pull (``full``: re-read every task, which
        also notices deleted tasks). Nothing is written when a label is unknown (:class:`UnknownLabelError`)."""
        pid = self.ensure_project(create=False, check_labels=False)
        assert self.schema is not None
        cursor_key = self._key(f"{pid}:cursor")
        since = None if full else self.ws.kv.get(cursor_key)
        raws, newest = self._fetch(since)
        users = self._users() if raws else {}
        tasks = [to_pulled_task(r, pid, self.schema, users) for r in raws]
        if since is None:  # a full read: tasks we know that are gone were deleted with their annotations
            seen = {t.key for t in tasks}
            known = {key.rsplit(":", 1)[0] for key in self.ws.annotations.external_ids(SOURCE, f"ls:{pid}:")}
            for key in sorted(known - seen):
                item = self.ws.annotations.item_of(SOURCE, f"{key}:")
                if item is not None:
                    tasks.append(PulledTask(key=key, text=self.ws.items.text(item) or "", item_id=item,
                                            where=f"task {key.rsplit(':', 1)[1]}"))
        stats = ingest(self.ws, SOURCE, tasks, target=self.target, known_labels=self.project.config.answer_labels,
                       policy=policy or self.project.config.labeling.conflict_policy, multi_label=self.project.config.multi_label,
                       complete=True, state={cursor_key: newest} if newest else None,
                       canonical=self.project.config.canonical_label,
                       stats=PullResult(self.target, project_id=pid, seen=sum(len(t.annotations) for t in tasks)))
        return effective_pairs(self.ws, stats)

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


def with_excerpts(project: "Project", rows: Sequence[TaskRow]) -> list[TaskRow]:
    """Conversation rows with ``prediction["evidence"]``: the deciding excerpt of each predicted label, from the
    suggestion's reason when it has one, else from the predicting model (:func:`labelf_trainer.explain.explain`).
    A model that cannot be loaded leaves its rows without highlights."""
    from ...explain import explain

    out = list(rows)
    todo: dict[str, list[int]] = {}
    for i, r in enumerate(rows):
        if r.prediction is None or not is_dialogue(r.text):
            continue
        want = set(r.prediction["labels"])
        reasons = r.reason.get("evidence") if isinstance(r.reason, dict) else None
        known = [e for e in reasons or [] if isinstance(e, dict) and e.get("label") in want]
        if {e["label"] for e in known} == want:
            out[i] = dataclasses.replace(r, prediction={**r.prediction, "evidence": known})
        else:
            todo.setdefault(r.prediction["model_version"], []).append(i)
    for tag, idx in todo.items():
        try:
            model_id, version = (int(x) for x in tag.removeprefix("labelf-").split("@"))
            model = project.registry.load(model_id, version)
            found = explain(model, [rows[i].text for i in idx], labels=[rows[i].prediction["labels"] for i in idx])
        except (LabelfError, ValueError):
            continue
        for i, excerpts in zip(idx, found):
            out[i] = dataclasses.replace(out[i], prediction={**out[i].prediction,
                                                             "evidence": [e.to_json() for e in excerpts]})
    return out
