"""Model artefact folders: ``models/<id>/v<N>/``, written into a temp folder and renamed into place.

Concurrency and crashes:

- Temp folders are named ``.tmp-<pid>-<random>``: cleanup removes only those whose process is gone, so two
  trainings (a CLI ``train`` and the ML backend's) never delete each other's work.
- Publishing (rename to ``v<N>`` + the database row) happens under a per-model file lock, so concurrent trainings
  get consecutive version numbers.
- A crash between the rename and the database row leaves a ``v<N>`` folder no row points to: under the same lock,
  :func:`recover_orphans` moves such folders aside (``.orphan-v<N>-<time>``), so version numbers never skip and
  nothing is silently deleted.
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["new_temp_dir", "clean_stale_temp", "model_lock", "next_version", "fsync_tree", "recover_orphans",
           "version_dirs"]

TMP_PREFIX = ".tmp-"
ORPHAN_PREFIX = ".orphan-"
LOCK_DIR = ".locks"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError as e:
        return e.errno == errno.EPERM
    return True


def new_temp_dir(base: Path) -> Path:
    """A fresh temp folder path (not created) owned by this process."""
    return base / f"{TMP_PREFIX}{os.getpid()}-{uuid.uuid4().hex}"


def clean_stale_temp(base: Path) -> list[Path]:
    """Remove temp folders whose owning process is gone (or that predate owner-tagged names); returns them."""
    removed = []
    for p in base.glob(f"{TMP_PREFIX}*"):
        owner = p.name[len(TMP_PREFIX):].split("-", 1)[0]
        if owner.isdigit() and _alive(int(owner)):
            continue
        shutil.rmtree(p, ignore_errors=True)
        removed.append(p)
    return removed


@contextmanager
def model_lock(base: Path) -> Iterator[None]:
    """An exclusive lock on one model's folder, across threads and processes (blocks until free); the lock file is
    ``models/.locks/<id>.lock``, so model folders hold only versions."""
    locks = base.parent / LOCK_DIR
    locks.mkdir(parents=True, exist_ok=True)
    fd = os.open(locks / f"{base.name}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def version_dirs(base: Path) -> dict[int, Path]:
    """``{N: models/<id>/vN}`` for the version folders on disk."""
    if not base.is_dir():
        return {}
    return {int(p.name[1:]): p for p in base.iterdir() if p.name.startswith("v") and p.name[1:].isdigit()}


def next_version(base: Path, registered: set[int]) -> int:
    """The next version number: above every registered version and every folder on disk."""
    return max(registered | set(version_dirs(base)), default=0) + 1


def recover_orphans(base: Path, registered: set[int]) -> list[Path]:
    """Move version folders no database row points to aside; returns their new paths (call under the lock)."""
    moved = []
    for n, p in sorted(version_dirs(base).items()):
        if n not in registered:
            target = base / f"{ORPHAN_PREFIX}v{n}-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
            os.rename(p, target)
            moved.append(target)
    return moved


def fsync_tree(path: Path) -> None:
    """Flush every file of a folder, and the folder, to disk."""
    for p in path.rglob("*"):
        if p.is_file():
            with p.open("rb") as fh:
                os.fsync(fh.fileno())
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
