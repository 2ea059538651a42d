"""JSON logs with the lead id and correlation id; personal data never leaves the process."""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)
lead_id: ContextVar[str | None] = ContextVar("lead_id", default=None)

PII_FIELDS = frozenset(
    {
        "email",
        "first_name",
        "last_name",
        "phone",
        "company",
        "job_title",
        "name",
        "authorization",
        "x-api-key",
        "api_key",
        "key",
        "secret",
        "password",
    }
)
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys()) | {
    "message",
    "asctime",
    "taskName",
}


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        cid, lid = correlation_id.get(), lead_id.get()
        if cid:
            doc["correlation_id"] = cid
        if lid:
            doc["lead_id"] = lid
        for k, v in vars(record).items():
            if k in _STANDARD or k.startswith("_"):
                continue
            doc[k] = "[redacted]" if k.lower() in PII_FIELDS else v
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, default=str)


def configure(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiokafka", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def trace_id(traceparent: str | None) -> str | None:
    """The trace id of a W3C traceparent: LeadRelay's correlation id across services."""
    if not traceparent:
        return None
    parts = traceparent.split("-")
    return parts[1] if len(parts) == 4 and len(parts[1]) == 32 else None
