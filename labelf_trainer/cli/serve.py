"""`labelf serve`: the HTTP inference service."""

from __future__ import annotations

import os
import socket
from typing import Annotated

import typer

from ..exceptions import ConfigError
from ._utils import ConfigOpt, info


def _check_port(host: str, port: int) -> None:
    if not 0 < port < 65536:
        raise ConfigError(f"--port must be 1-65535, got {port}")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise ConfigError(f"--host {host!r}: cannot resolve ({e.strerror})") from None
    family, _, _, _, addr = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(addr)
        except OSError as e:
            raise ConfigError(f"cannot listen on {host}:{port}: {e.strerror} (is another server running there?)") from None


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on (0.0.0.0 for every interface).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes (each loads the models).")] = 1,
    config: ConfigOpt = None,
    auth: Annotated[bool, typer.Option(help="Require API keys (--no-auth only for local experiments).")] = True,
    reload_interval: Annotated[float, typer.Option(help="Seconds between checks for newly deployed versions.")] = 1.0,
    routing: Annotated[bool, typer.Option(help="Store low-confidence texts of routed models for labeling.")] = True,
    runtime: Annotated[str, typer.Option(help="Encoder runtime: torch (exact), onnx, or onnx-int8 (fastest; "
                                              "exported once into the workspace cache).")] = "torch",
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Serve the project's deployed models over HTTP (Labelf v2 API and /v1/classify); Ctrl-C stops it.

    \b
    Examples:
      labelf keys create my-app            # prints the key once
      labelf serve --port 8000 --runtime onnx-int8
      curl -H "Authorization: Bearer $KEY" -H "Content-Type: application/json" \\
           -d '{"texts": ["I cannot log in"]}' http://127.0.0.1:8000/v2/models/1/inference
    """
    import uvicorn

    from ..config import load_config
    from ..loop.project import Project, find_config
    from ..service.keys import ApiKeyStore
    from ..service.settings import ENV_PREFIX, RUNTIMES

    if runtime not in RUNTIMES:
        raise ConfigError(f"--runtime must be one of {', '.join(RUNTIMES)}, not {runtime!r}")
    if reload_interval < 0:
        raise ConfigError(f"--reload-interval must be >= 0, got {reload_interval}")
    cfg_path = find_config(config).absolute()
    load_config(cfg_path)  # a bad config fails here, with the file and field named
    with Project.open(cfg_path) as project:
        n_keys = ApiKeyStore(project.ws).count_active()
        n_models = sum(1 for r in project.registry.list() if r.deployed_version is not None)
    _check_port(host, port)
    if auth and n_keys == 0:
        info("warning: no API keys yet, so every request will get 401: run `labelf keys create NAME`")
    os.environ["LABELF_CONFIG"] = str(cfg_path)
    os.environ[ENV_PREFIX + "AUTH"] = "1" if auth else "0"
    os.environ[ENV_PREFIX + "ROUTING"] = "1" if routing else "0"
    os.environ[ENV_PREFIX + "RELOAD_INTERVAL_S"] = str(reload_interval)
    os.environ[ENV_PREFIX + "RUNTIME"] = runtime
    os.environ["LABELF_LOG_LEVEL"] = log_level  # the service's own log (access lines with request ids)
    info(f"serving {n_models} deployed model(s) on http://{host}:{port} (runtime {runtime}; docs: /docs)")
    uvicorn.run("labelf_trainer.service.app:app_from_env", factory=True, host=host, port=port, workers=workers,
                log_level=log_level, access_log=False)
