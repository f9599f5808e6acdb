"""Batch jobs over files of any size: streaming classification on one machine (:mod:`.local`) or on Ray Data
(:mod:`.ray_engine`), with the encoder runtime chosen per job (:mod:`.runtime`), results per chunk
(:mod:`.scoring`, :mod:`.output`), resume after an interruption (:mod:`.job`), and streaming import into a
workspace (:mod:`.ingest`). ``docs/batch.md`` describes the commands.
"""

from __future__ import annotations

__all__: list[str] = []
