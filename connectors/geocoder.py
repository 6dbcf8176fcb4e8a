"""Addresses to coordinates, and points back to communes, through addok's batch CSV endpoints.

The national address API or any addok with addok-csv. One CSV per batch (`POST /search/csv/`, the
address columns joined in order; `POST /reverse/csv/`, `lat` and `lon`), cut so that no upload
exceeds the service's size limit nor holds more than `batch_rows` rows; the parts go `parallel` at a
time (addok answers a file row by row in one thread: parts in parallel use the server's other workers),
no more requests leaving per second than its rate limit; 429 and 5xx are retried by the HTTP client.
The national service filters on a `citycode=<column>` field; an addok with addok-csv 1.1 answers
500 to that field, so the filter is dropped for that server and applied after the fact on
`result_citycode` — which the caller does in any case, so a point is never placed in another commune.
"""

from __future__ import annotations

import csv
import io
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from moisson.core.errors import RejectedError, UnavailableError

if TYPE_CHECKING:
    from moisson.core.http import HttpClient

#: The national address API (Base Adresse Nationale).
NATIONAL = "https://api-adresse.data.gouv.fr"
T = TypeVar("T")


class GeocoderConfig(BaseModel):
    """The `geocoder:` setting of a catalog.

    Attributes:
        url: Base URL of the service (the national API by default, or any addok with addok-csv).
        timeout: Seconds one batch may take, upload to last byte.
        max_upload_mb: Largest CSV sent at once (the national service refuses more than 50 MB).
        max_per_second: Requests per second at most (the national service allows 50).
        batch_rows: Rows per request at most.
        parallel: Requests in flight at once.
        send_filters: Send `citycode=<column>` as the national service accepts; turned off for a
            server that refuses it (addok-csv 1.1 answers 500), whatever this says.
    """

    model_config = ConfigDict(extra="forbid")

    url: str = NATIONAL
    timeout: float = Field(120, gt=0)
    max_upload_mb: float = Field(45, gt=0, le=50)
    max_per_second: float = Field(40, gt=0, le=50)
    batch_rows: int = Field(1000, ge=1)
    parallel: int = Field(4, ge=1, le=8)  # at most the HTTP client's connection pool (10)
    send_filters: bool = True


@dataclass(frozen=True)
class Candidate:
    """The geocoder's best answer for one address."""

    label: str
    score: float
    type: str
    id: str
    citycode: str
    lat: float | None
    lon: float | None
    city: str = ""  # after the coordinates: results cached before it was kept still read


@dataclass(frozen=True)
class Place:
    """The address the geocoder finds nearest a point, and its commune."""

    citycode: str
    city: str
    label: str
    distance: float | None


