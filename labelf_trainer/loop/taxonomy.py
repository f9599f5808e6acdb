"""Growing the label set of a running project: add, rename and merge labels (``labelf labels``).

One change touches three places, kept consistent:

- the project config: its ``labels:`` (and ``rules:``) rewritten atomically, the other keys kept (YAML comments
  are not: the previous file is kept beside it as ``<config>.bak``);
- the annotations: every row that uses a renamed or merged label is relabeled in place, in one SQLite transaction
  (:meth:`~labelf_trainer.store.annotations.AnnotationStore.relabel`, which logs each row's old labels);
- the alias table of the workspace (old name -> current name, in the same transaction), through which pulled
  annotations that still carry an old name are read under the new one.

The config file is written last inside that transaction: a failure to write it rolls the store back, so a crash
leaves the old state or the new one. Models are not touched: every registered version keeps answering with the
label list it was trained on until the next ``labelf train``. The zero-shot model is the exception
(:func:`refresh_zero_shot`): while it is the active model (the cold start) it is re-created for the new label set,
as ``labelf init`` creates it.
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import ValidationError

from ..config import LabelSpec, ProjectConfig, load_config
from ..exceptions import ConfigError, UnknownLabelError
from ..io_utils import atomic_writer
from ..store.annotations import ALIASES_KEY

PENDING_KEY = "labels.pending"
"""kv entry: the change in progress (mapping, aliases, the new config's SHA-256) until its transaction commits."""

if TYPE_CHECKING:
    from .project import Project

__all__ = ["TaxonomyChange", "add_label", "rename_label", "merge_labels", "label_rows", "refresh_zero_shot",
           "model_note", "recover", "PENDING_KEY"]


@dataclass(frozen=True)
class TaxonomyChange:
    """What one ``labels add|rename|merge`` did."""

    op: str
    labels_before: list[str]
    labels_after: list[str]
    mapping: dict[str, str] = field(default_factory=dict)
    rows: int = 0
    items: int = 0
    config_path: Path | None = None
    aliases: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line for people."""
        if self.op == "add":
            new = [lab for lab in self.labels_after if lab not in self.labels_before]
            return f"added label {new[0]!r} ({len(self.labels_after)} labels)"
        moves = ", ".join(f"{a!r} -> {b!r}" for a, b in self.mapping.items())
        verb = "renamed" if self.op == "rename" else "merged"
        return (f"{verb} {moves}: {self.rows} annotation row(s) of {self.items} text(s) relabeled; "
                f"{len(self.labels_after)} labels")

    def to_dict(self) -> dict[str, Any]:
        return {"op": self.op, "labels_before": self.labels_before, "labels": self.labels_after,
                "mapping": self.mapping, "annotation_rows": self.rows, "texts": self.items,
                "config": str(self.config_path) if self.config_path else None, "aliases": self.aliases,
                "notes": self.notes}


# -- checks --------------------------------------------------------------------------------------------------
def _check_name(name: str) -> str:
    try:
        return LabelSpec(name=name).name
    except ValidationError as e:
        raise ConfigError(f"invalid label name {name!r}: {e.errors()[0]['msg']}") from None


def _check_not_oos(cfg: ProjectConfig, name: str) -> None:
    oos = cfg.out_of_scope
    if oos is not None and name.lower() in {a.lower() for a in [oos.label, *oos.aliases]}:
        raise ConfigError(f"{name!r} is the out-of-scope label{'' if name == oos.label else ' (an alias of it)'}: "
                          "`labelf labels` changes the defined labels; edit out_of_scope in the config instead")


def _check_known(cfg: ProjectConfig, names: list[str], command: str) -> None:
    for name in names:
        _check_not_oos(cfg, name)
    unknown = [n for n in names if n not in cfg.label_names]
    if unknown:
        raise UnknownLabelError(unknown, cfg.label_names, where=f"`labelf labels {command}`")


def _check_new(cfg: ProjectConfig, name: str, hint: str = "") -> None:
    _check_name(name)
    _check_not_oos(cfg, name)
    if name in cfg.label_names:
        raise ConfigError(f"label {name!r} already exists{hint}")


# -- the config file -----------------------------------------------------------------------------------------
def _read_raw(cfg: ProjectConfig) -> tuple[Path, dict[str, Any]]:
    if cfg.source_path is None:
        raise ConfigError("the project was opened without a config file: `labelf labels` rewrites that file")
    path = cfg.source_path
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(raw, dict) or not isinstance(raw.get("labels"), list):
        raise ConfigError(f"{path}: expected a mapping with a list of labels")
    return path, raw


def _rules(raw: dict[str, Any]) -> dict[str, dict[str, list[str]]]:
    """The raw ``rules:`` block with the list shorthand spelled out."""
    return {k: ({"phrases": list(v)} if isinstance(v, list) else dict(v)) for k, v in (raw.get("rules") or {}).items()}


def _validate(path: Path, raw: dict[str, Any]) -> None:
    try:
        ProjectConfig.model_validate(raw)
    except ValidationError as e:
        first = e.errors()[0]
        loc = ".".join(str(x) for x in first["loc"]) or "(top level)"
        raise ConfigError(f"{path}: the changed label set is not a valid config: {loc}: {first['msg']}") from None


def _write_raw(path: Path, text: str) -> None:
    """The previous file to ``<config>.bak``, then the new one (both atomically; a linked config is written
    where the link points, so the link stays)."""
    path = path.resolve() if path.is_symlink() else path
    with atomic_writer(path.with_name(path.name + ".bak")) as fh:
        fh.write(path.read_text(encoding="utf-8"))
    shutil.copymode(path, path.with_name(path.name + ".bak"))
    with atomic_writer(path) as fh:
        fh.write(text)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""


def _store_change(project: "Project", op: str, mapping: dict[str, str], aliases: dict[str, str]) -> tuple[int, int]:
    """The store's part of a change (joins the caller's transaction); clears the pending record."""
    rows = items = 0
    if mapping:
        rows, items = project.ws.annotations.relabel(mapping, aliases=aliases, note={"op": op})
    elif aliases != project.ws.annotations.aliases():
        project.ws.kv.set(ALIASES_KEY, aliases)
    project.ws.kv.set(PENDING_KEY, None)
    return rows, items


def _apply(project: "Project", op: str, raw: dict[str, Any], path: Path, mapping: dict[str, str],
           aliases: dict[str, str], notes: list[str]) -> TaxonomyChange:
    """Validate the new config; record the change as pending; then relabel the store and write the config in one
    transaction (the config last: a failed write rolls the store back). A kill between the config's rename and
    the commit leaves the pending record, which :func:`recover` completes."""
    _validate(path, raw)
    before = project.config.label_names
    text = yaml.safe_dump(raw, sort_keys=False, allow_unicode=True, width=110)
    pending = {"op": op, "mapping": mapping, "aliases": aliases, "config": str(path),
               "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest()}
    with project.ws.transaction():
        project.ws.kv.set(PENDING_KEY, pending)
    try:
        with project.ws.transaction():
            rows, items = _store_change(project, op, mapping, aliases)
            _write_raw(path, text)
    except BaseException:
        if _digest(path) != pending["sha256"]:  # the config was not replaced: nothing happened
            with project.ws.transaction():
                project.ws.kv.set(PENDING_KEY, None)
        raise
    project.config = load_config(path)
    return TaxonomyChange(op, before, project.config.label_names, mapping, rows, items, path, aliases, notes)


def recover(project: "Project") -> str | None:
    """Finish a change interrupted after its config was written but before the store committed (the config is
    the new one: relabel the store), or forget one interrupted before (the config is the old one). Returns a line
    saying what was done, or None when nothing was pending."""
    pending = project.ws.kv.get(PENDING_KEY)
    if not pending:
        return None
    path = Path(pending["config"])
    if _digest(path.resolve() if path.is_symlink() else path) == pending["sha256"]:
        with project.ws.transaction():
            _store_change(project, pending["op"], pending["mapping"], pending["aliases"])
        return f"finished an interrupted `labelf labels {pending['op']}` (the config was written, now the annotations)"
    with project.ws.transaction():
        project.ws.kv.set(PENDING_KEY, None)
    return f"an interrupted `labelf labels {pending['op']}` had changed nothing; it was dropped"


def _aliases_after(project: "Project", mapping: dict[str, str], labels_after: list[str]) -> dict[str, str]:
    """The alias table after ``mapping``: old aliases follow their label, new names stop being aliases."""
    old = project.ws.annotations.aliases()
    out = {k: mapping.get(v, v) for k, v in old.items()} | mapping
    return {k: v for k, v in out.items() if k != v and k not in labels_after}


def _recovered(project: "Project") -> list[str]:
    line = recover(project)
    return [line] if line else []


# -- the operations ------------------------------------------------------------------------------------------
def _clusters(project: "Project", ids: list[int]) -> list[dict[str, Any]]:
    """Clusters of the last ``labelf discover`` (kept in the workspace) by number."""
    from ..quality.discover import LAST_DISCOVER_KEY

    last = project.ws.kv.get(LAST_DISCOVER_KEY)
    if not last:
        raise ConfigError("--from-cluster: the workspace has no `labelf discover` result: run `labelf discover`")
    by_id = {int(c["id"]): c for c in last["clusters"]}
    missing = [k for k in ids if k not in by_id]
    if missing:
        raise ConfigError(f"--from-cluster: no cluster {', '.join(map(str, missing))} in the last `labelf discover` "
                          f"(clusters: {', '.join(map(str, sorted(by_id)))})")
    return [by_id[k] for k in dict.fromkeys(ids)]


def add_label(project: "Project", name: str, *, description: str = "", examples: list[str] | None = None,
              from_clusters: list[int] | None = None) -> TaxonomyChange:
    """Append a label to the config. No annotation changes; a name that was an old alias stops being one.

    ``from_clusters``: clusters of the last ``labelf discover``; the first one's description and each one's
    representative texts fill what is not given, and all their texts become a pending batch (strategy
    ``discover``), so that annotators label them with the new label set (``labelf push``).
    """
    recovered = _recovered(project)
    cfg = project.config
    _check_new(cfg, name)
    clusters = _clusters(project, from_clusters) if from_clusters else []
    if clusters:
        description = description or clusters[0]["description"]
        examples = examples or list(dict.fromkeys(r["text"] for c in clusters for r in c["representatives"]))
    path, raw = _read_raw(cfg)
    spec: dict[str, Any] = {"name": name}
    if description:
        spec["description"] = description
    if examples:
        spec["examples"] = list(examples)
    raw["labels"] = [*raw["labels"], spec]
    labels_after = [*cfg.label_names, name]
    aliases = _aliases_after(project, {}, labels_after)
    notes = recovered
    was = project.ws.annotations.aliases().get(name)
    if was is not None:
        notes.append(f"{name!r} was renamed or merged into {was!r} before: annotations pulled as {name!r} from now on "
                     f"count as the new label, those already stored stay {was!r}")
    change = _apply(project, "add", raw, path, {}, aliases, notes)
    if clusters:
        item_ids = list(dict.fromkeys(i for c in clusters for i in c["item_ids"]))
        labeled = project.ws.annotations.labeled()
        reason = {"summary": f"discover cluster(s) {', '.join(str(c['id']) for c in clusters)}: may be {name!r}"}
        batch_id = project.ws.batches.create("discover", [
            {"item_id": i, "rank": r, "reason": reason} for r, i in enumerate(item_ids, 1)],
            params={"label": name, "clusters": [c["id"] for c in clusters]})
        relabel = sum(i in labeled for i in item_ids)
        notes.append(f"{len(item_ids)} text(s) of the cluster(s) queued as batch {batch_id} for labeling "
                     f"(`labelf push` sends them); {relabel} of them carry a label now and need relabeling")
    return change


def rename_label(project: "Project", old: str, new: str) -> TaxonomyChange:
    """Rename a label in the config (its place, description, examples and rules kept) and in every annotation;
    the old name stays an alias of the new one."""
    recovered = _recovered(project)
    cfg = project.config
    _check_known(cfg, [old], "rename")
    if new == old:
        raise ConfigError(f"label {old!r} already has that name")
    _check_new(cfg, new, f": use `labelf labels merge {old!r} --into {new!r}` to combine the two")
    path, raw = _read_raw(cfg)
    raw["labels"] = [({**lab, "name": new} if lab.get("name") == old else lab) for lab in raw["labels"]]
    if "rules" in raw and raw["rules"]:
        raw["rules"] = {(new if k == old else k): v for k, v in raw["rules"].items()}
    mapping = {old: new}
    aliases = _aliases_after(project, mapping, [lab if lab != old else new for lab in cfg.label_names])
    return _apply(project, "rename", raw, path, mapping, aliases, recovered)


def merge_labels(project: "Project", sources: list[str], into: str, *,
                 description: str | None = None) -> TaxonomyChange:
    """Merge labels into ``into`` (an existing label, one of the sources, or a new name that takes the first
    source's place): annotations, examples and rules move to it, the merged names become its aliases."""
    recovered = _recovered(project)
    cfg = project.config
    sources = list(dict.fromkeys(sources))
    if not sources:
        raise ConfigError("name the labels to merge: `labelf labels merge A B --into C`")
    _check_known(cfg, sources, "merge")
    moved = [s for s in sources if s != into]
    if not moved:
        raise ConfigError(f"merging {into!r} into itself changes nothing: name the labels to merge into it")
    exists = into in cfg.label_names
    if not exists:
        _check_name(into)
        _check_not_oos(cfg, into)
    labels_after = [into if (lab == sources[0] and not exists) else lab for lab in cfg.label_names
                    if lab not in moved or (lab == sources[0] and not exists)]
    if len(labels_after) < 2:
        raise ConfigError(f"merging {', '.join(map(repr, moved))} into {into!r} would leave "
                          f"{len(labels_after)} label; a project needs at least 2")
    path, raw = _read_raw(cfg)
    specs = {lab["name"]: lab for lab in raw["labels"]}
    merged_from = [specs[s] for s in ([into] if exists else []) + moved]
    target = dict(specs[into]) if exists else {"name": into}
    if description is not None:
        target["description"] = description
    elif not exists:
        descs = [s.get("description", "") for s in merged_from if s.get("description")]
        if descs:
            target["description"] = "; ".join(dict.fromkeys(descs))
    examples = list(dict.fromkeys(e for s in merged_from for e in s.get("examples") or []))
    if examples:
        target["examples"] = examples
    out: list[dict[str, Any]] = []
    for lab in raw["labels"]:
        name = lab["name"]
        if name == into or (not exists and name == sources[0]):
            out.append(target)
        elif name not in moved:
            out.append(lab)
    raw["labels"] = out
    if raw.get("rules"):
        rules = _rules(raw)
        joined = [rules[n] for n in [into, *moved] if n in rules]
        new_rules = {k: v for k, v in rules.items() if k not in moved and k != into}
        if joined:
            rule: dict[str, list[str]] = {}
            for kind in ("phrases", "patterns"):
                items = list(dict.fromkeys(x for r in joined for x in r.get(kind) or []))
                if items:
                    rule[kind] = items
            new_rules[into] = rule
        raw["rules"] = new_rules
    mapping = {m: into for m in moved}
    aliases = _aliases_after(project, mapping, labels_after)
    return _apply(project, "merge", raw, path, mapping, aliases, recovered)


# -- reading -------------------------------------------------------------------------------------------------
def label_rows(project: "Project") -> list[dict[str, Any]]:
    """One row per answer label: name, description, labeled texts, old names (aliases), whether the active model
    answers with it."""
    cfg = project.config
    counts = project.ws.annotations.label_counts()
    aliases = project.ws.annotations.aliases()
    active = project.registry.active_model_id()
    model_labels = set(project.registry.get(active).labels) if active is not None else set()
    rows = []
    for spec in cfg.answer_specs:
        rows.append({"label": spec.name, "description": spec.description, "labeled": counts.get(spec.name, 0),
                     "aliases": sorted(k for k, v in aliases.items() if v == spec.name),
                     "in_active_model": spec.name in model_labels,
                     "out_of_scope": spec.name == cfg.oos_label})
    return rows


def model_note(project: "Project") -> str:
    """What the active model answers with after a change (one line)."""
    active = project.registry.active_model_id()
    if active is None:
        return "no model is deployed yet"
    rec = project.registry.get(active)
    if rec.labels in (project.config.label_names, project.config.answer_labels):
        return f"active model {active} ({rec.type}) answers with the new labels"
    return (f"model {active} ({rec.type}) keeps answering with its own {len(rec.labels)} labels until retrained: "
            "retrain to use the new labels (`labelf train`)")


def refresh_zero_shot(project: "Project") -> tuple[int, int, bool] | None:
    """While the active model is the zero-shot one (or none is deployed), create and deploy the zero-shot model
    for the new label set, as ``labelf init`` does. A trained active model is left deployed: returns None."""
    active = project.registry.active_model_id()
    if active is not None and project.registry.get(active).type != "zero-shot":
        return None
    return project.ensure_zero_shot()
