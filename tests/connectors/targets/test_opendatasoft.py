"""Tests of the `opendatasoft` target against a fake portal validated against the official OpenAPI specs."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from pydantic import SecretStr

from moisson.connectors.base import DatasetDescriptor, Publication
from moisson.connectors.targets.opendatasoft import OpendatasoftTarget
from moisson.connectors.testing import TargetContract, republish, state_after
from moisson.core.errors import ConfigError, RateLimitedError, RejectedError, UnavailableError
from moisson.core.metadata import DatasetMetadata
from moisson.core.records import RemoteState
from tests.data import REFERENCE
from tests.fakes.opendatasoft import ERRATA, FakeOds, _pointer, corrected_spec, raw_spec

pytestmark = pytest.mark.skipif(not (REFERENCE / "apis").is_dir(),
                                reason=f"the Opendatasoft OpenAPI specs are not in {REFERENCE / 'apis'}")

KEY = "ods-secret-key-7f3a9"
METADATA = {
    "title": "Stationnements vélos", "description": "Arceaux et abris.\n\nMis à jour chaque mois.",
    "keywords": ["vélo", "mobilité"], "themes": ["Mobilité"], "license": "lov2", "producer": "Métropole",
    "frequency": "monthly", "contact": {"name": "Service SIG", "email": "sig@metropole.example"},
    "spatial": {"zones": ["fr:commune:59350"], "bbox": [2.9, 50.5, 3.2, 50.7]},
    "temporal": {"start": "2020-01-01"}, "modified": "2026-11-01T08:00:00+00:00", "issued": "2020-02-01",
    "attribution": "Métropole européenne de Lille",
}


class Clock:
    """Time that passes only when the target sleeps: time limits are tested without waiting."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def portal():
    with FakeOds(REFERENCE, api_key=KEY) as fake:
        yield fake
    assert not fake.violations, "requests or responses outside the official specs:\n" + "\n".join(fake.violations)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make_target(portal: FakeOds, clock: Clock, **config: Any) -> OpendatasoftTarget:
    settings = {"domain": portal.url, "api_key": KEY, "metadata_templates": ["default", "dcat", "inspire"],
                "publish_timeout": 600, **config}
    return OpendatasoftTarget(OpendatasoftTarget.Config.model_validate(settings), sleep=clock.sleep, clock=clock)


@pytest.fixture
def target(portal, clock) -> OpendatasoftTarget:
    return make_target(portal, clock)


def make_publication(folder: Path, rows: int = 3, dataset_id: str = "stationnements-velos", **metadata: Any
                     ) -> Publication:
    folder.mkdir(parents=True, exist_ok=True)
    data = folder / f"{dataset_id}-{rows}.parquet"
    frame = pd.DataFrame({"nom": [f"Arceau {i}" for i in range(rows)], "places": list(range(rows)),
                          "geom": ['{"type": "Point", "coordinates": [3.05, 50.63]}'] * rows})
    frame.to_parquet(data)
    meta = DatasetMetadata.model_validate({**METADATA, **metadata})
    return Publication(dataset=DatasetDescriptor(id=dataset_id, locator={}, metadata=meta), data=data, rows=rows,
                       content_hash=hashlib.sha256(frame.to_csv().encode()).hexdigest(),
                       metadata_hash=hashlib.sha256(meta.model_dump_json().encode()).hexdigest(), geometry="geom")


@pytest.fixture
def publication(tmp_path) -> Publication:
    return make_publication(tmp_path)


class TestOpendatasoftContract(TargetContract):
    pass


# -- the fake is the official API -------------------------------------------------------------------

@pytest.mark.parametrize(("spec", "pointer", "why"), ERRATA)
def test_errata_still_apply(spec, pointer, why):
    """Each correction targets a real mistake of the stored spec; an upstream fix makes this fail."""
    original, corrected = raw_spec(spec, REFERENCE), corrected_spec(spec, REFERENCE)
    try:
        before = _pointer(original, pointer)
    except KeyError:
        before = None
    assert json.dumps(before) != json.dumps(_pointer(corrected, pointer)), why


def test_fake_refuses_a_request_the_spec_does_not_allow(portal, clock):
    import requests

    response = requests.post(f"{portal.url}/api/automation/v1.0/datasets/", json={"dataset_id": "no-metadata"},
                             headers={"Authorization": f"Apikey {KEY}"}, timeout=10)
    assert response.status_code == 400
    assert portal.violations and "POST /api/automation/v1.0/datasets/" in portal.violations[0]
    portal.violations.clear()


