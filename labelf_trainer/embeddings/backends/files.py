"""Fingerprints of model folders: equal content, equal fingerprint (so a cache key names exact weights)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

__all__ = ["hash_model_dir"]


def hash_model_dir(path: Path) -> str:
    """Content fingerprint of a model folder: small files whole, large files by size, head and tail."""
    h = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file() and ".cache" not in p.parts):
        if f.suffix in {".md", ".txt"} and f.name != "vocab.txt":
            continue
        h.update(str(f.relative_to(path)).encode())
        size = f.stat().st_size
        h.update(str(size).encode())
        with f.open("rb") as fh:
            if size <= 4 << 20:
                h.update(fh.read())
            else:
                h.update(fh.read(1 << 20))
                fh.seek(size // 2)
                h.update(fh.read(1 << 20))
                fh.seek(-(1 << 20), os.SEEK_END)
                h.update(fh.read())
    return h.hexdigest()
