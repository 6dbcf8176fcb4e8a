"""Uploads stream the file from disk: the body `requests` sends is read block by block, never held whole."""

from __future__ import annotations

import email.parser
import hashlib
import http.server
import threading
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from moisson.connectors.multipart import MultipartFile

SIZE = 40 << 20


class _Counting(http.server.BaseHTTPRequestHandler):
    """Reads each request's body in pieces and answers its size and sha1."""

    def do_POST(self) -> None:
        left, digest = int(self.headers["Content-Length"]), hashlib.sha1()
        while left:
            piece = self.rfile.read(min(left, 1 << 16))
            digest.update(piece)
            left -= len(piece)
        answer = digest.hexdigest().encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Counting)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/upload"
    httpd.shutdown()


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("envoi") / "jeu.csv"
    with path.open("wb") as out:
        for i in range(SIZE >> 20):
            out.write((f"{i};" + "x" * 1021 + "\n").encode() * 1024)
    return path


def peak_while(send) -> tuple[int, str]:
    """Peak of Python allocations (the bytes a body is built of) while `send()` runs, and its answer."""
    tracemalloc.start()
    try:
        answer = send()
        return tracemalloc.get_traced_memory()[1], answer
    finally:
        tracemalloc.stop()


def test_the_body_is_the_form_requests_would_send(big: Path, tmp_path: Path) -> None:
    small = tmp_path / "petit.csv"
    small.write_bytes(b"nom,montant\r\n\"A, B\",12\n")
    body = MultipartFile(small, "file", "petit.csv", "text/csv")
    sent = b"".join(body)
    message = email.parser.BytesParser().parsebytes(b"Content-Type: " + body.content_type.encode() + b"\r\n\r\n" + sent)
    (part,) = message.get_payload()
    assert part.get_filename() == "petit.csv" and part.get_content_type() == "text/csv"
    assert part.get_param("name", header="content-disposition") == "file"
    assert part.get_payload(decode=True) == small.read_bytes()
    assert len(body) == len(sent), "the announced length is the bytes sent"
    assert b"".join(body) == sent, "asked its length again (a retried request), it starts over"


def test_an_upload_holds_a_block_not_the_file(big: Path, server: str) -> None:
    expected = hashlib.sha1()
    with MultipartFile(big, "file", big.name, "text/csv") as body:
        for block in body:
            expected.update(block)
        peak, answer = peak_while(lambda: requests.post(server, data=body, headers=body.headers,
                                                        timeout=60).content.decode())
    assert answer == expected.hexdigest()
    assert peak < 4 << 20, f"{peak / 2**20:.0f} MiB held while sending {SIZE >> 20} MiB"
    # The control: the same file as `files=`, which requests encodes whole in memory.
    with big.open("rb") as handle:
        peak, _ = peak_while(lambda: requests.post(server, files={"file": (big.name, handle, "text/csv")},
                                                   timeout=60).content.decode())
    assert peak > SIZE, "the control did not hold the file: the measure does not see the body"