class Geocoder:
    """Batch geocoding against addok's `/search/csv/`, reverse geocoding against `/reverse/csv/`."""

    def __init__(self, config: GeocoderConfig | None = None, *, client: HttpClient | None = None) -> None:
        from moisson.core.http import HttpClient  # requests: only when addresses are sent, not for the catalog

        self.config = config or GeocoderConfig()
        self.client = client or HttpClient(self.config.url, timeout=self.config.timeout, connector="geocoder")
        self.requests = 0
        self._filters = self.config.send_filters
        self._last = 0.0
        self._pace = threading.Lock()

    def geocode(self, addresses: Sequence[str], citycodes: Sequence[str | None] | None = None,
                ) -> list[Candidate | None]:
        """The best candidate of each address (None when the service found nothing), in order.

        Args:
            addresses: One full address per row ("12 rue des Tilleuls 59000 Moisson-sur-Lys").
            citycodes: Expected INSEE code per row, sent as a filter where the service takes it.

        Raises:
            UnavailableError: The service could not be reached or kept failing.
            RejectedError: It answered something that is not its CSV.
        """
        codes = list(citycodes) if citycodes is not None else [None] * len(addresses)
        cuts = self._cuts([len(a.encode()) + len((c or "").encode()) + 8
                           for a, c in zip(addresses, codes, strict=True)])

        def part(cut: tuple[int, int]) -> list[Candidate | None]:
            return self._batch(addresses[cut[0]:cut[1]], codes[cut[0]:cut[1]])

        # The first part goes alone: its answer tells whether the server takes filter columns.
        answers = self._parallel(part, cuts[:1]) + self._parallel(part, cuts[1:])
        return [candidate for candidates in answers for candidate in candidates]

    def reverse(self, points: Sequence[tuple[float, float]]) -> list[Place | None]:
        """The nearest address of each (lat, lon) point and its commune (None when the service found none).

        Raises:
            UnavailableError: The service could not be reached or kept failing.
            RejectedError: It answered something that is not its CSV.
        """
        rows = [f"{lat:.6f};{lon:.6f}\r\n" for lat, lon in points]

        def part(cut: tuple[int, int]) -> list[Place | None]:
            response = self._post("/reverse/csv/", "lat;lon\r\n" + "".join(rows[cut[0]:cut[1]]),
                                  [("delimiter", ";")], ok=())
            return [_place(row) for row in self._rows(response.content.decode("utf-8-sig"), cut[1] - cut[0],
                                                       "result_label")]

        return [place for places in self._parallel(part, self._cuts([len(row) for row in rows])) for place in places]

    def _parallel(self, send: Callable[[tuple[int, int]], list[T]], cuts: list[tuple[int, int]]) -> list[list[T]]:
        """`send` applied to each row range, `parallel` at a time; the answers in order."""
        if len(cuts) <= 1:
            return [send(cut) for cut in cuts]
        with ThreadPoolExecutor(min(self.config.parallel, len(cuts)), thread_name_prefix="geocoder") as pool:
            return list(pool.map(send, cuts))

    def _cuts(self, sizes: Sequence[int]) -> list[tuple[int, int]]:
        """Row ranges of at most `batch_rows` rows whose uploads stay under the size limit (a larger row goes alone)."""
        limit = int(self.config.max_upload_mb * 1_000_000)
        cuts, start, size = [], 0, 0
        for i, row in enumerate(sizes):
            if (size + row > limit or i - start >= self.config.batch_rows) and i > start:
                cuts.append((start, i))
                start, size = i, 0
            size += row
        if start < len(sizes):
            cuts.append((start, len(sizes)))
        return cuts

    def _batch(self, addresses: Sequence[str], codes: Sequence[str | None]) -> list[Candidate | None]:
        with_codes = self._filters and any(codes)
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter=";")
        writer.writerow(["q", "citycode"] if with_codes else ["q"])
        for address, code in zip(addresses, codes, strict=True):
            writer.writerow([address, code or ""] if with_codes else [address])
        fields: list[tuple[str, str]] = [("columns", "q"), ("delimiter", ";")]
        if with_codes:
            fields.append(("citycode", "citycode"))
        # A 500 is only ours to handle when filters went with it; otherwise the client retries it.
        response = self._post("/search/csv/", buffer.getvalue(), fields, ok=(500,) if with_codes else ())
        if with_codes and response.status_code == 500:
            self._filters = False  # addok-csv 1.1 on addok 1.3: filter columns break the endpoint
            return self._batch(addresses, codes)
        return [_candidate(row) for row in self._rows(response.content.decode("utf-8-sig"), len(addresses),
                                                      "result_score")]

    def _post(self, path: str, body: str, fields: list[tuple[str, str]], *, ok: tuple[int, ...]):
        with self._pace:  # parallel parts still leave at most `max_per_second` a second
            wait = self._last + 1 / self.config.max_per_second - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            self._last = time.monotonic()
            self.requests += 1
        response = self.client.request("POST", path, ok=ok, data=fields,
                                       files={"data": ("points.csv", body.encode("utf-8"), "text/csv")})
        if response.status_code >= 400 and response.status_code not in ok:
            raise self.client.error_for(response)
        return response

    def _rows(self, text: str, expected: int, column: str) -> list[dict[str, str]]:
        rows = list(csv.DictReader(io.StringIO(text), delimiter=";"))
        if len(rows) != expected or (rows and column not in rows[0]):
            raise RejectedError(f"le géocodeur {self.client.base_url} a répondu {len(rows)} lignes pour {expected} "
                                "envoyées, ou sans colonnes de résultat : vérifiez que `geocoder.url` désigne un "
                                "addok avec ses points d'accès CSV.", connector="geocoder")
        return rows


def _place(row: dict[str, str]) -> Place | None:
    if not row.get("result_citycode"):
        return None
    distance = row.get("result_distance") or ""
    try:
        return Place(citycode=row["result_citycode"], city=row.get("result_city", ""),
                     label=row.get("result_label", ""), distance=float(distance) if distance else None)
    except ValueError as exc:
        raise UnavailableError(f"le géocodeur a renvoyé un résultat de géocodage inverse illisible ({exc}) ; "
                               "relancez plus tard",
                               connector="geocoder") from exc


def _candidate(row: dict[str, str]) -> Candidate | None:
    if not row.get("result_score") or not row.get("latitude"):
        return None
    try:
        return Candidate(label=row.get("result_label", ""), score=float(row["result_score"]),
                         type=row.get("result_type", ""), id=row.get("result_id", ""),
                         citycode=row.get("result_citycode", ""), city=row.get("result_city", ""),
                         lat=float(row["latitude"]),
                         lon=float(row["longitude"]))
    except ValueError as exc:
        raise UnavailableError(f"le géocodeur a renvoyé un résultat illisible ({exc}) ; relancez plus tard",
                               connector="geocoder") from exc
