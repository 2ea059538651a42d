"""JSON logs with the lead id and correlation id; personal data never leaves the process."""

from __future__ import annotations

import json
import logging
import re
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


_EMAIL = re.compile(r"[\w.%+\-]+@[\w\-]+(?:\.[\w\-]+)+")
_API_KEY = re.compile(r"\b(lr_[0-9a-f]{12})_[\w\-]+")
_BEARER = re.compile(r"(?i)\b(bearer)\s+[^\s\"',;]+")
_SQL_PARAMETERS = re.compile(r"\[parameters: [^\n]*")  # SQLAlchemy quotes a statement's values


def scrub(text: str) -> str:
    """Email addresses and API keys out of free text (an exception's message can quote the
    row or header it refused: the fields above never see those)."""
    text = _SQL_PARAMETERS.sub("[parameters: redacted]", text)
    text = _API_KEY.sub(r"\1_[redacted]", text)
    text = _BEARER.sub(r"\1 [redacted]", text)
    return _EMAIL.sub("[email]", text)


def _clean(value: Any) -> Any:
    """PII fields redacted at any depth; every string scrubbed."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {
            k: "[redacted]" if str(k).lower() in PII_FIELDS else _clean(v) for k, v in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [_clean(v) for v in value]
    return value


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
        elif record.exc_text:
            doc["exc"] = record.exc_text
        return json.dumps(_clean(doc), default=lambda o: scrub(str(o)))


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
