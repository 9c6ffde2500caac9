"""Keep secrets out of the service's log lines: API keys and passwords in database URLs are replaced by ``***``.

uvicorn logs every WebSocket handshake with its query string (``"WebSocket /ws/metrics?api_key=ccm_…"
[accepted]``), and a URL with a password can reach a message through an error. :func:`install` puts
:class:`SecretFilter` on the loggers that write such lines; it rewrites the formatted message of each record.
"""

from __future__ import annotations

import logging
import re

from ccm.store.keys import KEY_PREFIX, SECRET_CHARS

REDACTED = "***"
_PATTERNS = (
    (re.compile(r"(?i)(api[_-]?key=)[^&\s\"']+"), r"\1" + REDACTED),  # a key in a query string, any shape
    (re.compile(re.escape(KEY_PREFIX) + r"[A-Za-z0-9_-]{" + str(SECRET_CHARS) + "}"), REDACTED),  # a ccm key
    (re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://[^:/@\s]+:)[^@\s/]+(@)"), r"\1" + REDACTED + r"\2"),  # user:PW@
)

#: Loggers whose records may carry a request line or a store URL (their handlers get the filter too).
LOGGERS = ("", "uvicorn", "uvicorn.error", "uvicorn.access", "ccm", "sqlalchemy", "alembic")


def redact(text: str) -> str:
    """``text`` with API keys and URL passwords replaced by ``***``."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class SecretFilter(logging.Filter):
    """Rewrites a record's message (and its formatted exception) without secrets; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


_FILTER = SecretFilter()


def install() -> None:
    """Add the filter to :data:`LOGGERS`, their handlers and Python's last-resort handler (idempotent).

    A logger's filters see only the records logged on it, a handler's every record it writes (propagated ones
    too): both are covered. Call it after uvicorn configured its logging (the app's lifespan does).
    """
    loggers = [logging.getLogger(name) for name in LOGGERS]
    targets: list[logging.Filterer] = [*loggers, *(h for lg in loggers for h in lg.handlers)]
    if logging.lastResort is not None:
        targets.append(logging.lastResort)
    for target in targets:
        if _FILTER not in target.filters:
            target.addFilter(_FILTER)
