"""A `multipart/form-data` body of one file, read from disk as it is sent: an upload never holds the file in memory.

`requests` builds a `files=` body whole in memory (the file and a copy of it); this body is handed to it as
`data=` instead, with its length known, so the file goes out block by block under a `Content-Length`. Each
request that prepares it (a retry, a second attempt) reads it again from the start.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import IO

#: Bytes read from disk at a time.
BLOCK_BYTES = 1 << 20


class MultipartFile:
    """The body of a form with one file field.

    Args:
        path: The file to send.
        field: The form field's name.
        filename: The file name the form gives (ASCII: moisson's dataset ids and extensions).
        content_type: The file's media type.
    """

    def __init__(self, path: Path, field: str, filename: str, content_type: str) -> None:
        boundary = uuid.uuid4().hex
        self.content_type = f"multipart/form-data; boundary={boundary}"
        self.path = path
        self._parts = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n".encode(),
            f"\r\n--{boundary}--\r\n".encode())
        self._size = len(self._parts[0]) + path.stat().st_size + len(self._parts[1])
        self._handle: IO[bytes] | None = None
        self._at = 0  # 0: the head, 1: the file, 2: the tail, 3: the end

    @property
    def headers(self) -> dict[str, str]:
        """The request headers that go with the body."""
        return {"Content-Type": self.content_type}

    def __len__(self) -> int:
        # requests asks the length when it prepares a request: the place to start over for a resent one.
        self._rewind()
        return self._size

    def _rewind(self) -> None:
        self.close()
        self._at = 0

    def read(self, size: int = -1) -> bytes:
        """The next bytes of the body (up to `size`, or `BLOCK_BYTES` when unbounded), b"" at its end."""
        limit = size if size and size > 0 else BLOCK_BYTES
        while self._at < 3:
            if self._at == 1:
                if self._handle is None:
                    self._handle = self.path.open("rb")
                if block := self._handle.read(limit):
                    return block
                self.close()
                self._at = 2
                continue
            part = self._parts[self._at // 2]
            self._at += 1
            return part
        return b""

    def __iter__(self) -> Iterator[bytes]:
        while block := self.read(BLOCK_BYTES):
            yield block

    def close(self) -> None:
        """Close the file (the body can still be read again from the start)."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def __enter__(self) -> MultipartFile:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()
