"""The `csw` source against a real pycsw: paging, page caps, incremental harvests, deletions, faults, extraction."""

from __future__ import annotations

import datetime as dt
import re
from typing import ClassVar

import pytest
from lxml import etree
from pydantic import SecretStr

from moisson.connectors.base import DatasetDescriptor
from moisson.connectors.sources.csw import CswSource
from moisson.connectors.testing import SourceContract
from moisson.core.errors import RejectedError
from moisson.core.ids import record_dataset_id as dataset_id_for
from tests.data import TEMPLATE
from tests.fakes.proxy import Seen

GEOBRETAGNE = "955c3e47-411e-4969-b61b-3556d1b9f879"
SERVICES = {"01ef8e6a-df59-4c2d-8468-79da95046705", "3e9a8c05"}


def csw(url: str, **config) -> CswSource:
    config.setdefault("retries", 0)  # faults are deterministic here: no waiting on backoff
    return CswSource(CswSource.Config(url=SecretStr(url), **config))


def states(harvest):
    return {s.record_id: s for s in harvest.changes.states}


class TestCswSourceContract(SourceContract):
    missing_locator: ClassVar[dict[str, str]] = {"record": "no-such-record"}

    @pytest.fixture
    def source(self, pycsw_url):
        return csw(pycsw_url)

    @pytest.fixture
    def dataset(self, source):
        return DatasetDescriptor(id="cadastre-bretagne", locator={"record": GEOBRETAGNE})


def test_full_harvest_collects_every_record_despite_the_server_page_cap(proxy):
    result = csw(proxy.url, page_size=50).harvest({})
    assert result.mode == "full" and result.complete
    assert (result.matched, result.collected) == (27, 27)
    assert proxy.count("GetRecords") == 3  # 50 asked, pycsw caps at 10: 10 + 10 + 7
    assert set(result.records) | SERVICES == set(states(result)) and len(result.records) == 25
    assert {s.record for s in result.skipped} == SERVICES
    assert all("fiche de service" in s.reason for s in result.skipped)
    assert sorted(result.changes.new) == sorted(states(result))


def test_services_can_be_kept(pycsw_url):
    result = csw(pycsw_url, services="keep").harvest({})
    assert set(result.records) >= SERVICES and not result.skipped


def test_constraints_filter_on_the_server(pycsw_url):
    assert csw(pycsw_url, constraints={"text": "Bretagne"}).harvest({}).matched == 1
    assert csw(pycsw_url, constraints={"bbox": [-6, 46, 0, 50]}).harvest({}).matched == 1
    assert csw(pycsw_url, constraints={"type": "service"}).harvest({}).matched == 2
    assert csw(pycsw_url, constraints={"keywords": ["cadastre", "no-such-word"]}).harvest({}).matched == 1


def test_second_harvest_of_an_unchanged_catalog_fetches_no_full_record(proxy):
    source = csw(proxy.url)
    first = source.harvest({})
    proxy.seen.clear()
    again = source.harvest(states(first))
    assert again.mode == "incremental" and again.complete
    assert proxy.count("GetRecordById") == 0
    assert proxy.count(">full<") == 0
    assert again.changes.new == [] and again.changes.changed == [] and len(again.changes.unchanged) <= 27
    assert len(again.changes.states) == 27 and again.changes.missing == []


def test_changed_record_is_the_only_one_fetched(generated, tmp_path):
    server, ids = generated
    source = csw(server.url, page_size=100)
    first = source.harvest({})
    assert first.collected == len(ids) and first.complete
    tree = etree.parse(str(TEMPLATE))
    ns = {"gmd": "http://www.isotc211.org/2005/gmd", "gco": "http://www.isotc211.org/2005/gco"}
    tree.find("gmd:fileIdentifier/gco:CharacterString", ns).text = ids[7]
    tree.find("gmd:dateStamp/*", ns).text = "2025-01-01"
    (tmp_path / "changed").mkdir()
    tree.write(str(tmp_path / "changed" / f"{ids[7]}.xml"))
    server.load([tmp_path / "changed" / f"{ids[7]}.xml"], overwrite=True)
    again = source.harvest(states(first))
    assert again.mode == "incremental"
    assert again.changes.changed == [ids[7]] and again.changes.new == []
    assert again.requests["GetRecordById"] == 1


