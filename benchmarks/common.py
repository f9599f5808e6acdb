"""What every benchmark script shares: datasets by name, embeddings through the cache, sampling, results and README.

Datasets
    ``load_dataset("trec")`` reads ``<data root>/trec/{train,test}.csv`` (default data root: ``../shared/data``
    next to the repository; ``--data-root`` or ``LABELF_BENCH_DATA`` change it). Single-label files have a ``label``
    column, multi-label files a ``labels`` column with ``|`` between labels (``sgd_conversations``). The command-line
    form is ``NAME[@COLUMN][:DESCRIPTIONS.yaml]``: ``bitext_customer_support@category`` takes the labels from
    another column, ``mydata:path/to/descriptions.yaml`` names the label-descriptions file (a YAML mapping
    ``label: description``). Without one, ``benchmarks/data/<name>_descriptions.yaml`` (then
    ``<data root>/<name>/descriptions.yaml``; ``<name>_<column>_descriptions.yaml`` for ``NAME@COLUMN``) is used
    if it exists; labels without a description get ``""``.

Embeddings
    ``embed(texts)`` / ``Dataset.embed(split)`` go through :class:`labelf_trainer.embeddings.Embedder` with the
    on-disk cache at :func:`cache_root` (``benchmarks/results/cache/``, or ``LABELF_BENCH_CACHE``), so a text is
    embedded once per encoder whatever script asks for it.

Results
    :func:`write_results` merges a run into ``results/<name>.json`` per dataset and per setting (a strategy, a model
    row, an encoder): a run on one dataset never drops another dataset's rows. A run that covers less than the
    published one (fewer seeds, budgets or repeats) or measures something else (another encoder, other weights,
    another descriptions file) is *partial*: it goes to ``results/<name>.partial.json`` unless ``publish=True``. A
    ``tag`` (tuning variant) goes to ``results/<name>_tuning.json`` under that tag, never to the published file.
    :func:`write_section` replaces one script's ``<!-- section:NAME -->`` block of ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DATA_ROOT = HERE.parents[1] / "shared" / "data"
DESCRIPTIONS_DIR = HERE / "data"
RESULTS = HERE / "results"
README = HERE / "README.md"
#: resume state and other scratch files of the scripts (ignored by git); embeddings go to :func:`cache_root`
SCRATCH = RESULTS / "cache"
LABEL_SEP = "|"

_data_root: Path | None = None


# -- datasets -------------------------------------------------------------------------------------------------
def data_root() -> Path:
    """``--data-root`` if given, else ``LABELF_BENCH_DATA``, else ``../shared/data`` next to the repository."""
    if _data_root is not None:
        return _data_root
    env = os.environ.get("LABELF_BENCH_DATA")
    return Path(env).expanduser() if env else DATA_ROOT


def set_data_root(path: Path | str | None) -> None:
    global _data_root
    _data_root = Path(path).expanduser().resolve() if path else None


def cache_root() -> Path:
    """Embedding (and language) cache folder: ``LABELF_BENCH_CACHE`` or ``benchmarks/results/cache/``."""
    env = os.environ.get("LABELF_BENCH_CACHE")
    return Path(env).expanduser() if env else RESULTS / "cache"


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset as named on the command line: ``NAME[@COLUMN][:DESCRIPTIONS.yaml]``."""

    name: str
    column: str | None = None
    descriptions: Path | None = None

    @classmethod
    def parse(cls, arg: str) -> DatasetSpec:
        name, _, desc = arg.partition(":")
        name, _, column = name.partition("@")
        if not name:
            raise argparse.ArgumentTypeError(f"no dataset name in {arg!r} (expected NAME[@COLUMN][:DESCRIPTIONS.yaml])")
        path = None
        if desc:
            path = Path(desc).expanduser()
            if not path.is_file() and (DESCRIPTIONS_DIR / desc).is_file():
                path = DESCRIPTIONS_DIR / desc
            if not path.is_file():
                raise argparse.ArgumentTypeError(f"descriptions file not found: {desc}")
        return cls(name, column or None, path)

    @property
    def key(self) -> str:
        """The name results are filed under: ``NAME`` or ``NAME@COLUMN``."""
        return f"{self.name}@{self.column}" if self.column else self.name

    def __str__(self) -> str:
        return self.key + (f":{self.descriptions}" if self.descriptions else "")


