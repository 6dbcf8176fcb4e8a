"""CSW 2.0.2 protocol: GetCapabilities, GetRecords paging that never loses a record, GetRecordById.

OWSLib builds the OGC filters (`owslib.fes`); requests go through moisson's `HttpClient`
rather than OWSLib's own HTTP, because OWSLib sends GetRecords to the URL a catalog
*advertises* (often internal or token-less), puts the full URL in its errors, and has
no retry, backoff nor size cap. Responses are parsed with entities and network off
(`moisson.connectors.sources.csw.iso19139.parse_xml`).

Paging: advance by the records actually returned, stop on
`nextRecord == 0`, `nextRecord <= start` (a server restarting), no record returned, or a
page limit; a page the server fails on is split in halves down to single records, so
one bad record costs one record, not the harvest.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from lxml import etree
from owslib import fes

from moisson.connectors.sources.csw.iso19139 import NS as ISO_NS
from moisson.connectors.sources.csw.iso19139 import file_identifier, find_records, parse_xml
from moisson.core.errors import ConnectorError, NotFoundError, RejectedError, UnavailableError, redact_url
from moisson.core.http import HttpClient
from moisson.core.notes import Note

CSW = "http://www.opengis.net/cat/csw/2.0.2"
OWS = "http://www.opengis.net/ows"
OGC = "http://www.opengis.net/ogc"
GMD_SCHEMA = ISO_NS["gmd"]
NSMAP = {"csw": CSW, "ogc": OGC, "gmd": GMD_SCHEMA, "ows": OWS, "gml": ISO_NS["gml"],
         "apiso": "http://www.opengis.net/cat/csw/apiso/1.0"}
ElementSet = Literal["brief", "summary", "full"]


@dataclass
class Page:
    """One GetRecords answer.

    Attributes:
        matched: `numberOfRecordsMatched`.
        returned: Records actually present in the answer (the attribute may lie).
        next_record: `nextRecord`, None when absent.
        records: The ISO record elements.
    """

    matched: int
    returned: int
    next_record: int | None
    records: list[etree._Element]


@dataclass
class FailedPosition:
    """A position of the result set whose record could not be read, and why."""

    position: int
    reason: str
    record_id: str | None = None


@dataclass
class Paged:
    """Every record a paging pass collected, with what went wrong.

    Attributes:
        matched: `numberOfRecordsMatched` of the first answer (None when no page answered).
        records: Record elements in server order (duplicates included), kept only without a `consume`.
        failed: Positions the server could not deliver, even one by one.
        notes: Stop reasons and anomalies, for the report.
        requests: GetRecords requests sent.
        received: Record elements received (duplicates included).
        stopped_early: Paging ended on a rule other than reaching the end (loop, page limit).
    """

    matched: int | None = None
    records: list[etree._Element] = field(default_factory=list)
    failed: list[FailedPosition] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    requests: int = 0
    stopped_early: bool = False

    consume: Callable[[list[etree._Element]], None] | None = None
    received: int = 0

    def add(self, records: list[etree._Element]) -> None:
        """Count a batch of records and hand it to `consume`, or keep it when there is none.

        With a consumer nothing is kept: 10,000 full ISO records as lxml trees would take gigabytes.
        """
        self.received += len(records)
        if self.consume is not None:
            self.consume(records)
        else:
            self.records += records

    @property
    def shortfall(self) -> int:
        """Records the server said it matched but did not deliver (failed positions included)."""
        return max(0, (self.matched or 0) - self.received)


class CswClient:
    """Talks CSW 2.0.2 with ISO 19139 output to one catalog.

    Args:
        url: Endpoint; its query string (Isogeo's `?service=CSW&request=GetCapabilities`) is
            stripped of the CSW keys and otherwise kept. Never shown: messages say the host only.
        http: Client for normal requests (retries, backoff).
        probe: Client for the requests that isolate a bad record (few retries: the same
            record fails the same way).
        max_bytes: Largest response accepted.
        max_pages: Paging stops (and says so) after this many pages.
    """

    def __init__(self, url: str, http: HttpClient, probe: HttpClient, *, max_bytes: int = 50_000_000,
                 max_pages: int = 10_000) -> None:
        parts = urlsplit(url)
        self._params = [(k, v) for k, v in parse_qsl(parts.query)
                        if k.lower() not in ("service", "version", "request")]
        self.endpoint = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
        self.where = redact_url(url)
        self.http, self.probe = http, probe
        self.max_bytes, self.max_pages = max_bytes, max_pages

    # --- requests -------------------------------------------------------------------------------
    def capabilities(self) -> etree._Element:
        """GetCapabilities, checked for GetRecords and GetRecordById.

        Raises:
            ConfigError, UnavailableError, RejectedError: Not a usable CSW (message names the host only).
        """
        root = self._get({"service": "CSW", "version": "2.0.2", "request": "GetCapabilities"}, "GetCapabilities")
        operations = {op.get("name") for op in root.iter(f"{{{OWS}}}Operation")}
        missing = {"GetRecords", "GetRecordById"} - operations
        if missing:
            raise RejectedError(f"le catalogue {self.where} n'offre pas {', '.join(sorted(missing))} : ce "
                                "n'est pas un catalogue CSW 2.0.2 que moisson sait moissonner")
        return root

    def hits(self, constraints: Sequence[fes.OgcExpression] = ()) -> int:
        """`numberOfRecordsMatched` for the constraints, without records."""
        return self.get_records(1, 0, "summary", constraints, result_type="hits").matched

    def get_records(self, start: int, size: int, element_set: ElementSet,
                    constraints: Sequence[fes.OgcExpression] = (), *, result_type: str = "results",
                    descending: bool = False, probe: bool = False) -> Page:
        """One GetRecords POST (ISO output, stable sort by identifier).

        Raises:
            RejectedError: Malformed or oversized answer, or an `ows:ExceptionReport` (sent with HTTP 200).
            UnavailableError: The server failed after the client's retries.
        """
        return self._page(self._records_bytes(start, size, element_set, constraints, result_type=result_type,
                                              descending=descending, probe=probe))

    def _records_bytes(self, start: int, size: int, element_set: ElementSet,
                       constraints: Sequence[fes.OgcExpression], *, result_type: str = "results",
                       descending: bool = False, probe: bool = False) -> bytes:
        # Network only, no lxml: safe to run in the prefetch thread.
        body = self._getrecords_body(start, size, element_set, constraints, result_type, descending)
        return self._read("POST", "GetRecords", data=body, headers={"Content-Type": "application/xml"},
                          probe=probe, params=self._params or None)

    def _page(self, data: bytes) -> Page:
        root = self._parse(data, "GetRecords")
        results = root.find(f"{{{CSW}}}SearchResults")
        if results is None:
            raise RejectedError(f"la réponse GetRecords de {self.where} n'a pas de csw:SearchResults")
        records = find_records(results)
        try:
            matched = int(results.get("numberOfRecordsMatched", "0"))
            nxt = results.get("nextRecord")
            next_record = int(nxt) if nxt not in (None, "") else None
        except ValueError as exc:
            raise RejectedError(f"la réponse GetRecords de {self.where} donne un nombre non numérique "
                                f"({exc})") from None
        return Page(matched=matched, returned=len(records), next_record=next_record, records=records)

    def get_record_by_id(self, ids: Sequence[str]) -> list[etree._Element]:
        """Full ISO records for some identifiers (one request; CSW accepts a comma-separated list)."""
        root = self._get({"service": "CSW", "version": "2.0.2", "request": "GetRecordById", "id": ",".join(ids),
                          "elementSetName": "full", "outputSchema": GMD_SCHEMA}, "GetRecordById")
        return find_records(root)

    # --- paging ---------------------------------------------------------------------------------
    def page_all(self, element_set: ElementSet, page_size: int, constraints: Sequence[fes.OgcExpression] = (),
                 *, descending: bool = False,
                 consume: Callable[[list[etree._Element]], None] | None = None) -> Paged:
        """Collect every record matching the constraints, page by page; never raises for one bad page.

        The next page is requested (in a helper thread, network only) before the records of the
        current one are handed to `consume`, so reading records overlaps the server's work.

        Args:
            element_set: brief, summary or full.
            page_size: Records asked per page.
            constraints: OGC filter expressions, AND-ed.
            descending: Sort by identifier descending (the second pass after a shortfall).
            consume: Called with each batch of records, in order, as they arrive.

        Raises:
            ConnectorError: Only when nothing at all can be read (the first page and the count fail).
        """
        out = Paged(consume=consume)
        start = 1
        seen: set[str | None] = set()
        prefetch: tuple[int, Future[bytes]] | None = None
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="csw-prefetch") as pool:
            for pages in itertools.count():
                if pages >= self.max_pages:
                    out.notes.append(Note("csw.max-pages", pages=self.max_pages))
                    out.stopped_early = True
                    break
                out.requests += 1
                try:
                    if prefetch is not None and prefetch[0] == start:
                        page = self._page(prefetch[1].result())
                    else:
                        page = self.get_records(start, page_size, element_set, constraints, descending=descending)
                except (RejectedError, UnavailableError) as exc:
                    if out.matched is None:  # the count is needed to know where the end is
                        out.requests += 1
                        out.matched = self.hits(constraints)
                    out.notes.append(Note("csw.page-failed", start=start, error=exc.message))
                    self._cover(start, min(start + page_size, out.matched + 1), element_set, constraints,
                                descending, out)
                    start += page_size
                    if start > out.matched:
                        break
                    continue
                if out.matched is None:
                    out.matched = page.matched
                elif page.matched != out.matched:
                    out.notes.append(Note("csw.changed", before=out.matched, after=page.matched))
                ids = [file_identifier(r) for r in page.records]
                if page.records and all(i in seen for i in ids):
                    out.notes.append(Note("csw.repeated", start=start))
                    out.stopped_early = True
                    break
                seen.update(ids)
                following = self._next_start(page, start, out)
                if following is not None:
                    prefetch = (following, pool.submit(self._records_bytes, following, page_size, element_set,
                                                       constraints, descending=descending))
                out.add(page.records)
                if following is None:
                    break
                start = following
        return out

    @staticmethod
    def _next_start(page: Page, start: int, out: Paged) -> int | None:
        """Where the next page starts, or None when a stop rule applies."""
        if page.returned == 0:
            if start <= (out.matched or 0):
                out.notes.append(Note("csw.empty-page", start=start, matched=out.matched))
            return None
        if page.next_record == 0:
            return None
        if page.next_record is not None and page.next_record <= start:
            out.notes.append(Note("csw.restarts", next=page.next_record, start=start))
            out.stopped_early = True
            return None
        # Advance by what came back, never by the size asked for nor a nextRecord that jumps ahead.
        following = start + page.returned
        return None if following > (out.matched or 0) else following

    def _cover(self, start: int, end: int, element_set: ElementSet, constraints: Sequence[fes.OgcExpression],
               descending: bool, out: Paged) -> None:
        """Read positions [start, end) with ever smaller requests, recording the positions that fail alone."""
        pos = start
        while pos < end:
            size = end - pos
            out.requests += 1
            try:
                page = self.get_records(pos, size, element_set, constraints, descending=descending, probe=True)
            except (RejectedError, UnavailableError) as exc:
                if size == 1:
                    out.failed.append(FailedPosition(pos, exc.message, self._id_at(pos, constraints, descending)))
                    pos += 1
                    continue
                half = size // 2
                self._cover(pos, pos + half, element_set, constraints, descending, out)
                self._cover(pos + half, end, element_set, constraints, descending, out)
                return
            out.add(page.records[:size])
            if page.returned == 0:
                return
            pos += min(page.returned, size)

    def _id_at(self, position: int, constraints: Sequence[fes.OgcExpression], descending: bool) -> str | None:
        """Identifier of the record at a failing position, from its brief form, when the server gives it."""
        try:
            page = self.get_records(position, 1, "brief", constraints, descending=descending, probe=True)
        except ConnectorError:
            return None
        return file_identifier(page.records[0]) if page.records else None

    def iter_by_id(self, ids: Sequence[str], batch: int) -> Iterator[tuple[list[str], list[etree._Element] | str]]:
        """GetRecordById in batches; yields (ids, records) or (ids, reason) for a batch that failed."""
        for i in range(0, len(ids), batch):
            chunk = list(ids[i:i + batch])
            try:
                yield chunk, self.get_record_by_id(chunk)
            except (RejectedError, UnavailableError, NotFoundError) as exc:
                if len(chunk) == 1:
                    yield chunk, exc.message
                else:
                    yield from self.iter_by_id(chunk, max(1, len(chunk) // 2))

    # --- plumbing -------------------------------------------------------------------------------
    def _getrecords_body(self, start: int, size: int, element_set: ElementSet,
                         constraints: Sequence[fes.OgcExpression], result_type: str, descending: bool) -> bytes:
        root = etree.Element(f"{{{CSW}}}GetRecords", nsmap=NSMAP)  # gmd declared on the root: pycsw needs it
        for key, value in (("service", "CSW"), ("version", "2.0.2"), ("resultType", result_type),
                           ("startPosition", str(start)), ("maxRecords", str(size)),
                           ("outputFormat", "application/xml"), ("outputSchema", GMD_SCHEMA)):
            root.set(key, value)
        query = etree.SubElement(root, f"{{{CSW}}}Query", typeNames="gmd:MD_Metadata")
        etree.SubElement(query, f"{{{CSW}}}ElementSetName").text = element_set
        if constraints:
            constraint = etree.SubElement(query, f"{{{CSW}}}Constraint", version="1.1.0")
            expression = constraints[0] if len(constraints) == 1 else fes.And(list(constraints))
            constraint.append(fes.FilterRequest().setConstraint(expression))
        order = "DESC" if descending else "ASC"
        query.append(fes.SortBy([fes.SortProperty("apiso:Identifier", order)]).toXML())
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8")

    def _get(self, params: dict[str, str], what: str) -> etree._Element:
        return self._send("GET", what, params=self._params + list(params.items()))

    def _send(self, method: str, what: str, **kwargs: Any) -> etree._Element:
        return self._parse(self._read(method, what, **kwargs), what)

    def _read(self, method: str, what: str, *, probe: bool = False, **kwargs: Any) -> bytes:
        return read_capped(self.probe if probe else self.http, method, self.endpoint, max_bytes=self.max_bytes,
                           what=f"la réponse {what} de {self.where}", **kwargs)

    def _parse(self, data: bytes, what: str) -> etree._Element:
        root = parse_xml(data, what=f"la réponse {what} de {self.where}")
        if etree.QName(root).localname == "ExceptionReport":  # CSW servers send it with HTTP 200
            text = " ".join(t.strip() for t in root.itertext() if t.strip())[:300]
            code = next((e.get("exceptionCode") for e in root.iter(f"{{{OWS}}}Exception")), None)
            raise RejectedError(f"la requête {what} a été refusée par {self.where} : "
                                f"{code or 'exception'} {text}".strip())
        return root


def read_capped(http: HttpClient, method: str, url: str, *, max_bytes: int, what: str, **kwargs: Any) -> bytes:
    """Send a request and read its body, refusing more than `max_bytes`.

    Args:
        http: The client (retries, host-only messages).
        method: HTTP method.
        url: Absolute URL.
        max_bytes: Largest body accepted (`max_response_bytes`).
        what: How to name the answer in errors (never with a token).
        **kwargs: Passed to `HttpClient.request`.

    Raises:
        RejectedError: The body is larger than `max_bytes`.
        UnavailableError: The connection dropped mid-body (or a retryable HTTP error).
        DeadlineError: The whole answer did not come within the client's `timeout`.
    """
    response = http.request(method, url, stream=True, **kwargs)
    try:
        chunks, size = [], 0
        for chunk in http.iter_body(response, 65_536):  # under the exchange's deadline
            size += len(chunk)
            if size > max_bytes:
                limit = f"{max_bytes:,}".replace(",", "\u202f")  # French thousands separator
                raise RejectedError(f"{what} dépasse {limit} octets (`max_response_bytes`) : demandez "
                                    "moins (un `page_size` plus petit) ou relevez la limite",
                                    dataset_id=kwargs.get("dataset_id"))
            chunks.append(chunk)
    except UnavailableError as exc:
        exc.dataset_id = exc.dataset_id or kwargs.get("dataset_id")
        raise
    finally:
        response.close()
    return b"".join(chunks)