# -- create, update, never duplicate ----------------------------------------------------------------

def test_first_publication_creates_uploads_publishes_and_verifies(target, portal, publication):
    result = target.publish(publication)
    assert result.status == "created"
    [ds] = portal.datasets.values()
    assert result.remote_id == ds.uid and ds.dataset_id == "stationnements-velos"
    assert result.url == f"{portal.url}/explore/dataset/stationnements-velos/"
    [resource] = ds.resources.values()
    assert resource["datasource"]["type"] == "uploaded_file"
    assert result.extra["resource_uid"] == resource["uid"]
    assert ds.status["status"] == "idle" and ds.status["is_published"]
    assert ds.published["records"] == 3
    assert ("GET", "/api/explore/v2.1/catalog/datasets/stationnements-velos/records") in portal.requests
    # No Explore call carries the key: the check is what the public sees.
    explore = [h for (m, p), h in zip(portal.requests, portal.seen_headers, strict=True) if "/explore/" in p]
    assert explore and not any("Authorization" in h for h in explore)


def test_metadata_is_filled_from_the_dataset_with_portal_ids(target, portal, publication):
    target.publish(publication)
    [ds] = portal.datasets.values()
    md = {t: {k: v["value"] for k, v in fields.items()} for t, fields in ds.metadata.items()}
    assert md["default"]["title"] == "Stationnements vélos"
    assert md["default"]["description"] == "<p>Arceaux et abris.</p><p>Mis à jour chaque mois.</p>"
    assert md["default"]["keyword"] == ["vélo", "mobilité"]
    assert md["default"]["language"] == "fr" and md["default"]["publisher"] == "Métropole"
    assert md["default"]["attributions"] == ["Métropole européenne de Lille"]
    assert md["default"]["geographic_reference_auto"] is True
    assert dt.datetime.fromisoformat(md["default"]["modified"]) == dt.datetime(2026, 11, 1, 8, tzinfo=dt.UTC)
    assert md["internal"] == {"license_id": "5ab2c9f", "theme_id": ["th_mob"]}
    assert md["dcat"]["accrualperiodicity"] == "http://publications.europa.eu/resource/authority/frequency/MONTHLY"
    assert md["dcat"]["contact_email"] == "sig@metropole.example"
    assert md["dcat"]["temporal"] == "2020-01-01/.."
    assert md["inspire"]["extend_bounding_box_westbound_longitude"] == 2.9
    assert md["inspire"]["extend_bounding_box_northbound_latitude"] == 50.7


def test_enum_frequency_takes_the_portal_choice(portal, clock, publication):
    dcat = next(f for f in portal.templates["dcat"] if f["name"] == "accrualperiodicity")
    dcat.update(type="enum", choices=["DAILY", "WEEKLY", "MONTHLY"])
    make_target(portal, clock).publish(publication)
    [ds] = portal.datasets.values()
    assert ds.metadata["dcat"]["accrualperiodicity"] == {"value": "MONTHLY"}


def test_unknown_licence_is_refused_before_anything_is_sent(target, portal, tmp_path):
    publication = make_publication(tmp_path, license="cc-by-sa")
    with pytest.raises(RejectedError) as info:
        target.publish(publication)
    message = str(info.value)
    assert "cc-by-sa" in message and "Licence Ouverte v2.0 (Etalab) (5ab2c9f)" in message
    assert "stationnements-velos" in message
    assert portal.writes() == []


def test_explicit_licence_mapping_wins(portal, clock, tmp_path):
    target = make_target(portal, clock, licenses={"cc-by-sa": "q7x1k0e"})
    target.publish(make_publication(tmp_path, license="cc-by-sa"))
    [ds] = portal.datasets.values()
    assert ds.metadata["internal"]["license_id"] == {"value": "q7x1k0e"}


def test_unknown_theme_is_refused(target, portal, tmp_path):
    with pytest.raises(RejectedError, match=r"pas de thème 'Santé'.*Mobilité"):
        target.publish(make_publication(tmp_path, themes=["Santé"]))
    assert portal.writes() == []


def test_template_not_enabled_is_a_clear_error(portal, clock, publication):
    del portal.templates["inspire"]
    with pytest.raises(RejectedError, match="pas de modèle de métadonnées 'inspire'"):
        make_target(portal, clock).publish(publication)


