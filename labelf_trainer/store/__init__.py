"""The workspace store: one SQLite file (WAL) per workspace, and every SQL statement of the package.

- :mod:`.db`: the :class:`Workspace` (schema, connections, transactions) that holds one store per table group
- :mod:`.items`: the pool of texts (``ws.items``)
- :mod:`.annotations`: labels given to texts, and the primitives connectors ingest with (``ws.annotations``)
- :mod:`.batches`: suggestion batches and their items (``ws.batches``)
- :mod:`.models`: the registry's model and version rows (``ws.models``)
- :mod:`.keys`: API keys of the service (``ws.keys``)
- :mod:`.kv`: small key/value state (``ws.kv``)
- :mod:`.hashcache`: a text-hash -> value cache in its own SQLite file (embeddings, detected languages)

Nothing outside this package writes SQL (``tests/test_layout.py`` checks it).
"""

from .db import Workspace, utcnow

__all__ = ["Workspace", "utcnow"]
