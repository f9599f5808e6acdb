"""`labelf keys create|revoke|list`: API keys of the inference service (stored hashed in the workspace)."""

from __future__ import annotations

from typing import Annotated

import typer

from ._utils import ConfigOpt, FormatOpt, check_format, emit_json, info, make_app, open_project, print_table

app = make_app("API keys for `labelf serve`: create, revoke, list.")


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="A name to recognise the key by (e.g. the client using it).")] = "default",
    scope: Annotated[str, typer.Option(help="inference (the v2 API, /v1/classify), labeling (the Label Studio ML "
                                            "backend and webhooks) or admin (everything).")] = "inference",
    config: ConfigOpt = None,
) -> None:
    """Create a key and print it once on stdout (only its hash is stored; it cannot be shown again).

    \b
    Examples:
      export LABELF_API_KEY=$(labelf keys create dashboard)
      labelf keys create label-studio --scope labeling
    """
    from ..service.keys import ApiKeyStore

    with open_project(config) as project:
        key_id, key = ApiKeyStore(project.ws).create(name, scope)
    info(f"created {scope} API key {key_id} ({name!r}); it is shown only now. Send it as 'Authorization: Bearer "
         "<key>'.")
    typer.echo(key)


@app.command("revoke")
def revoke(
    key_id: Annotated[int, typer.Argument(help="Key id (see `labelf keys list`).")],
    config: ConfigOpt = None,
) -> None:
    """Revoke a key: a running server refuses it within a second (verified keys are remembered that long).

    Example: labelf keys revoke 3
    """
    from ..service.keys import ApiKeyStore

    with open_project(config) as project:
        key = ApiKeyStore(project.ws).revoke(key_id)
    info(f"API key {key.id} ({key.name!r}) revoked at {key.revoked_at}")


@app.command("list")
def list_keys(config: ConfigOpt = None, fmt: FormatOpt = "table") -> None:
    """Every key: id, name, created, revoked (never the key itself).

    Example: labelf keys list --format json
    """
    from ..service.keys import ApiKeyStore

    check_format(fmt)
    with open_project(config) as project:
        keys = ApiKeyStore(project.ws).list()
    if fmt == "json":
        emit_json({"keys": [{"id": k.id, "name": k.name, "scopes": k.scopes, "created_at": k.created_at,
                             "revoked_at": k.revoked_at, "active": k.active} for k in keys]})
        return
    print_table("API keys", ["id", "name", "scope", "created", "revoked"],
                [[k.id, k.name, k.scopes, k.created_at, k.revoked_at or ""] for k in keys])
