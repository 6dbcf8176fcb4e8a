"""One HTTP client for every connector: timeouts, retries with backoff, errors from our hierarchy.

Retries 429 (honouring `Retry-After`, seconds or HTTP date), 5xx, timeouts and dropped
connections with exponential backoff and jitter; maps 400/415/422 to `RejectedError`,
401/403 to `ConfigError`, 404/410 to `NotFoundError`. Messages show the host only, never
a path or query that could hold a token.
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
from collections.abc import Callable, Mapping
from typing import Any

import requests

from moisson.core.errors import (
    ConfigError,
    ConnectorError,
    NotFoundError,
    RateLimitedError,
    RejectedError,
    UnavailableError,
    redact_url,
)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class RedactPaths(logging.Filter):
    """Cut paths and URLs out of urllib3's debug records: an Isogeo CSW URL carries its token in the path."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's arguments in place; never drop the record."""
        if isinstance(record.args, tuple):
            record.args = tuple(_redacted(arg) for arg in record.args)
        return True


def _redacted(arg: object) -> object:
    if not isinstance(arg, str):
        return arg
    if "://" in arg:
        return redact_url(arg)
    return "/…" if arg.startswith("/") else arg


for _name in ("urllib3.connectionpool", "urllib3.util.retry"):
    logging.getLogger(_name).addFilter(RedactPaths())


class HttpClient:
    """A `requests.Session` with moisson's retry and error policy.

    Args:
        base_url: Prefix of relative paths given to `request`.
        headers: Sent with every request (e.g. the API key header).
        timeout: Seconds to connect and to wait for each read.
        retries: Further attempts after a retryable failure.
        backoff: First delay in seconds; doubled at each attempt, with jitter.
        max_delay: Cap of one delay, including a server's `Retry-After`.
        connector: Connector kind, for error messages.
        sleep: Replaced in tests to avoid waiting.
    """

    def __init__(self, base_url: str = "", *, headers: Mapping[str, str] | None = None, timeout: float = 60,
                 retries: int = 4, backoff: float = 1.0, max_delay: float = 120.0, connector: str | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        self.session.headers.update(headers or {})
        self.timeout, self.retries, self.backoff, self.max_delay = timeout, retries, backoff, max_delay
        self.connector, self.sleep = connector, sleep

    def url(self, path: str) -> str:
        """Absolute URL of `path` (returned unchanged when already absolute)."""
        return path if path.startswith(("http://", "https://")) else f"{self.base_url}/{path.lstrip('/')}"

    def request(self, method: str, path: str, *, ok: tuple[int, ...] = (), dataset_id: str | None = None,
                retry_on: Callable[[requests.Response], bool] | None = None, **kwargs: Any) -> requests.Response:
        """Send a request, retrying what may pass later.

        Args:
            method: HTTP method.
            path: Path relative to `base_url`, or an absolute URL.
            ok: Error statuses the caller handles itself (returned instead of raised).
            dataset_id: For error messages.
            retry_on: Extra condition on a response to retry it (e.g. a "busy" 400).
            **kwargs: Passed to `requests.Session.request` (json, data, files, params…).

        Raises:
            ConnectorError: A subclass telling retryable from permanent failures.
        """
        url = self.url(path)
        kwargs.setdefault("timeout", self.timeout)
        attempt = 0
        while True:
            try:
                response = self.session.request(method, url, **kwargs)
            except (requests.ConnectionError, requests.Timeout) as exc:
                error: ConnectorError = UnavailableError(
                    f"{method} {redact_url(url)} failed: {type(exc).__name__}; the server is unreachable or slow, "
                    "moisson will retry later", dataset_id=dataset_id, connector=self.connector)
                delay = None
            else:
                busy = retry_on is not None and retry_on(response)
                if (response.status_code < 400 or response.status_code in ok) and not busy:
                    return response
                error = self.error_for(response, dataset_id=dataset_id)
                if busy:
                    error = UnavailableError(error.message, dataset_id=dataset_id, connector=self.connector)
                delay = getattr(error, "retry_after", None)
            if not error.retryable or attempt >= self.retries:
                raise error
            attempt += 1
            wait = delay if delay is not None else self.backoff * 2 ** (attempt - 1) * (1 + random.random() / 2)
            self.sleep(min(wait, self.max_delay))

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        """`request` and decode the JSON body (None for 204)."""
        response = self.request(method, path, **kwargs)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise UnavailableError(f"{method} {redact_url(response.url)} answered {response.status_code} "
                                   "with a body that is not JSON", connector=self.connector) from exc

    def error_for(self, response: requests.Response, *, dataset_id: str | None = None) -> ConnectorError:
        """The error of our hierarchy for an HTTP error response."""
        status = response.status_code
        where = f"{response.request.method} {redact_url(response.url)} → HTTP {status}"
        detail = _detail(response)
        kw = {"dataset_id": dataset_id, "connector": self.connector}
        if status == 429:
            return RateLimitedError(f"{where}: too many requests{detail}", retry_after=retry_after(response), **kw)
        if status >= 500:
            return UnavailableError(f"{where}: server error{detail}", **kw)
        if status in (401, 403):
            return ConfigError(f"{where}: credentials refused or not allowed{detail}; check the API key "
                               "and that its account may publish for this organisation", **kw)
        if status in (404, 410):
            return NotFoundError(f"{where}: not found{detail}", **kw)
        return RejectedError(f"{where}: request refused{detail}", **kw)


def retry_after(response: requests.Response) -> float | None:
    """Seconds asked by `Retry-After` (delta or HTTP date), if any."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value)
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


def _detail(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip().replace("\n", " ")
        return f" ({text[:200]})" if text and "<html" not in text.lower() else ""
    if isinstance(body, dict):
        for key in ("errors", "message", "detail", "error"):
            if body.get(key):
                return f" ({key}: {body[key]})"
    return f" ({str(body)[:200]})"
