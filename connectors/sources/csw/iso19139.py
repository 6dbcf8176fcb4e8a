"""ISO 19139 / INSPIRE metadata records → `DatasetMetadata`, by direct XPath (no XSLT chain).

Tolerant by design: every field may be missing, written as `gco:CharacterString` or
`gmx:Anchor`, or multilingual (`PT_FreeText`, French preferred); GML 3.1 and 3.2 both
occur. A field that cannot be read becomes empty and a warning says why; nothing here
raises on a well-formed record. XML is parsed with entities, DTDs and network access
off, so an XXE or "billion laughs" payload cannot expand.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from lxml import etree
from pydantic import ValidationError

from moisson.core.errors import RejectedError
from moisson.core.metadata import Contact, DatasetMetadata, Spatial, Temporal
from moisson.core.notes import Note

NS = {
    "gmd": "http://www.isotc211.org/2005/gmd",
    "gco": "http://www.isotc211.org/2005/gco",
    "gmx": "http://www.isotc211.org/2005/gmx",
    "gmi": "http://www.isotc211.org/2005/gmi",
    "gts": "http://www.isotc211.org/2005/gts",
    "srv": "http://www.isotc211.org/2005/srv",
    "gml": "http://www.opengis.net/gml",
    "gml32": "http://www.opengis.net/gml/3.2",
    "xlink": "http://www.w3.org/1999/xlink",
    "geonet": "http://www.fao.org/geonetwork",
}
GMD = NS["gmd"]
#: Root elements that hold an ISO record (GeoNetwork's Swiss profile included); never hard-coded elsewhere.
ROOT_NAMES = frozenset({"MD_Metadata", "MI_Metadata", "CHE_MD_Metadata"})

#: `MD_MaintenanceFrequencyCode` → data.gouv.fr frequency id (SEMIC mapping, then udata's EU table).
ISO_FREQUENCIES: dict[str, str] = {
    "continual": "severalTimesADay", "daily": "daily", "weekly": "weekly", "fortnightly": "biweekly",
    "semimonthly": "semimonthly", "monthly": "monthly", "quarterly": "quarterly", "biannually": "semiannual",
    "annually": "annual", "biennially": "biennial", "asNeeded": "punctual", "irregular": "irregular",
    "notPlanned": "notPlanned", "unknown": "unknown", "periodic": "other",
}

#: ISO 8601 durations (normalised, see `_duration_key`) → data.gouv.fr ids (Isogeo's table + udata ≥ 12).
DURATION_FREQUENCIES: dict[str, str] = {
    "PT1M": "oneMinute", "PT5M": "fiveMinutes", "PT10M": "tenMinutes", "PT15M": "fifteenMinutes",
    "PT30M": "thirtyMinutes", "PT1H": "hourly", "PT2H": "bihourly", "PT3H": "trihourly",
    "PT6H": "severalTimesADay", "PT12H": "semidaily", "P1D": "daily", "P3D": "semiweekly", "P7D": "weekly",
    "P14D": "biweekly", "P1M": "monthly", "P2M": "bimonthly", "P3M": "quarterly", "P4M": "threeTimesAYear",
    "P6M": "semiannual", "P1Y": "annual", "P2Y": "biennial", "P3Y": "triennial", "P4Y": "quadrennial",
    "P5Y": "quinquennial", "P10Y": "decennial", "P20Y": "bidecennial", "P30Y": "tridecennial",
}

#: Licence detection rules, URLs before words: (pattern, data.gouv.fr id).
LICENSE_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple((re.compile(p, re.IGNORECASE), lid) for p, lid in (
    (r"etalab\.gouv\.fr/licence-ouverte[^ ]*(v1|1\.0)", "fr-lo"),
    (r"etalab\.gouv\.fr/(licence-ouverte|lo)|etalab-2\.0", "lov2"),
    (r"opendatacommons\.org/licenses/odbl", "odc-odbl"),
    (r"creativecommons\.org/licenses/by-sa/", "cc-by-sa"),
    (r"creativecommons\.org/licenses/by/", "cc-by"),
    (r"creativecommons\.org/publicdomain/zero", "cc-zero"),
    (r"creativecommons\.org/publicdomain/mark", "other-pd"),
    (r"licence ouverte[^.;]*(v(ersion)?\s*1(\.0)?\b)", "fr-lo"),
    (r"licence ouverte|open licen[cs]e|\betalab\b", "lov2"),
    (r"\bodbl\b|open database licen[cs]e", "odc-odbl"),
    (r"\bcc[ -]?by[ -]?sa\b", "cc-by-sa"),
    (r"\bcc[ -]?by\b", "cc-by"),
    (r"\bcc0\b|\bcc[ -]zero\b", "cc-zero"),
))

#: Words every licence rule needs: a substring test skips the long, licence-free disclaimers most records carry.
_LICENSE_HINTS = ("licen", "etalab", "odbl", "commons", "cc-", "cc ", "ccby", "cc0")

_PLAIN_TAGS = frozenset({f"{{{NS['gco']}}}CharacterString", f"{{{NS['gmx']}}}Anchor", f"{{{NS['gco']}}}LocalName"})
_FREE_TEXT = f"{{{GMD}}}PT_FreeText"

ResourceKind = Literal["wfs", "api", "download", "atom", "page", "other"]
_DATA_EXTENSIONS = (".csv", ".xlsx", ".xls", ".ods", ".json", ".geojson", ".zip")
_FRENCH = {"fre", "fra", "fr", "french", "français", "francais"}
_LANG2 = {"fre": "fr", "fra": "fr", "eng": "en", "ger": "de", "deu": "de", "spa": "es", "ita": "it", "dut": "nl",
          "nld": "nl"}


@dataclass(frozen=True)
class OnlineResource:
    """A link of the record's distribution, classified by what moisson can do with it.

    Attributes:
        url: The linkage.
        protocol: As written (`OGC:WFS`, `WWW:DOWNLOAD-1.0-http--download`, a MIME type…).
        name: Layer name for OGC services, file name otherwise.
        description: Free text of the record.
        function: `CI_OnLineFunctionCode` (download, information…).
        kind: wfs, api (WMS/WMTS/REST), download, atom, page or other.
    """

    url: str
    protocol: str | None = None
    name: str | None = None
    description: str | None = None
    function: str | None = None
    kind: ResourceKind = "other"


@dataclass
class IsoRecord:
    """One parsed record.

    Attributes:
        identifier: `gmd:fileIdentifier` (the key of the record in its catalog).
        aliases: Citation identifiers (`codeSpace:code` or code), another key for the same resource.
        datestamp: `gmd:dateStamp` as written.
        scope: `hierarchyLevel` (dataset, series, service…), `dataset` when absent.
        metadata: What a portal shows.
        resources: Distribution links, one per layer.
        license_evidence: Where the licence was found (or what was looked at when none was).
        operates_on: For service records, the identifiers of the datasets served.
        warnings: What could not be read, for the data officer.
    """

    identifier: str | None
    aliases: list[str] = field(default_factory=list)
    datestamp: str | None = None
    scope: str = "dataset"
    metadata: DatasetMetadata = field(default_factory=DatasetMetadata)
    resources: list[OnlineResource] = field(default_factory=list)
    license_evidence: str = ""
    operates_on: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def is_service(self) -> bool:
        """True for a service record (WMS, WFS… description), not a dataset."""
        return self.scope == "service"


def safe_parser(*, recover: bool = False) -> etree.XMLParser:
    """An lxml parser with entity expansion, DTD loading and network access off."""
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                           huge_tree=False, remove_blank_text=True, recover=recover)


def parse_xml(data: bytes, *, what: str) -> etree._Element:
    """Parse untrusted XML safely.

    Args:
        data: The document.
        what: How to name it in an error (never a URL with a token).

    Raises:
        RejectedError: Not well-formed XML, or it declares entities (XXE, billion laughs).
    """
    try:
        root = etree.fromstring(data, parser=safe_parser())
    except etree.XMLSyntaxError as exc:
        raise RejectedError(f"{what} n'est pas du XML bien formé ({exc.msg}, ligne {exc.lineno})") from None
    doctype = root.getroottree().docinfo.internalDTD
    if doctype is not None and any(True for _ in doctype.iterentities()):
        raise RejectedError(f"{what} déclare des entités XML, refusées par sécurité (XXE, expansion d'entités)")
    return root


def find_records(root: etree._Element) -> list[etree._Element]:
    """The ISO records inside a CSW response (or the root itself when it is one)."""
    if etree.QName(root).localname in ROOT_NAMES:
        return [root]
    return [el for el in root.iter(*(f"{{*}}{name}" for name in ROOT_NAMES))
            if etree.QName(el.getparent()).localname not in ROOT_NAMES]


def record_hash(record: etree._Element) -> str:
    """sha256 of the record as parsed (blank text removed), without GeoNetwork's volatile `geonet:info`.

    Plain serialisation rather than C14N: 4× faster, and a server that reorders attributes only
    costs one needless re-fetch (publication is idempotent), never a missed change.
    """
    if _xp(".//geonet:info")(record):  # copy only when there is something to strip
        record = etree.fromstring(etree.tostring(record), parser=safe_parser())
        for info in _xp(".//geonet:info")(record):
            info.getparent().remove(info)
    return hashlib.sha256(etree.tostring(record)).hexdigest()


def file_identifier(record: etree._Element) -> str | None:
    """`gmd:fileIdentifier`, from `gco:CharacterString` or `gmx:Anchor`."""
    return _Reader(record).text(_one(record, "gmd:fileIdentifier")) or None


def datestamp(record: etree._Element) -> str | None:
    """`gmd:dateStamp` as written (date or date-time)."""
    return _first_text(record, "gmd:dateStamp/*")


def parse_record(record: etree._Element, *, today: dt.date | None = None) -> IsoRecord:
    """Read an ISO 19139 record into an `IsoRecord`; missing fields stay empty, never raise.

    Args:
        record: The `MD_Metadata` (or `MI_Metadata`, `CHE_MD_Metadata`) element.
        today: Dates after this are refused as future (default: today, UTC).
    """
    return _Reader(record, today=today or dt.datetime.now(dt.UTC).date()).read()


def frequency_from_code(code: str | None) -> str | None:
    """data.gouv.fr id of an ISO `MD_MaintenanceFrequencyCode` value, None when unknown."""
    return ISO_FREQUENCIES.get(code or "")


def frequency_from_duration(value: str | None) -> str | None:
    """data.gouv.fr id of an ISO 8601 duration (`P1M`, `P0Y0M7DT0H0M0S`…).

    Returns:
        The id; `other` for a valid duration with no equivalent; None when not a duration.
    """
    key = _duration_key(value or "")
    if key is None:
        return None
    return DURATION_FREQUENCIES.get(key, "other")


def detect_license(texts: list[str]) -> tuple[str | None, str]:
    """Find a licence in use-constraint texts and anchor hrefs, in order.

    Returns:
        The data.gouv.fr id (None when nothing matches) and the evidence: the text that matched,
        or a summary of what was read.
    """
    for text in texts:
        lowered = text.lower()
        if not any(hint in lowered for hint in _LICENSE_HINTS):
            continue
        for pattern, license_id in LICENSE_RULES:
            if pattern.search(text):
                return license_id, Note("iso.licence-from", license=license_id, text=_shorten(text))
    if not texts:
        return None, Note("iso.no-constraints")
    return None, Note("iso.no-licence", texts=[Note("iso.quoted", text=_shorten(t)) for t in texts[:3]])


def classify(url: str, protocol: str | None, function: str | None) -> ResourceKind:
    """Classify a link by protocol, then function code, then URL."""
    proto = (protocol or "").upper()
    lowered = url.lower()
    path = lowered.split("?", 1)[0]
    if proto.startswith("OGC:WFS") or "service=wfs" in lowered:
        return "wfs"
    if proto.startswith(("OGC:WMS", "OGC:WMTS", "ESRI:REST")) or "service=wms" in lowered:
        return "api"
    if "ATOM" in proto:
        return "atom"
    if proto.startswith("WWW:DOWNLOAD") or function == "download" or path.endswith(_DATA_EXTENSIONS):
        return "download"
    if proto.startswith("WWW:LINK") or function == "information" or proto in ("TEXT/HTML", "HTTP", "HTTPS"):
        return "page"
    return "other"


class _Reader:
    """Reads one record; holds the French locale ids used by the text rule."""

    def __init__(self, record: etree._Element, today: dt.date | None = None) -> None:
        self.root = record
        self.today = today
        self.warnings: list[str] = []
        french = {loc.get("id", "").lower() for loc in _xp(
            "gmd:locale/gmd:PT_Locale[gmd:languageCode/*/@codeListValue='fre' or "
            "gmd:languageCode/*/@codeListValue='fra']")(record)}
        self.french_locales = {f"#{x}" for x in french | {"fr", "fre", "fra"}}

    # Text rule: French localised string, else CharacterString / Anchor text, else any localised string.
    def text(self, slot: etree._Element | None) -> str:
        if slot is None:
            return ""
        plain: list[str] = []
        localised: list[etree._Element] = []
        for child in slot:  # one pass over the children instead of an XPath per form
            tag = child.tag
            if tag in _PLAIN_TAGS:
                if value := (child.text or "").strip():
                    plain.append(value)
            elif tag == _FREE_TEXT:
                localised += _xp("gmd:textGroup/gmd:LocalisedCharacterString")(child)
        for loc in localised:
            if (loc.get("locale") or "").lower() in self.french_locales and (loc.text or "").strip():
                return loc.text.strip()
        if plain:
            return " ".join(plain)
        return next(((loc.text or "").strip() for loc in localised if (loc.text or "").strip()), "")

    def texts(self, context: etree._Element, path: str) -> list[str]:
        return [t for t in (self.text(el) for el in _xp(path)(context)) if t]

    def read(self) -> IsoRecord:
        root = self.root
        ident = _first_data_identification(root)
        rec = IsoRecord(identifier=self.text(_one(root, "gmd:fileIdentifier")) or None,
                        datestamp=_first_text(root, "gmd:dateStamp/*"),
                        scope=_first(root, "gmd:hierarchyLevel/gmd:MD_ScopeCode/@codeListValue") or "dataset")
        if ident is None:
            self.warnings.append(Note("iso.no-identification"))
            rec.metadata = self._validated({"title": None})
            rec.warnings = self.warnings
            rec.resources = self._resources()
            return rec
        if etree.QName(ident).localname == "SV_ServiceIdentification":
            rec.scope = "service"
        citation = _one(ident, "gmd:citation/*")
        rec.aliases = self._aliases(citation)
        dates = self._citation_dates(citation)
        license_id, legal, rec.license_evidence = self._constraints(ident)
        contact, producer = self._contacts(ident)
        rec.resources = self._resources()
        if rec.scope == "service":
            rec.resources += self._service_endpoints(ident)
            rec.operates_on = _unique([v for el in _xp("srv:operatesOn")(ident)
                                       for v in (el.get("uuidref"), el.get(f"{{{NS['xlink']}}}href")) if v])
        page = next((r.url for r in rec.resources if r.kind == "page"), None)
        modified = dates.get("revision") or self._date(rec.datestamp, "dateStamp")
        fields: dict[str, Any] = {
            "title": self.text(_one(ident, "gmd:citation/*/gmd:title")) or None,
            "description": self.text(_one(ident, "gmd:abstract")) or None,
            "keywords": self.texts(ident, "gmd:descriptiveKeywords/gmd:MD_Keywords/gmd:keyword"),
            "producer": producer,
            "contact": contact,
            "license": license_id,
            "legal": legal,
            "spatial": self._spatial(ident),
            "temporal": self._temporal(ident),
            "issued": _as_date(dates.get("publication") or dates.get("creation")),
            "modified": _as_datetime(modified),
            "frequency": self._frequency(ident),
            "language": self._language(ident),
            "landing_page": page,
            "lineage": " ".join(self.texts(root, "gmd:dataQualityInfo/*/gmd:lineage/*/gmd:statement")) or None,
            "extras": self._extras(root, ident, rec),
        }
        rec.metadata = self._validated(fields)
        rec.warnings = self.warnings
        return rec

    def _validated(self, fields: dict[str, Any]) -> DatasetMetadata:
        fields = {k: v for k, v in fields.items() if v not in (None, [], {})}
        try:
            return DatasetMetadata.model_validate(fields)
        except ValidationError as exc:  # drop each field the model refuses, say which
            bad = {str(err["loc"][0]) for err in exc.errors() if err["loc"]}
            self.warnings += [Note("iso.invalid-field", name=name, value=repr(fields[name])) for name in sorted(bad)]
            return DatasetMetadata.model_validate({k: v for k, v in fields.items() if k not in bad})

    def _aliases(self, citation: etree._Element | None) -> list[str]:
        if citation is None:
            return []
        out = []
        for ident in _xp("gmd:identifier/*")(citation):
            code = self.text(_one(ident, "gmd:code"))
            space = self.text(_one(ident, "gmd:codeSpace"))
            if code:
                out.append(f"{space}:{code}" if space and not code.startswith(space) else code)
        return _unique(out)

    def _citation_dates(self, citation: etree._Element | None) -> dict[str, str]:
        dates: dict[str, str] = {}
        if citation is None:
            return dates
        for ci in _xp("gmd:date/gmd:CI_Date")(citation):
            kind = _first(ci, "gmd:dateType/gmd:CI_DateTypeCode/@codeListValue") or ""
            value = _first_text(ci, "gmd:date/*")
            if kind and value and kind not in dates and self._date(value, Note("iso.date-kind", kind=kind)) is not None:
                dates[kind] = value
        return dates

    def _date(self, value: str | None, what: str) -> str | None:
        """The date text, or None when unparseable or in the future (udata's refuse_future)."""
        parsed = _as_date(value)
        if parsed is None:
            return None
        if self.today and parsed > self.today:
            self.warnings.append(Note("iso.future", what=what, value=value))
            return None
        return value

    def _constraints(self, ident: etree._Element) -> tuple[str | None, str | None, str]:
        legal = _xp("gmd:resourceConstraints/gmd:MD_LegalConstraints[gmd:useConstraints]")(ident)
        texts: list[str] = []
        for node in legal:
            for other in _xp("gmd:otherConstraints")(node):
                texts += [str(h) for h in _xp("gmx:Anchor/@xlink:href")(other)]
                if value := self.text(other):
                    texts.append(value)
        # Access-only blocks (INSPIRE puts ConditionsApplyingToAccessAndUse there too): only unambiguous licence
        # URLs are taken from them, never their words, so access restrictions never read as a licence.
        texts += [str(h) for h in _xp(
            "gmd:resourceConstraints/gmd:MD_LegalConstraints[not(gmd:useConstraints)]/gmd:otherConstraints/"
            "gmx:Anchor/@xlink:href")(ident) if "LimitationsOnPublicAccess" not in h]
        limitations = self.texts(ident, "gmd:resourceConstraints/*/gmd:useLimitation")
        license_id, evidence = detect_license(texts + limitations)
        access = [str(c) for c in _xp("gmd:resourceConstraints/*/gmd:accessConstraints/"
                                              "gmd:MD_RestrictionCode/@codeListValue")(ident)]
        access_texts = [t for node in _xp("gmd:resourceConstraints/*[gmd:accessConstraints]")(ident)
                        for t in self.texts(node, "gmd:otherConstraints")]
        parts = _unique([t for t in texts + limitations if not t.startswith("http")])
        if access or access_texts:
            parts.append("Accès : " + "; ".join(_unique(access + access_texts)))
        return license_id, " · ".join(parts) or None, evidence

    def _contacts(self, ident: etree._Element) -> tuple[Contact | None, str | None]:
        parties = _xp("gmd:pointOfContact/gmd:CI_ResponsibleParty")(ident) or \
            _xp("gmd:contact/gmd:CI_ResponsibleParty")(self.root)
        people = []
        for party in parties:
            people.append({
                "organisation": self.text(_one(party, "gmd:organisationName")) or None,
                "name": self.text(_one(party, "gmd:individualName")) or None,
                "email": next(iter(self.texts(party, "gmd:contactInfo/*/gmd:address/*/gmd:electronicMailAddress")),
                              None),
                "role": _first(party, "gmd:role/*/@codeListValue"),
            })
        if not people:
            return None, None
        ranked = sorted(people, key=lambda p: ("owner", "originator", "publisher", "custodian",
                                               "pointOfContact").index(p["role"])
                        if p["role"] in ("owner", "originator", "publisher", "custodian", "pointOfContact") else 9)
        producer = next((p["organisation"] for p in ranked if p["organisation"]), None)
        first = next((p for p in people if p["email"]), people[0])
        contact = Contact(name=first["organisation"] or first["name"], email=first["email"], role=first["role"])
        return contact, producer

    def _spatial(self, ident: etree._Element) -> dict[str, Any] | None:
        spatial: dict[str, Any] = {}
        for box in _xp("gmd:extent/*/gmd:geographicElement/gmd:EX_GeographicBoundingBox|"
                               "srv:extent/*/gmd:geographicElement/gmd:EX_GeographicBoundingBox")(ident):
            values = [_float(_first_text(box, f"gmd:{name}/gco:Decimal")) for name in
                      ("westBoundLongitude", "southBoundLatitude", "eastBoundLongitude", "northBoundLatitude")]
            if None in values:
                continue
            try:
                spatial["bbox"] = Spatial(bbox=tuple(values)).bbox  # validates the order and ranges
                break
            except ValidationError:
                self.warnings.append(Note("iso.bbox", values=str(values)))
        description = self.texts(ident, "gmd:extent/*/gmd:description|srv:extent/*/gmd:description") + self.texts(
            ident, "gmd:extent/*/gmd:geographicElement/gmd:EX_GeographicDescription/"
                   "gmd:geographicIdentifier/*/gmd:code")
        if description:
            spatial["description"] = ", ".join(_unique(description))
        return spatial or None

    def _temporal(self, ident: etree._Element) -> dict[str, Any] | None:
        periods = _xp("(gmd:extent|srv:extent)/*/gmd:temporalElement/gmd:EX_TemporalExtent/gmd:extent/"
                              "*[local-name()='TimePeriod']")(ident)
        for period in periods:
            begin = _as_date(_first(period, "*[local-name()='beginPosition']/text()|"
                                            "*[local-name()='begin']//*[local-name()='timePosition']/text()"))
            end = _as_date(_first(period, "*[local-name()='endPosition']/text()|"
                                          "*[local-name()='end']//*[local-name()='timePosition']/text()"))
            if begin or end:
                try:
                    return Temporal(start=begin, end=end).model_dump()
                except ValidationError:
                    self.warnings.append(Note("iso.temporal", begin=begin, end=end))
        return None

    def _frequency(self, ident: etree._Element) -> str | None:
        info = _one(ident, "gmd:resourceMaintenance/gmd:MD_MaintenanceInformation")
        if info is None:
            return None
        duration = _first_text(info, "gmd:userDefinedMaintenanceFrequency/gts:TM_PeriodDuration")
        if duration:
            mapped = frequency_from_duration(duration)
            if mapped == "other":
                self.warnings.append(Note("iso.period-other", duration=duration))
            if mapped:
                return mapped
            self.warnings.append(Note("iso.period-invalid", duration=repr(duration)))
        code = _first(info, "gmd:maintenanceAndUpdateFrequency/gmd:MD_MaintenanceFrequencyCode/@codeListValue")
        if code is None:
            return None
        mapped = frequency_from_code(code)
        if mapped is None:
            self.warnings.append(Note("iso.frequency-code", code=repr(code)))
            return "unknown"
        return mapped

    def _language(self, ident: etree._Element) -> str | None:
        for node in _xp("gmd:language")(ident) + _xp("gmd:language")(self.root):
            code = (_first(node, "*/@codeListValue") or self.text(node)).strip().lower()
            if code:
                return _LANG2.get(code[:3], code[:2])
        return None

    def _resources(self) -> list[OnlineResource]:
        out: dict[tuple[str, str | None], OnlineResource] = {}
        for res in _xp("gmd:distributionInfo/*/gmd:transferOptions/*/gmd:onLine/gmd:CI_OnlineResource|"
                                   "gmd:distributionInfo/*/gmd:distributor/*/gmd:distributorTransferOptions/*/"
                                   "gmd:onLine/gmd:CI_OnlineResource")(self.root):
            url = (_first_text(res, "gmd:linkage/gmd:URL") or "").strip()
            if not url:
                continue
            protocol = self.text(_one(res, "gmd:protocol")) or None
            function = _first(res, "gmd:function/*/@codeListValue")
            name = self.text(_one(res, "gmd:name")) or None
            key = (url, name)  # one resource per layer: the same service URL with two layers is two resources
            out.setdefault(key, OnlineResource(url=url, protocol=protocol, name=name, function=function,
                                               description=self.text(_one(res, "gmd:description")) or None,
                                               kind=classify(url, protocol, function)))
        return list(out.values())

    def _service_endpoints(self, ident: etree._Element) -> list[OnlineResource]:
        kind = self.text(_one(ident, "srv:serviceType")) or None
        out = []
        for op in _xp("srv:containsOperations/*")(ident):
            url = _first_text(op, "srv:connectPoint/*/gmd:linkage/gmd:URL")
            if url:
                protocol = f"OGC:{kind.upper()}" if kind and kind.upper() in ("WMS", "WFS", "WMTS") else kind
                out.append(OnlineResource(url=url.strip(), protocol=protocol,
                                          name=self.text(_one(op, "srv:operationName")) or None,
                                          kind=classify(url, protocol, None)))
        return _unique(out)

    def _extras(self, root: etree._Element, ident: etree._Element, rec: IsoRecord) -> dict[str, Any]:
        thesauri = [{"keywords": self.texts(kw, "gmd:keyword"),
                     "thesaurus": self.text(_one(kw, "gmd:thesaurusName/gmd:CI_Citation/gmd:title")) or None}
                    for kw in _xp("gmd:descriptiveKeywords/gmd:MD_Keywords")(ident)]
        resolution = [str(v).strip() for v in _xp(
            "gmd:spatialResolution/*/gmd:equivalentScale/*/gmd:denominator/*/text()|"
            "gmd:spatialResolution/*/gmd:distance/*/text()")(ident) if str(v).strip()]
        extras = {
            "record_id": rec.identifier, "resource_ids": rec.aliases, "scope": rec.scope,
            "topics": [str(t) for t in _xp("gmd:topicCategory/gmd:MD_TopicCategoryCode/text()")(ident)],
            "thesauri": [t for t in thesauri if t["thesaurus"]],
            "resolution": resolution,
            "crs": self.texts(root, "gmd:referenceSystemInfo/gmd:MD_ReferenceSystem/gmd:referenceSystemIdentifier/"
                                    "gmd:RS_Identifier/gmd:code"),
            "formats": _unique(self.texts(root, "gmd:distributionInfo/*/gmd:distributionFormat/gmd:MD_Format/"
                                                "gmd:name")),
            "license_evidence": rec.license_evidence,
            "resources": [r.__dict__ for r in rec.resources],
        }
        return {"csw": {k: v for k, v in extras.items() if v not in (None, [], "")}}


def _first_data_identification(root: etree._Element) -> etree._Element | None:
    idents = _xp("gmd:identificationInfo/*")(root)
    data = [i for i in idents if etree.QName(i).localname != "SV_ServiceIdentification"]
    return (data or idents or [None])[0]


@functools.cache
def _xp(path: str) -> etree.XPath:
    """A compiled XPath (10× faster than `element.xpath(path)`, which compiles at every call)."""
    return etree.XPath(path, namespaces=NS)


def _one(context: etree._Element, path: str) -> etree._Element | None:
    found = _xp(path)(context)
    return found[0] if found else None


def _first(context: etree._Element, path: str) -> str | None:
    found = _xp(path)(context)
    value = str(found[0]).strip() if found else ""
    return value or None


def _first_text(context: etree._Element, path: str) -> str | None:
    el = _one(context, path)
    return (el.text or "").strip() or None if el is not None else None


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


_DATE = re.compile(r"^\s*(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?")


def _as_date(value: str | None) -> dt.date | None:
    match = _DATE.match(value or "")
    if not match:
        return None
    try:
        return dt.date(int(match[1]), int(match[2] or 1), int(match[3] or 1))
    except ValueError:
        return None


def _as_datetime(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        day = _as_date(value)
        return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC) if day else None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


_DURATION = re.compile(r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")


def _duration_key(value: str) -> str | None:
    """Normalise an ISO 8601 duration: zero parts dropped, weeks as days, 12 months as a year, 60 minutes as an hour."""
    match = _DURATION.match(value.strip().upper())
    if not match or not any(match.groups()):
        return None
    years, months, weeks, days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    days += 7 * weeks
    minutes += seconds // 60
    if months and months % 12 == 0:
        years, months = years + months // 12, 0
    if minutes and minutes % 60 == 0:
        hours, minutes = hours + minutes // 60, 0
    date_part = "".join(f"{n}{u}" for n, u in ((years, "Y"), (months, "M"), (days, "D")) if n)
    time_part = "".join(f"{n}{u}" for n, u in ((hours, "H"), (minutes, "M")) if n)
    if not date_part and not time_part:
        return None
    return "P" + date_part + (f"T{time_part}" if time_part else "")


def _unique(items: list) -> list:
    return list(dict.fromkeys(items))


def _shorten(text: str, size: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= size else text[: size - 1] + "…"