@dataclass
class Dataset:
    """One benchmark dataset: train and test frames (``text`` plus the label column), classes, descriptions.

    Single-label: ``labels(split)`` is a list of str, ``y(split)`` an int array of class indices. Multi-label:
    ``labels(split)`` is a list of tuples, ``y(split)`` an (n, C) 0/1 matrix.
    """

    name: str
    key: str
    train: pd.DataFrame
    test: pd.DataFrame
    label_column: str
    multi_label: bool
    classes: list[str]
    descriptions: dict[str, str]
    descriptions_file: Path | None = None
    _index: dict[str, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._index = {c: i for i, c in enumerate(self.classes)}

    def frame(self, split: str) -> pd.DataFrame:
        if split not in ("train", "test"):
            raise ValueError(f"unknown split {split!r}")
        return self.train if split == "train" else self.test

    def texts(self, split: str) -> list[str]:
        return self.frame(split)["text"].tolist()

    def labels(self, split: str) -> list:
        return self.frame(split)[self.label_column].tolist()

    def y(self, split: str) -> np.ndarray:
        labels = self.labels(split)
        if not self.multi_label:
            return np.array([self._index[c] for c in labels])
        out = np.zeros((len(labels), len(self.classes)), dtype=np.int8)
        for i, labs in enumerate(labels):
            out[i, [self._index[c] for c in labs]] = 1
        return out

    def label_specs(self, with_descriptions: bool = True) -> list:
        from labelf_trainer.config import LabelSpec

        return [LabelSpec(name=c, description=self.descriptions.get(c, "") if with_descriptions else "")
                for c in self.classes]

    def embed(self, split: str, encoder: str = "minilm") -> np.ndarray:
        return embed(self.texts(split), encoder, description=f"{self.key} {split}")

    def label_embeddings(self, encoder: str = "minilm") -> np.ndarray:
        """Embedded ``LabelSpec.prompt`` of every class (name in words, then its description)."""
        return embed([s.prompt for s in self.label_specs()], encoder)

    @property
    def descriptions_hash(self) -> str:
        """Short hash of the descriptions in use: results made with other descriptions are another setting."""
        blob = json.dumps({c: self.descriptions.get(c, "") for c in self.classes}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:12]

    @property
    def descriptions_source(self) -> str | None:
        return _display_path(self.descriptions_file) if self.descriptions_file else None

    def info(self) -> dict[str, Any]:
        """What a results file records about the data (not part of the setting)."""
        return {"n_train": len(self.train), "n_test": len(self.test), "n_classes": len(self.classes),
                "multi_label": self.multi_label, "label_column": self.label_column,
                "descriptions": self.descriptions_source}


def _display_path(path: Path) -> str:
    path = Path(path).resolve()
    try:
        return str(path.relative_to(REPO))
    except ValueError:
        return str(path)


def default_descriptions(name: str, column: str | None = None, root: Path | None = None) -> Path | None:
    """``benchmarks/data/<name>_descriptions.yaml``, else ``<data root>/<name>/descriptions.yaml`` (with a label column
    other than the default: ``<name>_<column>_descriptions.yaml`` and ``<column>_descriptions.yaml``)."""
    stem = f"{name}_{column}" if column else name
    folder = (root or data_root()) / name
    for candidate in (DESCRIPTIONS_DIR / f"{stem}_descriptions.yaml",
                      folder / (f"{column}_descriptions.yaml" if column else "descriptions.yaml")):
        if candidate.is_file():
            return candidate
    return None


def read_descriptions(path: Path | None) -> dict[str, str]:
    import yaml

    if path is None:
        return {}
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of label -> description")
    return {str(k): "" if v is None else str(v).strip() for k, v in data.items()}


_loaded: dict[tuple, Dataset] = {}


def load_dataset(spec: DatasetSpec | str) -> Dataset:
    """Read a dataset by name (or ``NAME[@COLUMN][:DESCRIPTIONS.yaml]``); kept in memory for the process."""
    if isinstance(spec, str):
        spec = DatasetSpec.parse(spec)
    root = data_root()
    cache_key = (spec, root)
    if cache_key in _loaded:
        return _loaded[cache_key]
    import pandas as pd

    folder = root / spec.name
    if not (folder / "train.csv").is_file() or not (folder / "test.csv").is_file():
        raise FileNotFoundError(f"dataset {spec.name!r}: expected {folder}/train.csv and test.csv "
                                f"(data root {root}; change it with --data-root)")
    frames = {s: pd.read_csv(folder / f"{s}.csv", keep_default_na=False) for s in ("train", "test")}
    cols = list(frames["train"].columns)
    column = spec.column or ("label" if "label" in cols else "labels" if "labels" in cols else None)
    if column is None or column not in cols:
        raise ValueError(f"dataset {spec.name!r}: no label column {spec.column or 'label/labels'!r} (has {cols})")
    multi = column == "labels"
    for s, df in frames.items():
        if "text" not in df.columns or column not in df.columns:
            raise ValueError(f"dataset {spec.name!r}, {s}.csv: needs columns 'text' and {column!r}")
        if multi:
            df[column] = [tuple(x for x in str(v).split(LABEL_SEP) if x) for v in df[column]]
        else:
            df[column] = df[column].astype(str)
    if multi:
        classes = sorted({c for labs in frames["train"][column] for c in labs})
    else:
        classes = sorted(frames["train"][column].unique())
    desc_file = spec.descriptions or default_descriptions(spec.name, spec.column, root)
    ds = Dataset(name=spec.name, key=spec.key, train=frames["train"], test=frames["test"], label_column=column,
                 multi_label=multi, classes=classes, descriptions=read_descriptions(desc_file),
                 descriptions_file=desc_file)
    _loaded[cache_key] = ds
    return ds


def add_dataset_args(ap: argparse.ArgumentParser, default: Sequence[str], *, help_extra: str = "") -> None:
    """``--datasets NAME[@COLUMN][:DESCRIPTIONS.yaml] ...`` and ``--data-root``."""
    ap.add_argument("--datasets", nargs="+", type=DatasetSpec.parse, default=[DatasetSpec.parse(d) for d in default],
                    metavar="NAME[:DESCRIPTIONS.yaml]",
                    help="datasets under the data root (NAME/train.csv, NAME/test.csv), each with an optional "
                         "label-descriptions YAML; NAME@COLUMN takes the labels from another column "
                         f"(default: {' '.join(default)}){help_extra}")
    ap.add_argument("--data-root", type=Path, default=None,
                    help=f"folder holding the datasets (default: {DATA_ROOT}, or LABELF_BENCH_DATA)")


def apply_common_args(args: argparse.Namespace) -> None:
    set_data_root(getattr(args, "data_root", None))


# -- embeddings -----------------------------------------------------------------------------------------------
_embedders: dict[tuple[str, Path], Any] = {}


def embedder(encoder: str = "minilm"):
    """A shared :class:`~labelf_trainer.embeddings.Embedder` on the benchmark cache."""
    from labelf_trainer.embeddings import Embedder, load_encoder

    root = cache_root()
    if (encoder, root) not in _embedders:
        _embedders[(encoder, root)] = Embedder(load_encoder(encoder), root)
    return _embedders[(encoder, root)]


def embed(texts: Sequence[str], encoder: str = "minilm", *, description: str = "Embedding") -> np.ndarray:
    return embedder(encoder).embed(list(texts), description=description)


# -- sampling -------------------------------------------------------------------------------------------------
def sample_per_class(df: pd.DataFrame, per_class: int | None, seed: int, column: str = "label") -> pd.DataFrame:
    """``per_class`` rows of every label, drawn with ``numpy.random.default_rng(seed)`` (labels in sorted order),
    in their original order; ``None`` = the whole frame. Multi-label (tuple values): ``per_class`` rows *having*
    each label, rows drawn for an earlier label counting for every label they carry."""
    if per_class is None:
        return df
    rng = np.random.default_rng(seed)
    values = df[column].tolist()
    if values and isinstance(values[0], tuple):
        chosen: set[int] = set()
        for c in sorted({c for v in values for c in v}):
            rows = np.array([i for i, v in enumerate(values) if c in v])
            have = sum(1 for i in rows if i in chosen)
            free = np.array([i for i in rows if i not in chosen])
            k = min(max(per_class - have, 0), len(free))
            if k:
                chosen.update(int(i) for i in rng.choice(free, size=k, replace=False))
        idx = sorted(chosen)
    else:
        idx = sorted(int(i) for _, rows in sorted(df.groupby(column).indices.items())
                     for i in rng.choice(rows, size=min(per_class, len(rows)), replace=False))
    return df.iloc[idx].reset_index(drop=True)


# -- results --------------------------------------------------------------------------------------------------
def results_path(name: str, kind: str = "published") -> Path:
    return RESULTS / {"published": f"{name}.json", "partial": f"{name}.partial.json",
                      "tuning": f"{name}_tuning.json"}[kind]


def read_json(path: Path, default: Any = None) -> Any:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else default


def load_results(name: str, kind: str = "published") -> dict:
    """A results document: ``{"meta": {...}, "datasets": {key: {"meta", "info", "rows": {setting: row}, ...}}}``."""
    return read_json(results_path(name, kind), {}) or {}


def _write_json(path: Path, data: Any, indent: int = 1) -> None:
    from labelf_trainer.io_utils import atomic_writer

    with atomic_writer(path) as fh:
        json.dump(data, fh, indent=indent, ensure_ascii=False)
        fh.write("\n")


def compare_meta(new: dict, old: dict, coverage: Iterable[str] = ()) -> list[str]:
    """Why a run with setting ``new`` would not replace results made with ``old`` (empty: it may).

    Keys in ``coverage`` must cover the old run (a list: all of its items; a number: at least as large); every other
    key present on both sides must be equal."""
    reasons, coverage = [], set(coverage)
    for k in sorted(set(new) & set(old)):
        a, b = new[k], old[k]
        if k in coverage:
            if isinstance(b, list):
                missing = [x for x in b if x not in (a if isinstance(a, list) else [a])]
                if missing:
                    reasons.append(f"{k}: {a} lacks {missing} of the published {b}")
            elif isinstance(b, (int, float)) and isinstance(a, (int, float)) and a < b:
                reasons.append(f"{k}: {a} < published {b}")
        elif json.dumps(a, sort_keys=True) != json.dumps(b, sort_keys=True):
            reasons.append(f"{k}: {json.dumps(a, sort_keys=True)} != published {json.dumps(b, sort_keys=True)}")
    return reasons


def merge(old: dict, new: dict, *, replace_other_settings: bool = False) -> dict:
    """``new`` merged into ``old``: per dataset, its rows replace the rows of the same setting, other rows (and other
    datasets) stay; a dataset's other keys (meta, info, ...) and top-level keys other than ``datasets`` are replaced
    when the new run has them. ``replace_other_settings``: a dataset whose ``meta`` differs is replaced as a whole
    (side files keep one setting per dataset, the latest)."""
    out = copy.deepcopy(old)
    for k, v in new.items():
        if k != "datasets":
            out[k] = copy.deepcopy(v)
    datasets = out.setdefault("datasets", {})
    for ds, block in new.get("datasets", {}).items():
        if replace_other_settings and datasets.get(ds, {}).get("meta") != block.get("meta"):
            datasets.pop(ds, None)
        target = datasets.setdefault(ds, {})
        for k, v in block.items():
            if k == "rows":
                target.setdefault("rows", {}).update(copy.deepcopy(v))
            else:
                target[k] = copy.deepcopy(v)
    return out


def partial_reasons(name: str, result: dict, coverage: Iterable[str] = ()) -> list[str]:
    """Why ``result`` may not replace the published rows of ``results/<name>.json`` (empty: it may)."""
    published = load_results(name)
    coverage = list(coverage)
    reasons = []
    if "meta" in result and "meta" in published:
        reasons += compare_meta(result["meta"], published["meta"], coverage)
    for ds, block in result.get("datasets", {}).items():
        old = published.get("datasets", {}).get(ds)
        if old and "meta" in block and "meta" in old:
            reasons += [f"{ds}: {r}" for r in compare_meta(block["meta"], old["meta"], coverage)]
    return reasons


def write_results(name: str, result: dict, *, publish: bool = False, tag: str | None = None,
                  coverage: Iterable[str] = ("seeds", "budgets"), partial: bool | str | None = None,
                  finalize: Callable[[dict], None] | None = None) -> tuple[Path, bool]:
    """Merge ``result`` into the results of benchmark ``name``; returns (file written, published?).

    - ``tag``: a tuning variant, merged into ``results/<name>_tuning.json[tag]``; never published.
    - otherwise the run is *partial* when ``partial`` says so (a string: why) or when it does not cover a published dataset's setting
      (see :func:`compare_meta`; ``coverage`` names the keys that may grow, such as seeds and budgets). A partial run
      is merged into ``results/<name>.partial.json`` unless ``publish`` is set.
    - ``finalize(doc)`` runs on the merged document before it is written (derived figures across rows).
    """
    if tag:
        path = results_path(name, "tuning")
        variants = read_json(path, {}) or {}
        variants[tag] = merge(variants.get(tag, {}), result, replace_other_settings=True)
        if finalize:
            finalize(variants[tag])
        _write_json(path, variants)
        print(f"tuning variant {tag!r} written to {_display_path(path)} (published results unchanged)")
        return path, False
    reasons = partial_reasons(name, result, coverage)
    if partial:
        reasons.append(partial if isinstance(partial, str) else "the script marked it partial")
    kind = "published" if publish or not reasons else "partial"
    if reasons:
        print(("publishing anyway (--publish): " if publish else "partial run: ") + "; ".join(reasons))
    path = results_path(name, kind)
    doc = merge(load_results(name, kind), result, replace_other_settings=kind == "partial")
    if finalize:
        finalize(doc)
    _write_json(path, doc)
    print(f"wrote {_display_path(path)}" + ("" if kind == "published" else
                                              " (published results unchanged; --publish to replace them)"))
    return path, kind == "published"


def add_publish_args(ap: argparse.ArgumentParser, *, tag: bool = True) -> None:
    ap.add_argument("--publish", action="store_true",
                    help="write into the published results (and README) even when the run is partial: fewer "
                         "seeds/budgets/repeats than published, or another setting")
    if tag:
        ap.add_argument("--tag", default="", help="name of a tuning variant: results go to "
                                                  "results/<script>_tuning.json under that name, never published")


# -- README ---------------------------------------------------------------------------------------------------
def write_section(name: str, markdown: str, readme: Path = README) -> None:
    """Replace the ``<!-- section:NAME -->`` block of the benchmarks README (appended when missing), atomically."""
    from labelf_trainer.io_utils import atomic_writer

    text = readme.read_text(encoding="utf-8") if readme.is_file() else "# Benchmarks\n"
    start, end = f"<!-- section:{name} -->", f"<!-- /section:{name} -->"
    block = f"{start}\n{markdown.strip()}\n{end}"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), flags=re.DOTALL)
    new = pattern.sub(lambda _: block, text, count=1) if pattern.search(text) else text.rstrip("\n") + "\n\n" + block + "\n"
    if new != text:
        with atomic_writer(readme) as fh:
            fh.write(new)
    print(f"README section {name!r} " + ("updated" if new != text else "unchanged"))


def read_section(name: str, readme: Path = README) -> str | None:
    text = readme.read_text(encoding="utf-8")
    m = re.search(re.escape(f"<!-- section:{name} -->") + r"\n(.*?)\n" + re.escape(f"<!-- /section:{name} -->"),
                  text, flags=re.DOTALL)
    return m.group(1) if m else None
