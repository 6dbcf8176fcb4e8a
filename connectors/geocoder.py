"""Addresses to coordinates through addok's batch CSV endpoint: the national address API, or any addok.

One CSV per batch (`POST /search/csv/`, the address columns joined in order), cut so that no
upload exceeds the service's size limit and no more requests leave per second than its rate
limit; 429 and 5xx are retried by the HTTP client. The national service filters on a
`citycode=<column>` field; an addok with addok-csv 1.1 answers 500 to that field, so the
filter is dropped for that server and applied after the fact on `result_citycode` — which the
caller does in any case, so a point is never placed in another commune.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from moisson.core.errors import RejectedError, UnavailableError
from moisson.core.http import HttpClient

#: The national address API (Base Adresse Nationale).
NATIONAL = "https://api-adresse.data.gouv.fr"


class GeocoderConfig(BaseModel):
    """The `geocoder:` setting of a catalog.

    Attributes:
        url: Base URL of the service (the national API by default, or any addok with addok-csv).
        timeout: Seconds one batch may take, upload to last byte.
        max_upload_mb: Largest CSV sent at once (the national service refuses more than 50 MB).
        max_per_second: Requests per second at most (the national service allows 50).
        send_filters: Send `citycode=<column>` as the national service accepts; turned off for a
            server that refuses it (addok-csv 1.1 answers 500), whatever this says.
    """

    model_config = ConfigDict(extra="forbid")

    url: str = NATIONAL
    timeout: float = Field(120, gt=0)
    max_upload_mb: float = Field(45, gt=0, le=50)
    max_per_second: float = Field(40, gt=0, le=50)
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


class Geocoder:
    """Batch geocoding against addok's `/search/csv/`."""

    def __init__(self, config: GeocoderConfig | None = None, *, client: HttpClient | None = None) -> None:
        self.config = config or GeocoderConfig()
        self.client = client or HttpClient(self.config.url, timeout=self.config.timeout, connector="geocoder")
        self.requests = 0
        self._filters = self.config.send_filters
        self._last = 0.0

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
        found: list[Candidate | None] = []
        for start, stop in self._batches(addresses, codes):
            found += self._batch(addresses[start:stop], codes[start:stop])
        return found

    def _batches(self, addresses: Sequence[str], codes: Sequence[str | None]) -> list[tuple[int, int]]:
        limit = int(self.config.max_upload_mb * 1_000_000)
        cuts, start, size = [], 0, 0
        for i, (address, code) in enumerate(zip(addresses, codes, strict=True)):
            row = len(address.encode()) + len((code or "").encode()) + 8
            if size + row > limit and i > start:
                cuts.append((start, i))
                start, size = i, 0
            size += row
        if start < len(addresses):
            cuts.append((start, len(addresses)))
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
        response = self._post(buffer.getvalue(), fields)
        if with_codes and response.status_code == 500:
            self._filters = False  # addok-csv 1.1 on addok 1.3: filter columns break the endpoint
            return self._batch(addresses, codes)
        if response.status_code >= 400:
            raise self.client.error_for(response)
        return self._read(response.content.decode("utf-8-sig"), len(addresses))

    def _post(self, body: str, fields: list[tuple[str, str]]):
        wait = self._last + 1 / self.config.max_per_second - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        self._last = time.monotonic()
        self.requests += 1
        return self.client.request("POST", "/search/csv/", ok=(500,), data=fields,
                                   files={"data": ("adresses.csv", body.encode("utf-8"), "text/csv")})

    def _read(self, text: str, expected: int) -> list[Candidate | None]:
        rows = list(csv.DictReader(io.StringIO(text), delimiter=";"))
        if len(rows) != expected or (rows and "result_score" not in rows[0]):
            raise RejectedError(f"the geocoder {self.client.base_url} answered {len(rows)} rows for {expected} "
                                "addresses, or no result columns: is `geocoder.url` an addok with its CSV "
                                "endpoint?", connector="geocoder")
        return [_candidate(row) for row in rows]


def _candidate(row: dict[str, str]) -> Candidate | None:
    if not row.get("result_score") or not row.get("latitude"):
        return None
    try:
        return Candidate(label=row.get("result_label", ""), score=float(row["result_score"]),
                         type=row.get("result_type", ""), id=row.get("result_id", ""),
                         citycode=row.get("result_citycode", ""), lat=float(row["latitude"]),
                         lon=float(row["longitude"]))
    except ValueError as exc:
        raise UnavailableError(f"the geocoder sent an unreadable result ({exc}); retry later",
                               connector="geocoder") from exc
