"""One HTTP client for every connector: deadlines, retries with backoff, errors from our hierarchy.

Retries 429 (honouring `Retry-After`, seconds or HTTP date), 5xx, timeouts and dropped
connections with exponential backoff and jitter; maps 400/415/422 to `RejectedError`,
401/403 to `ConfigError`, 404/410 to `NotFoundError`, a redirect loop to `RejectedError`.
Every exchange (connect, headers and the whole body) must end within `timeout`: a watchdog
shuts the socket of a peer that dribbles bytes, which a per-read timeout never catches.
Messages show the host only, never a path or query that could hold a token, and quote a
server's body only once scrubbed of the run's secrets.
"""

from __future__ import annotations

import contextlib
import contextvars
import email.utils
import logging
import random
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from moisson.core.errors import (
    ConfigError,
    ConnectorError,
    NotFoundError,
    RateLimitedError,
    RejectedError,
    UnavailableError,
    redact_url,
)
from moisson.core.redact import scrub

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class RedactPaths(logging.Filter):
    """Cut paths and URLs out of urllib3's debug records: an Isogeo CSW URL carries its token in the path."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's arguments (or its message, once already formatted) in place; never drop it."""
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(_redacted(arg) for arg in record.args)
        elif isinstance(record.msg, str):  # formatted earlier (the secret scrubber rewrote it): cut its paths
            message = _REQUEST_PATH.sub(r"\g<1>/…\g<2>", record.msg)
            record.msg = _RETRY_URL.sub(lambda m: f"url='{redact_url(m[1]) if '://' in m[1] else '/…'}'", message)
        return True


#: The path of urllib3's `"GET /path HTTP/1.1"` and `url='/path'` in a message already formatted.
_REQUEST_PATH = re.compile(r'("[A-Z]+ )[^ "]+( HTTP/)')
_RETRY_URL = re.compile(r"url='([^']*)'")


def _redacted(arg: object) -> object:
    if not isinstance(arg, str):
        return arg
    if "://" in arg:
        return redact_url(arg)
    return "/…" if arg.startswith("/") else arg


for _name in ("urllib3.connectionpool", "urllib3.util.retry"):
    logging.getLogger(_name).addFilter(RedactPaths())


class DeadlineError(UnavailableError):
    """An exchange outlived `timeout`: the peer is too slow. Not retried at once (it would be as slow)."""

    retryable = False


class _Deadline:
    """Shuts down the sockets an exchange holds once its time is up (a blocked read then fails at once)."""

    def __init__(self, seconds: float) -> None:
        self._fired = False
        self._end = time.monotonic() + seconds
        self._lock = threading.Lock()
        self._connections: set[Any] = set()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()

    @property
    def expired(self) -> bool:
        """Whether the time is up, even when a busy machine has not run the timer yet (a read timeout can beat it)."""
        return self._fired or time.monotonic() >= self._end

    def watch(self, connection: Any) -> None:
        with self._lock:
            self._connections.add(connection)
            connection.moisson_deadline = self
            if self.expired:
                _shut(connection)

    def release(self, connection: Any) -> None:
        with self._lock:
            self._connections.discard(connection)

    def cancel(self) -> None:
        self._timer.cancel()

    def _expire(self) -> None:
        with self._lock:
            self._fired = True
            for connection in self._connections:
                _shut(connection)


