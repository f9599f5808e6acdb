"""Opening a label-studio-sdk 2.x client and turning its failures into our one-line connector errors.

Usage::

    client = make_client("http://127.0.0.1:8080", token)
    with translate_errors("http://127.0.0.1:8080", "listing tasks", token_env="LABEL_STUDIO_API_KEY"):
        tasks = list(client.tasks.list(project=3))
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from label_studio_sdk import LabelStudio
from label_studio_sdk.core.api_error import ApiError

from ..base import ConnectorAuthError, ConnectorError, ConnectorNotFoundError, ConnectorUnreachableError

__all__ = ["make_client", "normalize_url", "translate_errors"]

DEFAULT_TIMEOUT_S = 60.0


def normalize_url(url: str) -> str:
    """``http://host:port`` without a trailing slash (the key under which the workspace remembers a server)."""
    url = url.strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise ConnectorError(f"label_studio.url must start with http:// or https://, not {url!r}")
    return url


def make_client(url: str, token: str | None, *, token_env: str = "LABEL_STUDIO_API_KEY",
                timeout: float = DEFAULT_TIMEOUT_S, httpx_client: httpx.Client | None = None,
                max_retries: int = 1) -> LabelStudio:
    """A ``LabelStudio`` client; :class:`ConnectorAuthError` when there is no token."""
    if not token:
        raise ConnectorAuthError(f"no Label Studio token: export {token_env}=<your token> (Label Studio: "
                                 "Account & Settings > Legacy Token; the variable is label_studio.token_env)")
    if httpx_client is None:
        httpx_client = httpx.Client(timeout=timeout, follow_redirects=True)
    return LabelStudio(base_url=normalize_url(url), api_key=token, httpx_client=httpx_client,
                       max_retries=max_retries, timeout=timeout)


def _body_text(body: object, limit: int = 200) -> str:
    if isinstance(body, dict):
        parts = [body.get("detail"), body.get("validation_errors")]
        body = " ".join(str(p) for p in parts if p) or body
    text = " ".join(str(body).split())
    return text[:limit] + ("..." if len(text) > limit else "")


@contextmanager
def translate_errors(url: str, what: str, *, token_env: str = "LABEL_STUDIO_API_KEY") -> Iterator[None]:
    """Re-raise HTTP and SDK failures met while doing ``what`` as :class:`ConnectorError` subclasses."""
    try:
        yield
    except ConnectorError:
        raise
    except ApiError as e:
        code = e.status_code
        if code == 401:
            raise ConnectorAuthError(f"Label Studio at {url} refused the token from ${token_env} (HTTP 401) while "
                                     f"{what}; check the token (Account & Settings > Legacy Token)") from None
        if code == 403:
            raise ConnectorAuthError(f"Label Studio at {url} forbids {what} (HTTP 403): {_body_text(e.body)}") from None
        if code == 404:
            raise ConnectorNotFoundError(f"Label Studio at {url}: not found while {what} (HTTP 404): "
                                         f"{_body_text(e.body)}") from None
        if code is not None and code >= 500:
            raise ConnectorUnreachableError(f"Label Studio at {url} failed while {what} (HTTP {code}); "
                                            "see its log, then retry") from None
        if code is None:  # the SDK raises ApiError(body=...) for a missing key and some transport problems
            raise ConnectorError(f"Label Studio at {url}: {what} failed: {_body_text(e.body)}") from None
        raise ConnectorError(f"Label Studio at {url} rejected the request while {what} (HTTP {code}): "
                             f"{_body_text(e.body)}") from None
    except httpx.TimeoutException:
        raise ConnectorUnreachableError(f"Label Studio at {url} did not answer in time while {what}; "
                                        "is it overloaded or still starting?") from None
    except httpx.TransportError as e:
        reason = type(e).__name__
        raise ConnectorUnreachableError(f"Label Studio at {url} is unreachable ({reason}) while {what}; is it "
                                        "running? (see docs/label-studio.md to start one)") from None
