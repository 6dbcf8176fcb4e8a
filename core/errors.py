"""Error hierarchy shared by every layer: tells retryable failures from permanent ones.

Modelled on pygeoapi's provider errors. Messages are written for a data officer and
never carry a secret (API key, tokenised URL): build them with `redact_url`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlsplit

from moisson.core.redact import scrub

T = TypeVar("T")


class MoissonError(Exception):
    """Base of every error moisson raises on purpose."""


class CatalogError(MoissonError):
    """The catalog file is wrong; names the file, the line and the key path.

    Args:
        message: What is wrong and what to do, in plain words.
        file: Path of the catalog file.
        line: 1-based line number, when known.
        path: Key path such as ``datasets[2].source``.
    """

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 path: str | None = None) -> None:
        self.message, self.file, self.line, self.path = message, file, line, path
        where = ":".join(str(p) for p in (file, line) if p is not None)
        prefix = f"{where} : " if where else ""
        at = f"{path} : " if path else ""
        super().__init__(f"{prefix}{at}{message}")


class ConnectorError(MoissonError):
    """A connector failed for one dataset.

    Attributes:
        retryable: Whether trying again later may succeed.
        dataset_id: The dataset concerned, when known.
        connector: The connector kind (``spreadsheet``, ``datagouv``…).
    """

    retryable = False

    def __init__(self, message: str, *, dataset_id: str | None = None,
                 connector: str | None = None) -> None:
        # Scrubbed at the source: the message may quote a server that echoed a token or a key.
        message = scrub(message)
        self.message, self.dataset_id, self.connector = message, dataset_id, connector
        super().__init__(message)

    def __str__(self) -> str:
        parts = [p for p in (self.dataset_id, self.connector) if p]
        return f"[{' · '.join(parts)}] {self.message}" if parts else self.message


class ConfigError(ConnectorError):
    """Bad configuration or credentials (HTTP 401/403 included): fix the catalog or the secret."""


class NotFoundError(ConnectorError):
    """A file, table, record or remote dataset does not exist (HTTP 404/410)."""


class RejectedError(ConnectorError):
    """The input or payload was refused (unreadable file, HTTP 400/415/422, unknown licence)."""


class UnavailableError(ConnectorError):
    """Timeouts, refused connections, HTTP 5xx: worth retrying later."""

    retryable = True


class RateLimitedError(UnavailableError):
    """HTTP 429; ``retry_after`` is the delay the server asked for, in seconds."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: str | None) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


def redact_url(url: str) -> str:
    """Return only the scheme and host of a URL, for messages and logs.

    Isogeo CSW URLs carry their token in the path and API keys may sit in the query,
    so nothing but the host is ever shown.
    """
    parts = urlsplit(url)
    if not parts.scheme or not parts.hostname:
        return "<url>"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}/…"


def tagged(connector: str, call: Callable[[], T]) -> T:
    """Run `call`, naming `connector` in any connector error raised that does not say where it comes from."""
    try:
        return call()
    except ConnectorError as exc:
        exc.connector = exc.connector or connector
        raise