def _shut(connection: Any) -> None:
    sock = getattr(connection, "sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):  # already closed by the peer
            sock.shutdown(socket.SHUT_RDWR)


_EXCHANGE: contextvars.ContextVar[_Deadline | None] = contextvars.ContextVar("moisson_exchange", default=None)


class _Watched:
    """Connection pool mixin: connections taken during an exchange are watched by its deadline."""

    def _get_conn(self, timeout: float | None = None) -> Any:
        connection = super()._get_conn(timeout)  # type: ignore[misc]
        deadline = _EXCHANGE.get()
        if deadline is not None:
            deadline.watch(connection)
        return connection

    def _put_conn(self, conn: Any) -> None:
        deadline = getattr(conn, "moisson_deadline", None)
        if deadline is not None:
            deadline.release(conn)  # back in the pool: no longer this exchange's to shut
        super()._put_conn(conn)  # type: ignore[misc]


class _WatchedHTTPPool(_Watched, HTTPConnectionPool):
    pass


class _WatchedHTTPSPool(_Watched, HTTPSConnectionPool):
    pass


class _DeadlineAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


class HttpClient:
    """A `requests.Session` with moisson's retry and error policy.

    Args:
        base_url: Prefix of relative paths given to `request`.
        headers: Sent with every request (e.g. the API key header).
        timeout: Seconds one exchange may last, from connecting to the body's last byte.
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
        for scheme in ("http://", "https://"):
            self.session.mount(scheme, _DeadlineAdapter())
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
            **kwargs: Passed to `requests.Session.request` (json, data, files, params…). With
                `stream=True` the deadline keeps running while the caller reads the body through
                `iter_body`.

        Raises:
            ConnectorError: A subclass telling retryable from permanent failures.
        """
        url = self.url(path)
        kwargs.setdefault("timeout", self.timeout)
        stream = kwargs.pop("stream", False)
        attempt = 0
        while True:
            try:
                response = self._exchange(method, url, stream, kwargs)
            except DeadlineError as exc:
                exc.dataset_id = dataset_id
                raise
            except requests.TooManyRedirects:
                raise RejectedError(f"{method} {redact_url(url)} redirige en boucle : le serveur renvoie la requête "
                                    "d'adresse en adresse sans fin ; vérifiez l'URL dans le catalogue ou "
                                    "contactez l'administrateur du serveur", dataset_id=dataset_id,
                                    connector=self.connector) from None
            except (requests.ConnectionError, requests.Timeout) as exc:
                error: ConnectorError = UnavailableError(
                    f"{method} {redact_url(url)} a échoué ({type(exc).__name__}) : le serveur est injoignable ou "
                    "trop lent ; moisson réessaiera plus tard", dataset_id=dataset_id, connector=self.connector)
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

    def _exchange(self, method: str, url: str, stream: bool, kwargs: dict[str, Any]) -> requests.Response:
        """One request under a deadline; a streamed body stays under it until read or closed."""
        deadline = _Deadline(self.timeout)
        token = _EXCHANGE.set(deadline)
        try:
            response = self.session.request(method, url, stream=True, **kwargs)
            if not stream:
                _ = response.content
        except (requests.RequestException, OSError):
            if deadline.expired:
                raise self._too_slow(method, url) from None
            deadline.cancel()
            raise
        finally:
            _EXCHANGE.reset(token)
        if not stream:
            deadline.cancel()
            if deadline.expired:  # the body may look whole when the socket was shut at its end
                raise self._too_slow(method, url)
            return response
        response.moisson_deadline = deadline  # type: ignore[attr-defined]
        close = response.close

        def close_and_disarm() -> None:
            deadline.cancel()
            close()

        response.close = close_and_disarm  # type: ignore[method-assign]
        return response

    def iter_body(self, response: requests.Response, chunk_size: int, *,
                  dataset_id: str | None = None) -> Iterator[bytes]:
        """The chunks of a streamed body, under the exchange's deadline (`dataset_id` for error messages).

        Raises:
            DeadlineError: The body was still coming when `timeout` ran out.
            UnavailableError: The connection dropped mid-body.
        """
        deadline: _Deadline | None = getattr(response, "moisson_deadline", None)
        method = response.request.method or "GET"
        try:
            yield from response.iter_content(chunk_size)
        except (requests.RequestException, OSError) as exc:
            if deadline is not None and deadline.expired:
                raise self._too_slow(method, response.url, dataset_id) from None
            raise UnavailableError(f"{method} {redact_url(response.url)} : la réponse a été coupée "
                                   f"({type(exc).__name__}) ; moisson réessaiera plus tard",
                                   dataset_id=dataset_id, connector=self.connector) from None
        finally:
            if deadline is not None:
                deadline.cancel()
        if deadline is not None and deadline.expired:
            raise self._too_slow(method, response.url, dataset_id)

    def _too_slow(self, method: str, url: str, dataset_id: str | None = None) -> DeadlineError:
        where = f" du connecteur {self.connector}" if self.connector else ""
        return DeadlineError(f"{method} {redact_url(url)} n'a pas envoyé toute sa réponse en {self.timeout:g} s : "
                             f"le serveur est trop lent ou bloqué ; s'il n'est que lent, relevez `timeout`{where} "
                             "dans le catalogue", dataset_id=dataset_id, connector=self.connector)

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        """`request` and decode the JSON body (None for 204)."""
        response = self.request(method, path, **kwargs)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise UnavailableError(f"{method} {redact_url(response.url)} a répondu {response.status_code} "
                                   "avec un contenu qui n'est pas du JSON", connector=self.connector) from exc

    def error_for(self, response: requests.Response, *, dataset_id: str | None = None) -> ConnectorError:
        """The error of our hierarchy for an HTTP error response."""
        status = response.status_code
        where = f"{response.request.method} {redact_url(response.url)} → HTTP {status}"
        detail = _detail(response)
        kw = {"dataset_id": dataset_id, "connector": self.connector}
        if status == 429:
            return RateLimitedError(f"{where} : trop de requêtes{detail}", retry_after=retry_after(response), **kw)
        if status >= 500:
            return UnavailableError(f"{where} : erreur du serveur{detail}", **kw)
        if status in (401, 403):
            return ConfigError(f"{where} : identifiants refusés ou non autorisés{detail} ; vérifiez la clé d'API "
                               "et que son compte peut publier pour cette organisation", **kw)
        if status in (404, 410):
            return NotFoundError(f"{where} : introuvable{detail}", **kw)
        return RejectedError(f"{where} : requête refusée{detail}", **kw)


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
    """A short quote of an error body, scrubbed first (servers echo paths, keys and headers back)."""
    try:
        body = response.json()
    except ValueError:
        text = scrub(response.text.strip().replace("\n", " "))
        return f" ({text[:200]})" if text and "<html" not in text.lower() else ""
    if isinstance(body, dict):
        for key in ("errors", "message", "detail", "error"):
            if body.get(key):
                return f" ({key}: {scrub(str(body[key]))[:300]})"
    return f" ({scrub(str(body))[:200]})"
