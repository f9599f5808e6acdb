"""API keys: stored hashed, verified in constant time, revocable; `labelf keys create|revoke|list`."""

from __future__ import annotations

import hashlib
import json
import time

import pytest

from labelf_trainer.cli.main import main
from labelf_trainer.service.keys import CACHE_SECONDS, ApiKeyError, ApiKeyStore


def test_keys_are_stored_hashed_and_verified(tmp_project):
    store = ApiKeyStore(tmp_project.ws, cache_seconds=0)  # every check reads the database (the cache: below)
    key_id, key = store.create("dashboard")
    _, other = store.create("batch-job")
    assert key.startswith(f"lf_{key_id}_") and len(key) > 40 and key != other
    rows = tmp_project.ws.query("SELECT * FROM api_keys")
    dump = json.dumps([dict(r) for r in rows])
    assert key not in dump and key.split("_", 2)[2] not in dump  # neither the key nor its secret part
    assert rows[0]["hash"] == hashlib.sha256(key.encode()).hexdigest()
    assert store.verify(key).name == "dashboard"
    assert store.verify(other).name == "batch-job"
    for bad in (None, "", "lf_", key + "x", key[:-1], f"lf_{key_id}_" + "A" * 43, "lf_99_" + key.split("_", 2)[2],
                key.replace(f"lf_{key_id}_", "lf_2_")):
        assert store.verify(bad) is None, bad
    revoked = store.revoke(key_id)
    assert revoked.revoked_at and not revoked.active
    assert store.verify(key) is None and store.verify(other) is not None
    assert store.revoke(key_id).revoked_at == revoked.revoked_at  # revoking twice keeps the first time
    assert [k.id for k in store.list()] == [key_id, key_id + 1] and store.count_active() == 1


def test_a_revocation_takes_effect_within_the_cache_time(tmp_project):
    """A server's store remembers a verified key for CACHE_SECONDS; a key revoked elsewhere (another process,
    another store) is refused once that has passed, without a restart."""
    server = ApiKeyStore(tmp_project.ws)
    key_id, key = server.create("dashboard")
    assert server.verify(key) is not None
    revoked_at = time.monotonic()
    ApiKeyStore(tmp_project.ws).revoke(key_id)
    while server.verify(key) is not None:
        assert time.monotonic() - revoked_at <= CACHE_SECONDS + 0.5, "a revoked key is still accepted"
        time.sleep(0.05)
    assert server.verify(key) is None


def test_bad_key_requests_are_clear_errors(tmp_project):
    store = ApiKeyStore(tmp_project.ws)
    with pytest.raises(ApiKeyError, match="no API key with id 7"):
        store.revoke(7)
    with pytest.raises(ApiKeyError, match="1-100 characters"):
        store.create("   ")


def test_keys_cli_create_list_revoke(tmp_project, capsys):
    cfg = str(tmp_project.config.source_path)
    assert main(["keys", "create", "ci", "--config", cfg]) == 0
    cap = capsys.readouterr()
    key = cap.out.strip()
    assert key.startswith("lf_") and "\n" not in key and "shown only now" in cap.err
    assert ApiKeyStore(tmp_project.ws).verify(key) is not None
    assert main(["keys", "list", "--config", cfg, "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)["keys"]
    assert [(k["name"], k["active"]) for k in listed] == [("ci", True)] and key not in json.dumps(listed)
    key_id = str(listed[0]["id"])
    assert main(["keys", "revoke", key_id, "--config", cfg]) == 0
    assert ApiKeyStore(tmp_project.ws).verify(key) is None
    assert main(["keys", "list", "--config", cfg]) == 0 and "ci" in capsys.readouterr().out
    assert main(["keys", "revoke", "42", "--config", cfg]) == 1
    assert capsys.readouterr().err.strip() == "error: no API key with id 42 (see `labelf keys list`)"
    assert main(["keys", "revoke", "abc", "--config", cfg]) == 2  # usage error, not a traceback


def test_routing_cli(tmp_project, capsys):
    cfg = str(tmp_project.config.source_path)
    mid = str(tmp_project.active_model_id())
    assert main(["models", "routing", mid, "on", "--config", cfg]) == 0
    assert tmp_project.registry.get(int(mid)).routing is True
    assert main(["models", "routing", mid, "off", "--config", cfg]) == 0
    assert tmp_project.registry.get(int(mid)).routing is False
    capsys.readouterr()
    assert main(["models", "routing", mid, "maybe", "--config", cfg]) == 1
    assert "STATE must be on or off" in capsys.readouterr().err
    assert main(["models", "routing", "99", "on", "--config", cfg]) == 1
    assert "no model with id 99" in capsys.readouterr().err