def test_content_hash_catches_a_catalog_whose_dates_lie(generated):
    server, ids = generated
    source = csw(server.url, page_size=100)
    first = source.harvest({})
    xml = TEMPLATE.read_bytes().replace(b"955c3e47-411e-4969-b61b-3556d1b9f879", ids[3].encode())
    server.set_xml(ids[3], xml.replace(b"Cadastre 2018", b"Cadastre 2024"))
    quick = source.harvest(states(first))
    assert quick.mode == "incremental" and quick.changes.changed == []  # same date: not looked at
    full = source.harvest(states(first), full=True)
    assert full.changes.changed == [ids[3]]


def test_a_record_the_real_server_cannot_serialise_is_skipped_with_its_identifier(generated):
    server, ids = generated
    server.set_xml(ids[42], TEMPLATE.read_bytes(), keep_declaration=True)
    result = csw(server.url, page_size=100).harvest({})
    assert result.collected == len(ids) - 1 and not result.complete
    assert [s.record for s in result.skipped] == [ids[42]]
    assert "Record serialization failed" in result.skipped[0].reason


def test_deletion_waits_for_the_grace_period_and_a_small_share(generated):
    server, ids = generated
    source = csw(server.url, page_size=100, deletion={"grace_days": 7, "max_share": 0.1})
    now = dt.datetime.now(dt.UTC)
    known = states(source.harvest({}, now=now))
    server.delete([ids[0]])
    gone = source.harvest(known, now=now + dt.timedelta(days=1))
    assert gone.mode == "incremental" and gone.complete
    assert gone.changes.missing == [ids[0]] and gone.changes.archive == []
    assert any("liste de tous les identifiants" in n for n in gone.notes)
    later = source.harvest(states(gone), now=now + dt.timedelta(days=9))
    assert later.changes.archive == [ids[0]]
    server.delete(ids[1:len(ids) // 10 + 1])  # with ids[0], just over a tenth of the catalog
    many = source.harvest(states(later), now=now + dt.timedelta(days=30))
    assert len(many.changes.missing) == len(ids) // 10 + 1 and many.changes.archive == []
    assert "plus que les 10% admis" in many.changes.held


def test_reappearing_record_loses_its_missing_mark(generated):
    server, ids = generated
    source = csw(server.url, page_size=100)
    known = states(source.harvest({}))
    ghost = dict(known)
    marked = known[ids[5]]
    ghost[ids[5]] = type(marked)(marked.record_id, marked.datestamp, marked.record_hash, marked.last_seen,
                                 dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    result = source.harvest(ghost, full=True)
    assert result.changes.reappeared == [ids[5]]
    assert states(result)[ids[5]].missing_since is None


def _fault_on(record_id: str, kind: str):
    def fault(seen: Seen, status: int, body: bytes):
        if record_id.encode() in body and b"GetRecords" in seen.body and b">brief<" not in seen.body:
            return (500, b"boom") if kind == "500" else (200, body[: len(body) // 2])
        return None
    return fault


@pytest.mark.parametrize("kind", ["500", "truncated"])
def test_a_bad_record_is_isolated_and_the_run_goes_on(proxy, kind):
    proxy.fault = _fault_on(GEOBRETAGNE, kind)
    result = csw(proxy.url, page_size=10).harvest({})
    assert result.collected == 26 and GEOBRETAGNE not in result.records
    bad = [s for s in result.skipped if s.record == GEOBRETAGNE]
    assert bad and "le catalogue échoue sur cette fiche" in bad[0].reason
    assert not result.complete and result.changes.missing == []
    assert any("découpée pour isoler" in n for n in result.notes)


def test_an_incomplete_run_never_marks_records_missing(proxy):
    source = csw(proxy.url)
    known = states(source.harvest({}))
    proxy.fault = _fault_on(GEOBRETAGNE, "500")
    result = source.harvest(known, full=True)
    assert not result.complete and result.changes.missing == [] and result.changes.archive == []
    assert "incomplète" in result.changes.held


def test_a_shortfall_is_reported_not_read_as_deletions(proxy):
    source = csw(proxy.url)
    known = states(source.harvest({}))
    proxy.fault = lambda seen, status, body: (status, body.replace(b'numberOfRecordsMatched="27"',
                                                                   b'numberOfRecordsMatched="30"'))
    result = source.harvest(known, full=True)
    assert not result.complete
    assert any("fiches manquantes : le catalogue en trouve" in n for n in result.notes)
    assert result.changes.missing == []


def test_a_server_repeating_the_same_page_forever_is_stopped(proxy):
    first: dict[str, bytes] = {}

    def same_page(seen: Seen, status: int, body: bytes):
        if b">full<" in seen.body:
            first.setdefault("page", body)
            return status, first["page"]
        return None

    proxy.fault = same_page
    result = csw(proxy.url, page_size=10).harvest({})
    assert any("mêmes fiches" in n for n in result.notes)
    assert not result.complete and result.collected == 10
    assert proxy.count("GetRecords") < 5


def test_xxe_from_the_server_is_refused(proxy):
    proxy.fault = lambda seen, status, body: (200, b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM '
                                                   b'"file:///etc/passwd">]><r>&x;</r>')
    with pytest.raises(RejectedError, match="entités XML") as info:
        csw(proxy.url).harvest({})
    assert "root:" not in str(info.value)


def test_oversized_answers_are_refused(proxy):
    with pytest.raises(RejectedError, match=r"dépasse 2\u202f000 octets .*`page_size`"):
        csw(proxy.url, max_response_bytes=2_000).check()


def test_ows_exception_sent_with_http_200_is_an_error(proxy):
    report = (b'<ows:ExceptionReport xmlns:ows="http://www.opengis.net/ows"><ows:Exception '
              b'exceptionCode="NoApplicableCode"><ows:ExceptionText>nope</ows:ExceptionText></ows:Exception>'
              b'</ows:ExceptionReport>')
    proxy.fault = lambda seen, status, body: (200, report)
    with pytest.raises(RejectedError, match="NoApplicableCode"):
        csw(proxy.url).check()


def test_record_without_usable_data_is_published_with_its_links(pycsw_url, tmp_path):
    import pyarrow.parquet as pq

    result = csw(pycsw_url).extract(DatasetDescriptor(id="cadastre", locator={"record": GEOBRETAGNE}), tmp_path)
    links = pq.read_table(result.path).to_pylist()
    assert result.rows == len(links) == 2 and all(link["url"].startswith("http") for link in links)
    assert any("publié comme métadonnées avec ses 2 lien(s)" in n for n in result.notes)
    assert result.metadata["title"] == "Cadastre 2018 en Bretagne" and result.metadata["frequency"] == "annual"
    assert any(n.startswith("licence : aucune licence trouvée") for n in result.notes)


def test_dataset_ids_are_stable_and_valid():
    from moisson.core.ids import DATASET_ID

    for record_id in (GEOBRETAGNE, "https://geobretagne.fr/geonetwork/?uuid=363e3a8e", "ie.marine.data:dataset.1135",
                      "Ünïcode ID"):
        assert DATASET_ID.match(dataset_id_for(record_id)), record_id
        assert dataset_id_for(record_id) == dataset_id_for(record_id)
    assert dataset_id_for("a-b") != dataset_id_for("a_b")
    assert re.match(r"^955c3e47-411e-4969-b61b-3556d1b9f879-[0-9a-f]{6}$", dataset_id_for(GEOBRETAGNE))