def test_unchanged_sends_nothing(target, portal, publication):
    first = target.publish(publication)
    portal.requests.clear()
    again = republish(publication, first)
    assert target.publish(again).status == "unchanged"
    assert portal.writes() == []


def test_metadata_change_writes_only_the_changed_fields(target, portal, publication):
    first = target.publish(publication)
    portal.requests.clear()
    meta = publication.dataset.metadata.merged({"title": "Arceaux vélos"})
    changed = republish(publication, first, dataset=dataclasses.replace(publication.dataset, metadata=meta),
                        metadata_hash="other")
    plan = target.plan(changed)
    assert plan.action == "update" and plan.changes == ("default.title",)
    result = target.publish(changed)
    assert result.status == "updated" and result.changes == ("default.title",)
    writes = portal.writes()
    assert writes == [("PUT", f"/api/automation/v1.0/datasets/{first.remote_id}/metadata/default/title/"),
                      ("POST", f"/api/automation/v1.0/datasets/{first.remote_id}/publish_metadata/")]
    [ds] = portal.datasets.values()
    assert ds.published["metadata"]["default"]["title"] == {"value": "Arceaux vélos"}
    assert ds.metadata["default"]["keyword"]["value"] == ["vélo", "mobilité"], "other fields must stay"


def test_new_version_replaces_the_file_of_the_same_resource(target, portal, publication, tmp_path):
    first = target.publish(publication)
    bigger = make_publication(tmp_path / "v2", rows=5)
    result = target.publish(dataclasses.replace(bigger, previous=state_after(publication, first)))
    assert result.status == "updated" and "data" in result.changes
    [ds] = portal.datasets.values()
    [resource] = ds.resources.values()
    assert resource["uid"] == first.extra["resource_uid"]
    assert ds.published["records"] == 5


def test_lost_state_finds_the_dataset_by_slug(target, portal, publication):
    target.publish(publication)
    result = target.publish(publication)  # no previous state: found again by dataset_id
    assert result.status == "updated"
    assert len(portal.datasets) == 1
    [ds] = portal.datasets.values()
    assert len(ds.resources) == 1


def test_dataset_id_option_sets_the_slug(target, portal, publication):
    result = target.publish(dataclasses.replace(publication, options={"dataset_id": "velos-arceaux",
                                                                      "geographic_reference": ["fr_40_59350"]}))
    [ds] = portal.datasets.values()
    assert ds.dataset_id == "velos-arceaux" and result.url.endswith("/explore/dataset/velos-arceaux/")
    assert ds.metadata["default"]["geographic_reference"] == {"value": ["fr_40_59350"]}
    assert "geographic_reference_auto" not in ds.metadata["default"]


def test_crash_between_upload_and_publish_then_rerun(portal, clock, publication):
    crashing = make_target(portal, clock)
    crashing.api.retries = 0
    portal.fail("POST", r"/publish/$", status=503)
    with pytest.raises(UnavailableError):
        crashing.publish(publication)
    [ds] = portal.datasets.values()
    assert ds.resources and not ds.status["is_published"]
    result = make_target(portal, clock).publish(publication)  # the state store saved nothing
    assert result.status == "updated"
    assert len(portal.datasets) == 1
    [ds] = portal.datasets.values()
    assert len(ds.resources) == 1 and ds.status["is_published"] and ds.published["records"] == 3


def test_plan_lists_data_and_fields_for_a_lost_state(target, portal, publication):
    target.publish(publication)
    plan = target.plan(publication)
    assert plan.action == "update" and plan.changes == ("data",)
    assert portal.writes()[-1][0] == "POST"  # plan itself wrote nothing after publish


# -- asynchronous publication -------------------------------------------------------------------------

def test_busy_portal_is_waited_for(target, portal, clock, publication):
    portal.extra_busy_polls = 4
    first = target.publish(publication)
    # Writes while the portal processes are answered 400 invalid_dataset_status, then retried.
    bigger = make_publication(publication.data.parent / "v2", rows=4)
    [ds] = portal.datasets.values()
    ds.pending = ["processing", "processing", "done"]
    ds.status["status"] = "processing"
    result = target.publish(dataclasses.replace(bigger, previous=state_after(publication, first)))
    assert result.status == "updated" and ds.published["records"] == 4
    assert clock.sleeps and max(clock.sleeps) <= target.config.max_poll_interval


