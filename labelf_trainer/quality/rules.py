"""Keyword and pattern rules (the config's ``rules:`` block): which texts each rule marks, its coverage of the pool
and its precision on the labeled texts (`labelf rules`), and the hits other parts of the loop can use.

A phrase matches as whole words, case-insensitively, with any run of spaces between its words; a pattern is a
Python regular expression searched case-insensitively. Rules only *mark* texts: they never write or overwrite a
label. What reads them:

- :func:`rule_hits` / :func:`rule_matrix`: texts a rule marks for a label, for the cold start and the rare-class
  search (texts for a label nobody has found yet);
- :func:`rule_report`: each rule's coverage and precision, so weak rules can be dropped before anyone trusts them.

Usage::

    hits = rule_hits(project)             # {"Cancellation": ["msg-0003", ...], ...}, unlabeled texts only
    for r in rule_report(project).rules:
        print(r.label, r.rule, r.pool_hits, r.precision)
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..config import ProjectConfig

if TYPE_CHECKING:
    from ..loop.project import Project

__all__ = ["Rule", "compile_rules", "rule_matrix", "label_hit_matrix", "rule_hits", "RuleStats", "RulesReport",
           "rule_report"]


@dataclass(frozen=True)
class Rule:
    """One phrase or pattern of a label, compiled."""

    label: str
    kind: str  # "phrase" or "pattern"
    source: str
    regex: re.Pattern[str]

    @property
    def name(self) -> str:
        return f"{self.kind}:{self.source}"

    def matches(self, text: str) -> bool:
        return self.regex.search(text) is not None


def _phrase_regex(phrase: str) -> re.Pattern[str]:
    words = [re.escape(w) for w in phrase.split()]
    return re.compile(r"(?<!\w)" + r"\s+".join(words) + r"(?!\w)", re.IGNORECASE)


def compile_rules(config: ProjectConfig) -> list[Rule]:
    """Every rule of the config, in config order (phrases of a label, then its patterns)."""
    rules = []
    for label, spec in config.rules.items():
        rules += [Rule(label, "phrase", p, _phrase_regex(p)) for p in spec.phrases]
        rules += [Rule(label, "pattern", p, re.compile(p, re.IGNORECASE)) for p in spec.patterns]
    return rules


def rule_matrix(rules: Sequence[Rule], texts: Sequence[str]) -> np.ndarray:
    """Boolean (n_texts, n_rules): which rule marks which text."""
    out = np.zeros((len(texts), len(rules)), dtype=bool)
    for j, rule in enumerate(rules):
        out[:, j] = [rule.matches(t) for t in texts]
    return out


def label_hit_matrix(config: ProjectConfig, texts: Sequence[str]) -> np.ndarray:
    """Boolean (n_texts, n_answer_labels) in ``config.answer_labels`` order: some rule of that label marks the text
    (all False for a label without rules). What a strategy's ``Pool`` can carry row for row."""
    rules = compile_rules(config)
    hits = rule_matrix(rules, texts)
    out = np.zeros((len(texts), len(config.answer_labels)), dtype=bool)
    for j, label in enumerate(config.answer_labels):
        cols = [k for k, r in enumerate(rules) if r.label == label]
        if cols:
            out[:, j] = hits[:, cols].any(axis=1)
    return out


def rule_hits(project: "Project", *, include_labeled: bool = False) -> dict[str, list[str]]:
    """Item ids each label's rules mark, per label with rules (pool order). By default only texts without a human
    label: a rule never overrides one, so a labeled text is no candidate."""
    rules = compile_rules(project.config)
    if not rules:
        return {}
    labeled = set() if include_labeled else set(project.ws.annotations.labeled())
    items = [it for it in project.ws.items.all() if it.id not in labeled]
    hits = rule_matrix(rules, [it.text for it in items])
    out: dict[str, list[str]] = {label: [] for label in project.config.rules}
    for label in out:
        cols = [j for j, r in enumerate(rules) if r.label == label]
        out[label] = [items[i].id for i in np.flatnonzero(hits[:, cols].any(axis=1))]
    return out


@dataclass(frozen=True)
class RuleStats:
    """One rule (or with ``rule="(any)"`` all rules of a label): texts it marks in the pool, its share of the pool,
    labeled texts it marks and the share of those whose label is the rule's (None: it marks no labeled text)."""

    label: str
    rule: str
    pool_hits: int
    coverage: float
    labeled_hits: int
    correct: int
    precision: float | None
    unlabeled_hits: int

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["coverage"] = round(self.coverage, 4)
        d["precision"] = None if self.precision is None else round(self.precision, 4)
        return d


@dataclass
class RulesReport:
    pool: int
    labeled: int
    rules: list[RuleStats]
    per_label: list[RuleStats]
    conflicts: int
    """Texts marked by rules of two or more labels (single-label projects)."""

    def to_dict(self) -> dict[str, Any]:
        return {"pool": self.pool, "labeled": self.labeled, "conflicts": self.conflicts,
                "rules": [r.to_dict() for r in self.rules], "per_label": [r.to_dict() for r in self.per_label]}


def _stats(label: str, name: str, hit: np.ndarray, is_labeled: np.ndarray, correct: np.ndarray) -> RuleStats:
    n_lab = int((hit & is_labeled).sum())
    n_ok = int((hit & is_labeled & correct).sum())
    return RuleStats(label, name, int(hit.sum()), float(hit.mean()) if len(hit) else 0.0, n_lab, n_ok,
                     n_ok / n_lab if n_lab else None, int((hit & ~is_labeled).sum()))


def rule_report(project: "Project") -> RulesReport:
    """Coverage on the pool and precision on the labeled texts of every rule and of each label's rules together."""
    cfg = project.config
    rules = compile_rules(cfg)
    items = project.ws.items.all()
    labeled = project.ws.annotations.labeled()
    hits = rule_matrix(rules, [it.text for it in items])
    is_labeled = np.array([it.id in labeled for it in items], dtype=bool)
    stats, per_label = [], []
    for label in cfg.rules:
        correct = np.array([label in labeled.get(it.id, ()) for it in items], dtype=bool)
        cols = [j for j, r in enumerate(rules) if r.label == label]
        stats += [_stats(label, rules[j].name, hits[:, j], is_labeled, correct) for j in cols]
        per_label.append(_stats(label, "(any)", hits[:, cols].any(axis=1), is_labeled, correct))
    conflicts = 0
    if not cfg.multi_label and rules:
        by_label = np.stack([hits[:, [j for j, r in enumerate(rules) if r.label == lab]].any(axis=1)
                             for lab in cfg.rules], axis=1)
        conflicts = int((by_label.sum(axis=1) >= 2).sum())
    return RulesReport(len(items), int(is_labeled.sum()), stats, per_label, conflicts)
