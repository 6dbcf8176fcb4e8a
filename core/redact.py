"""Scrub the run's secret values out of every text before it leaves moisson.

Every credential moisson resolves (API keys, passwords, tokenised CSW URLs, database URLs) is
remembered here; `scrub` replaces each of them, and their URL-encoded forms, by `***`. Error
messages (`ConnectorError`), quoted server bodies (`core.http`) and every log record (a record
factory, so Prefect's console and API handlers only ever see scrubbed text) go through it: a
server that echoes the request's path, query, headers or body cannot make a secret travel on.
"""

from __future__ import annotations

import logging
import re
import threading
import traceback
from urllib.parse import parse_qsl, quote, quote_plus, unquote, urlsplit

MASK = "***"
#: Shorter values would mask ordinary words; no real credential is that short.
MIN_LENGTH = 4
#: A URL's path segment or query value at least this long may be a token (Isogeo puts two in the path).
TOKEN_PART = 8
#: Header lines a server may echo back; their values are masked even when moisson does not know them.
SENSITIVE_HEADER = re.compile(r"(?i)\b(authorization|x-api-key|api[-_]?key|apikey|cookie|set-cookie|x-auth-token"
                              r"|proxy-authorization)(\s*[:=]\s*)(?:(?:bearer|basic|apikey|token)\s+)?[^\s,;&\"'}]+")

_lock = threading.Lock()
_values: set[str] = set()
_pattern: re.Pattern[str] | None = None


def remember(value: str | None) -> None:
    """Add a secret value; a URL adds its password, its long path segments and query values too."""
    global _pattern
    if not value:
        return
    found = {value, *_url_parts(value)}
    found |= {form for v in found for form in (quote(v, safe=""), quote_plus(v), quote(v, safe="/:"))}
    found = {v for v in found if len(v) >= MIN_LENGTH}
    install()
    with _lock:
        if found <= _values:
            return
        _values.update(found)
        # Longest first, so a URL is masked whole before its segments are.
        _pattern = re.compile("|".join(re.escape(v) for v in sorted(_values, key=len, reverse=True)))


def forget_all() -> None:
    """Forget every value (tests)."""
    global _pattern
    with _lock:
        _values.clear()
        _pattern = None


def scrub(text: str) -> str:
    """`text` with every remembered secret, and every echoed credential header value, masked."""
    if not text:
        return text
    pattern = _pattern
    if pattern is not None:
        text = pattern.sub(MASK, text)
    return SENSITIVE_HEADER.sub(lambda m: f"{m[1]}{m[2]}{MASK}", text)


def _url_parts(value: str) -> set[str]:
    if "://" not in value:
        return set()
    try:
        parts = urlsplit(value)
        password = parts.password
    except ValueError:
        return set()
    found = {unquote(password)} if password else set()
    found |= {unquote(s) for s in parts.path.split("/") if len(unquote(s)) >= TOKEN_PART}
    found |= {v for _, v in parse_qsl(parts.query) if len(v) >= TOKEN_PART}
    if parts.path.strip("/"):  # before its query, a URL that is a bare host names no secret: messages name hosts
        found.add(value.split("?", 1)[0])
    if parts.path or parts.query:
        found.add(f"{parts.path}?{parts.query}" if parts.query else parts.path)
    return {f for f in found if f and f != "/"}


def _scrubbed_record(factory: logging.LogRecordFactory) -> logging.LogRecordFactory:
    def make(*args: object, **kwargs: object) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a bad format string: leave it to logging's own error report
            return record
        scrubbed = scrub(message)
        if scrubbed != message:  # left whole otherwise: later filters (urllib3's path cutter) still see its args
            record.msg, record.args = scrubbed, None
        if record.exc_info and record.exc_info[1] is not None:
            # Formatted now, scrubbed, and cached where every formatter looks first.
            record.exc_text = scrub("".join(traceback.format_exception(*record.exc_info)).rstrip("\n"))
        return record

    make.moisson_scrubs = True  # type: ignore[attr-defined]
    return make


def install() -> None:
    """Scrub every log record at its creation, whichever logger or handler (Prefect's included) takes it."""
    factory = logging.getLogRecordFactory()
    if not getattr(factory, "moisson_scrubs", False):
        logging.setLogRecordFactory(_scrubbed_record(factory))