def test_processing_error_shows_the_portal_message(target, portal, publication):
    portal.fail_next_processing(message="Invalid date '31/02/2024'")
    with pytest.raises(RejectedError, match=r"n'a pas pu traiter les données : Invalid date '31/02/2024'"
                                            r".*enregistrement r1"):
        target.publish(publication)


def test_limit_reached_is_a_clear_failure(target, portal, publication):
    portal.fail_next_processing("limit_reached", "Records quota reached", limit_type="records", limit=1000,
                                value=1200)
    with pytest.raises(RejectedError, match=r"quota.*records : 1200 pour une limite de 1000"):
        target.publish(publication)


def test_time_limit_per_dataset(portal, clock, publication):
    portal.extra_busy_polls = 10_000
    target = make_target(portal, clock, publish_timeout=60)
    with pytest.raises(UnavailableError, match="traite encore") as info:
        target.publish(publication)
    assert info.value.retryable
    assert clock.now <= 60


def test_record_count_mismatch_fails(target, portal, publication):
    short = dataclasses.replace(publication, rows=publication.rows + 1)
    with pytest.raises(RejectedError, match="montre 3 enregistrements, mais 4 lignes ont été envoyées"):
        target.publish(short)


# -- faults ----------------------------------------------------------------------------------------

def test_429_with_retry_after_is_honoured(target, portal, clock, publication):
    portal.fail("POST", r"/resources/files/$", status=429, retry_after="7")
    assert target.publish(publication).status == "created"
    assert 7 in clock.sleeps
    assert len(portal.datasets) == 1


def test_persistent_429_is_rate_limited_error(target, portal, publication):
    portal.fail("GET", r"/datasets/$", status=429, retry_after="1", times=50)
    with pytest.raises(RateLimitedError):
        target.publish(publication)


def test_5xx_and_dropped_connection_are_retried(target, portal, publication):
    portal.fail("POST", r"/resources/$", status=502)
    portal.fail("GET", r"/status/$", drop=True)
    assert target.publish(publication).status == "created"
    [ds] = portal.datasets.values()
    assert len(ds.resources) == 1


def test_wrong_key_is_a_config_error(portal, clock, publication):
    target = make_target(portal, clock, api_key="wrong")
    with pytest.raises(ConfigError):
        target.publish(publication)


# -- archive ---------------------------------------------------------------------------------------

def test_archive_unpublishes_and_keeps(target, portal, publication):
    first = target.publish(publication)
    result = target.archive(publication.dataset, state_after(publication, first))
    assert result.status == "archived"
    [ds] = portal.datasets.values()
    assert not ds.status["is_published"] and ds.resources
    assert not any(m == "DELETE" for m, _ in portal.requests)
    again = target.publish(republish(publication, first))  # the source came back
    assert again.status == "updated" and "published" in again.changes


# -- secrets ---------------------------------------------------------------------------------------

def test_api_key_never_leaks(portal, clock, publication, caplog):
    caplog.set_level(logging.DEBUG)
    target = make_target(portal, clock)
    target.api.retries = 0
    portal.fail("POST", r"/datasets/$", status=500)
    with pytest.raises(UnavailableError) as info:
        target.publish(publication)
    texts = [str(info.value), repr(info.value), repr(target), repr(target.config), str(target.config.model_dump()),
             caplog.text]
    assert not any(KEY in text for text in texts)
    assert isinstance(target.config.api_key, SecretStr)


def test_unresolved_key_reference_is_a_config_error(portal):
    config = OpendatasoftTarget.Config.model_validate({"domain": portal.url, "api_key": {"env": "ODS_KEY"}})
    with pytest.raises(ConfigError, match="env:ODS_KEY"):
        OpendatasoftTarget(config)


def test_config_validation():
    with pytest.raises(ValueError, match="adresse du portail"):
        OpendatasoftTarget.Config.model_validate({"domain": "data.example.fr", "api_key": "k"})
    config = OpendatasoftTarget.Config.model_validate(
        {"domain": "https://data.example.fr/", "api_key": "k", "metadata_templates": ["dcat"]})
    assert config.domain == "https://data.example.fr" and config.metadata_templates == ["default", "dcat"]


def test_archive_without_remote_id(target, publication):
    from moisson.core.errors import NotFoundError

    with pytest.raises(NotFoundError):
        target.archive(publication.dataset, RemoteState())
