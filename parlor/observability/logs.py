"""Structured logs (structlog over the standard library, so every `logging` call is rendered the same):
JSON lines in distributed mode, a human console format in embedded mode. The request id, trace id,
user and thread are bound in contextvars by the request middleware and land on every line logged
during the request -- background tasks it started included (asyncio copies the context at creation).

Secrets never reach a line: API keys (`pk-...`, `sk-...`), bearer tokens and the configured secret
values are masked by the last processor before rendering. Message content goes only to the
`parlor.content` logger, which is off unless PARLOR_LOG_CONTENT=true (a debugging aid)."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any, Literal, TextIO

import orjson
import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

CONTENT_LOGGER = "parlor.content"
_KEYS = re.compile(r"\b(pk|sk|sk-proj|sk-ant)-[A-Za-z0-9_\-]{8,}")
_BEARER = re.compile(r"(?i)\b(bearer)\s+[^\s\"',;]+")
MASK = "[redacted]"


class Redactor:
    """A structlog processor that masks API keys, bearer tokens and known secrets in every string value."""

    def __init__(self, secrets: Iterable[str] = ()):
        self._secrets = sorted({s for s in secrets if s and len(s) >= 6}, key=len, reverse=True)

    def scrub(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        if "-" in text:
            text = _KEYS.sub(lambda m: f"{m.group(1)}-{MASK}", text)
        if "earer" in text or "EARER" in text:
            text = _BEARER.sub(lambda m: f"{m.group(1)} {MASK}", text)
        return text

    def __call__(self, _: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
        for key, value in event_dict.items():
            if isinstance(value, str):
                event_dict[key] = self.scrub(value)
        return event_dict


def _json(event_dict: MutableMapping[str, Any], **_: Any) -> str:
    return orjson.dumps(event_dict, default=str).decode()


def configure_logging(level: str = "info", fmt: Literal["json", "console"] = "console",
                      secrets: Iterable[str] = (), log_content: bool = False, stream: TextIO | None = None) -> None:
    """Routes every log record (structlog's and the standard library's) through one rendering chain."""
    redact = Redactor(secrets)
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Processor
    if fmt == "json":
        tail: list[Processor] = [structlog.processors.format_exc_info, redact]
        renderer = structlog.processors.JSONRenderer(serializer=_json)
    else:
        tail = [redact]
        renderer = structlog.dev.ConsoleRenderer(colors=(stream or sys.stderr).isatty())
    structlog.configure(
        processors=[*shared, structlog.stdlib.PositionalArgumentsFormatter(),
                    structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *tail, renderer],
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    # A level, not `.disabled`: uvicorn's dictConfig re-enables every existing logger it does not name.
    logging.getLogger(CONTENT_LOGGER).setLevel(logging.DEBUG if log_content else logging.CRITICAL + 1)
    logging.getLogger("httpx").setLevel(max(root.level, logging.WARNING))  # a line per upstream call: noise
    for name in ("uvicorn", "uvicorn.error"):  # one format for the server's own lines too
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True

