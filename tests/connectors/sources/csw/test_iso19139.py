"""ISO 19139 parsing over every real record and CSW response of the reference folder, plus hostile XML."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from moisson.connectors.sources.csw.iso19139 import (
    classify,
    detect_license,
    find_records,
    frequency_from_code,
    frequency_from_duration,
    parse_record,
    parse_xml,
    record_hash,
)
from moisson.core.errors import RejectedError
from moisson.core.frequencies import FREQUENCIES
from moisson.core.metadata import DatasetMetadata
from tests.data import REFERENCE

ISO = REFERENCE / "iso19139"
RESPONSES = REFERENCE / "csw-responses"
pytestmark = pytest.mark.skipif(not ISO.is_dir(), reason=f"reference records absent ({ISO})")


def _files(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.xml")) if folder.is_dir() else []


def _record(name: str):
    path = ISO / name
    return parse_record(find_records(parse_xml(path.read_bytes(), what=name))[0])


@pytest.mark.parametrize("path", _files(ISO), ids=lambda p: p.name)
def test_every_reference_record_parses(path: Path) -> None:
    records = find_records(parse_xml(path.read_bytes(), what=path.name))
    assert len(records) == 1
    rec = parse_record(records[0])
    assert rec.identifier
    assert rec.metadata.title
    DatasetMetadata.model_validate(rec.metadata.model_dump())
    assert rec.metadata.frequency is None or rec.metadata.frequency in FREQUENCIES
    assert rec.license_evidence


@pytest.mark.parametrize("path", _files(RESPONSES), ids=lambda p: p.relative_to(RESPONSES).as_posix())
def test_every_reference_response_is_read_without_crash(path: Path) -> None:
    try:
        root = parse_xml(path.read_bytes(), what=path.name)
    except RejectedError as exc:  # a fixture may be a fragment; the error must say what, never crash
        assert path.name in str(exc)
        return
    for element in find_records(root):
        rec = parse_record(element)
        assert rec.identifier is None or rec.identifier.strip() == rec.identifier


def test_geobretagne_resource_frequency_not_metadata_and_no_licence_guess() -> None:
    rec = _record("owslib/csw_geobretagne_mdmetadata.xml")
    assert rec.metadata.frequency == "annual"  # metadataMaintenance says continual: not the resource's
    assert rec.metadata.license is None
    assert "aucune licence trouvée" in rec.license_evidence and "Usage libre" in rec.license_evidence
    assert rec.metadata.title == "Cadastre 2018 en Bretagne"
    assert rec.metadata.contact.email == "bureau.gf3a@dgfip.finances.gouv.fr"
    west, south, east, north = rec.metadata.spatial.bbox
    assert west < east and south < north and -6 < west < -5
    assert rec.aliases and rec.aliases[0].startswith("https://geobretagne.fr/")


def test_anchor_licence_non_iso_frequency_and_link_classes() -> None:
    rec = _record("owslib/csw_iso_identifier.xml")
    assert rec.metadata.license == "other-pd"
    assert "publicdomain/mark" in rec.license_evidence
    assert rec.metadata.frequency == "unknown"
    assert any("5annually" in w for w in rec.warnings)
    assert {r.kind for r in rec.resources} == {"api", "wfs", "atom"}
    assert "noLimitations" not in rec.license_evidence


def test_french_localised_strings_win() -> None:
    assert _record("owslib/iso_mi.xml").metadata.title == "title in French"
    assert _record("owslib/iso_che.xml").metadata.title == "Gewässerschutzkarte"


def test_gml32_temporal_extent_and_open_end() -> None:
    rec = _record("owslib/iso_keywords_anchor.xml")
    assert (rec.metadata.temporal.start, rec.metadata.temporal.end) == (dt.date(2009, 6, 14), dt.date(2009, 6, 22))
    open_end = _record("owslib/iso_mi.xml").metadata.temporal
    assert open_end.start == dt.date(1950, 7, 31) and open_end.end is None


def test_service_records_are_recognised_with_deduplicated_operates_on() -> None:
    rec = _record("owslib/iso19139_srv.xml")
    assert rec.is_service
    assert len(rec.operates_on) == len(set(rec.operates_on)) >= 1
    assert _record("pycsw-apiso/3e9a8c05.xml").is_service
    assert not _record("owslib/iso_xml_srv.xml").is_service  # a dataset that also describes services


def test_keywords_with_thesaurus_and_topics_in_extras() -> None:
    rec = _record("owslib/csw_geobretagne_mdmetadata.xml")
    assert rec.metadata.keywords
    csw = rec.metadata.extras["csw"]
    assert csw["record_id"] == rec.identifier
    assert csw["topics"]


@pytest.mark.parametrize(("code", "expected"), [("continual", "severalTimesADay"), ("fortnightly", "biweekly"),
                                                ("biannually", "semiannual"), ("asNeeded", "punctual"),
                                                ("5annually", None)])
def test_iso_frequency_codes(code: str, expected: str | None) -> None:
    assert frequency_from_code(code) == expected


@pytest.mark.parametrize(("duration", "expected"), [
    ("P1D", "daily"), ("P1W", "weekly"), ("P0Y0M7DT0H0M0S", "weekly"), ("P2W", "biweekly"), ("P12M", "annual"),
    ("PT60M", "hourly"), ("PT6H", "severalTimesADay"), ("P3M", "quarterly"), ("P10Y", "decennial"),
    ("P9D", "other"), ("yearly", None), ("P", None)])
def test_iso8601_user_defined_frequencies(duration: str, expected: str | None) -> None:
    assert frequency_from_duration(duration) == expected


def test_user_defined_frequency_wins_over_the_code() -> None:
    xml = (ISO / "owslib/csw_geobretagne_mdmetadata.xml").read_bytes().replace(
        b"<gmd:maintenanceAndUpdateFrequency>",
        b"<gmd:userDefinedMaintenanceFrequency><gts:TM_PeriodDuration "
        b"xmlns:gts='http://www.isotc211.org/2005/gts'>P1M</gts:TM_PeriodDuration>"
        b"</gmd:userDefinedMaintenanceFrequency><gmd:maintenanceAndUpdateFrequency>", 1)
    assert parse_record(find_records(parse_xml(xml, what="x"))[0]).metadata.frequency == "monthly"


@pytest.mark.parametrize(("texts", "expected"), [
    (["https://www.etalab.gouv.fr/licence-ouverte-open-licence"], "lov2"),
    (["Licence Ouverte version 2.0 (Etalab)"], "lov2"),
    (["Données sous licence ODbL"], "odc-odbl"),
    (["https://creativecommons.org/licenses/by-sa/4.0/"], "cc-by-sa"),
    (["http://creativecommons.org/licenses/by/4.0/"], "cc-by"),
    (["https://creativecommons.org/publicdomain/zero/1.0/"], "cc-zero"),
    (["Pas de restriction d'usage"], None)])
def test_licence_detection_keeps_evidence(texts: list[str], expected: str | None) -> None:
    found, evidence = detect_license(texts)
    assert found == expected
    assert (texts[0][:40] in evidence) if expected else evidence.startswith("aucune licence trouvée")


@pytest.mark.parametrize(("url", "protocol", "function", "kind"), [
    ("https://x/geoserver/ows", "OGC:WFS", None, "wfs"),
    ("https://x/wms?SERVICE=WMS&REQUEST=GetCapabilities", "http", None, "api"),
    ("https://x/data/file.csv", None, None, "download"),
    ("https://x/page", "WWW:LINK-1.0-http--link", None, "page"),
    ("https://x/feed", "INSPIRE Atom", None, "atom"),
    ("https://x/thing", "image/jp2", None, "other")])
def test_link_classification(url: str, protocol: str | None, function: str | None, kind: str) -> None:
    assert classify(url, protocol, function) == kind


def test_future_dates_are_refused() -> None:
    xml = (ISO / "owslib/csw_geobretagne_mdmetadata.xml").read_bytes()
    rec = parse_record(find_records(parse_xml(xml, what="x"))[0], today=dt.date(2000, 1, 1))
    assert rec.metadata.modified is None
    assert any("date dans le futur" in w for w in rec.warnings)
    assert any(w.say("en").endswith("is in the future: ignored") for w in rec.warnings)


def test_hash_ignores_geonetwork_info_but_sees_content() -> None:
    xml = (ISO / "owslib/csw_geobretagne_mdmetadata.xml").read_bytes()
    base = record_hash(parse_xml(xml, what="x"))
    with_info = xml.replace(b"</gmd:MD_Metadata>", b"<geonet:info xmlns:geonet='http://www.fao.org/geonetwork'>"
                                                    b"<id>12</id></geonet:info></gmd:MD_Metadata>")
    assert record_hash(parse_xml(with_info, what="x")) == base
    assert record_hash(parse_xml(xml.replace(b"Cadastre 2018", b"Cadastre 2019"), what="x")) != base


def test_missing_fields_give_empty_metadata_not_errors() -> None:
    rec = parse_record(parse_xml(b"<gmd:MD_Metadata xmlns:gmd='http://www.isotc211.org/2005/gmd'/>", what="x"))
    assert rec.identifier is None and rec.metadata.title is None and rec.warnings


XXE = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<gmd:MD_Metadata xmlns:gmd="http://www.isotc211.org/2005/gmd">&xxe;</gmd:MD_Metadata>"""
LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<r>&lol3;</r>"""


@pytest.mark.parametrize("payload", [XXE, LAUGHS], ids=["xxe", "billion-laughs"])
def test_entity_payloads_are_refused(payload: bytes) -> None:
    with pytest.raises(RejectedError, match="entités XML"):
        parse_xml(payload, what="GetRecords answer")


def test_truncated_xml_is_a_clear_rejection() -> None:
    xml = (ISO / "owslib/csw_geobretagne_mdmetadata.xml").read_bytes()
    with pytest.raises(RejectedError, match="n'est pas du XML bien formé"):
        parse_xml(xml[: len(xml) // 2], what="GetRecords answer")
