"""The `datagouv` target against two layers, each behind the same fault-injecting proxy.

Every test runs twice (`backend`): against the hand-written fake data.gouv.fr (`tests/fakes_datagouv.py`)
and against the REAL udata 17.18.0 (mongomock), run from its own venv (`scripts/peer-udata`) and started
once per session on 127.0.0.1. In the tests, `udata` names whichever platform the run uses.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import requests
from pydantic import SecretStr

from moisson.connectors.base import DatasetDescriptor, Publication
from moisson.connectors.registry import load
from moisson.connectors.targets.datagouv import EXTRA_ID, DataGouvTarget
from moisson.connectors.testing import TargetContract, republish, state_after
from moisson.core.errors import ConfigError, NotFoundError, RejectedError, UnavailableError
from moisson.core.http import DeadlineError
from moisson.core.metadata import DatasetMetadata
from moisson.core.records import RemoteState
from tests.data import REFERENCE, REPO
from tests.fakes.datagouv import API, ROUTES, running_fake
from tests.peers.udata_peer import FaultProxy, Peer, running_udata, udata_python

SWAGGER = REFERENCE / "apis" / "datagouv-udata-17.18.0-api1.swagger.json"


@pytest.fixture(scope="session", params=["fake", "udata"])
def backend(request, tmp_path_factory) -> tuple[Peer, FaultProxy]:
    """The platform (the fake, or the real udata) and the fault-injecting proxy in front of it."""
    if request.param == "fake":
        platform = running_fake()
    elif not udata_python().exists():
        pytest.skip(f"the udata peer is not installed at {udata_python()}: run scripts/peer-udata")
    else:
        platform = running_udata(tmp_path_factory.mktemp("udata"))
    with platform as peer:
        proxy = FaultProxy(peer.base_url)
        yield peer, proxy
        proxy.close()


@pytest.fixture
def udata(backend: tuple[Peer, FaultProxy]) -> Peer:
    return backend[0]


@pytest.fixture
def proxy(backend: tuple[Peer, FaultProxy]) -> FaultProxy:
    return backend[1]


@pytest.fixture
def delays() -> list[float]:
    return []


def make_target(udata: Peer, proxy: FaultProxy, delays: list[float], **config: Any) -> DataGouvTarget:
    def sleep(seconds: float) -> None:
        delays.append(seconds)
        time.sleep(min(seconds, 1.1))  # real but short: the same-second upload quirk needs a new second

    settings = {"api": f"{proxy.url}/api/1", "organization": udata.org_id, "api_key": SecretStr(udata.api_key),
                "retries": 3, **config}
    return DataGouvTarget(DataGouvTarget.Config(**settings), sleep=sleep)


@pytest.fixture
def target(udata: Peer, proxy: FaultProxy, delays: list[float]) -> DataGouvTarget:
    proxy.faults.clear()
    return make_target(udata, proxy, delays)


def make_publication(folder: Path, *, rows: int = 3, dataset_id: str | None = None, title: str | None = None,
                     **metadata: Any) -> Publication:
    suffix = uuid.uuid4().hex[:8]
    dataset_id = dataset_id or f"equipements-{suffix}"
    frame = pd.DataFrame({"nom": [f"Salle {i}" for i in range(rows)], "capacite": list(range(rows)),
                          "geom": ['{"type": "Point", "coordinates": [3.06, 50.63]}'] * rows})
    folder.mkdir(parents=True, exist_ok=True)
    data = folder / f"{dataset_id}-{rows}.parquet"
    frame.to_parquet(data)
    meta = DatasetMetadata(**{
        "title": title or f"Équipements sportifs {suffix}",
        "description": "Salles et stades de **Lille**.\n\nMis à jour chaque mois.",
        "keywords": ["Sport", "équipements publics"],
        "producer": "Service des sports",
        "license": "lov2",
        "frequency": "monthly",
        "spatial": {"zones": ["fr:commune:59350"], "granularity": "fr:commune"},
        "temporal": {"start": "2019-01-01", "end": "2024-12-31"},
        **metadata,
    })
    content = hashlib.sha256(frame.to_csv().encode()).hexdigest()
    return Publication(
        dataset=DatasetDescriptor(id=dataset_id, locator={"table": "equipements"}, metadata=meta,
                                  schema="etalab/schema-equipements@1.0.0"),
        data=data, rows=rows, content_hash=content,
        metadata_hash=hashlib.sha256(meta.model_dump_json().encode()).hexdigest(), geometry="geom")


@pytest.fixture
def publication(tmp_path: Path) -> Publication:
    return make_publication(tmp_path)


def with_metadata(publication: Publication, **changes: Any) -> Publication:
    meta = publication.dataset.metadata.merged(changes)
    return dataclasses.replace(publication, dataset=dataclasses.replace(publication.dataset, metadata=meta),
                               metadata_hash=hashlib.sha256(meta.model_dump_json().encode()).hexdigest())


def remote(udata: Peer, remote_id: str) -> dict[str, Any]:
    response = requests.get(f"{udata.base_url}/api/1/datasets/{remote_id}/", headers={"X-API-KEY": udata.api_key},
                            timeout=30)
    response.raise_for_status()
    return response.json()


def org_datasets(udata: Peer, dataset_id: str) -> list[dict[str, Any]]:
    response = requests.get(f"{udata.base_url}/api/1/organizations/{udata.org_id}/datasets/",
                            params={"page_size": 1000}, headers={"X-API-KEY": udata.api_key}, timeout=30)
    return [d for d in response.json()["data"] if (d.get("extras") or {}).get(EXTRA_ID) == dataset_id
            and not d.get("deleted")]


class TestDataGouvContract(TargetContract):
    """The shared target contract, against both layers."""


def test_entry_point_is_declared() -> None:
    assert load("target", "datagouv") is DataGouvTarget


def test_first_publication_maps_all_metadata_and_verifies(target, publication, udata, proxy):
    start = len(proxy.log)
    result = target.publish(publication)
    assert result.status == "created"
    data = remote(udata, result.remote_id)
    assert data["title"] == publication.dataset.title
    assert data["description"].startswith("Salles et stades de **Lille**.")
    assert sorted(data["tags"]) == ["equipements-publics", "sport"]
    assert (data["license"], data["frequency"], data["private"]) == ("lov2", "monthly", False)
    assert data["temporal_coverage"] == {"start": "2019-01-01", "end": "2024-12-31"}
    assert data["spatial"]["zones"] == ["fr:commune:59350"] and data["spatial"]["granularity"] == "fr:commune"
    assert data["organization"]["id"] == udata.org_id
    assert data["extras"][EXTRA_ID] == publication.dataset.id
    assert data["extras"]["moisson:producer"] == "Service des sports"
    [resource] = data["resources"]
    assert resource["id"] == result.extra["resource_id"]
    assert resource["title"] == f"{publication.dataset.title} (CSV)"
    assert resource["format"] == "csv" and "3 lignes" in resource["description"]
    assert resource["schema"]["name"] == "etalab/schema-equipements" and resource["schema"]["version"] == "1.0.0"
    served = requests.get(resource["url"], timeout=30).text
    assert served.splitlines()[0] == "nom,capacite,geom" and len(served.splitlines()) == 4
    assert result.url.endswith(f"/datasets/{data['slug']}/")  # the page, or the API URL on the peer (no front end)
    writes = proxy.writes(start)
    assert [w[0] for w in writes] == ["POST", "POST", "PUT"], writes  # create, upload, resource metadata


def test_new_version_replaces_the_file_in_place(target, publication, udata, proxy, tmp_path):
    first = target.publish(publication)
    bigger = dataclasses.replace(make_publication(tmp_path / "v2", rows=5, dataset_id=publication.dataset.id,
                                                  title=publication.dataset.title),
                                 previous=state_after(publication, first))
    plan = target.plan(bigger)
    assert plan.action == "update" and "file" in plan.changes
    start = len(proxy.log)
    second = target.publish(bigger)
    assert second.status == "updated" and second.remote_id == first.remote_id
    assert second.extra["resource_id"] == first.extra["resource_id"]
    [resource] = remote(udata, first.remote_id)["resources"]
    assert len(requests.get(resource["url"], timeout=30).text.splitlines()) == 6
    assert resource["title"].endswith("(CSV)"), "the title reset by the upload must be put back"
    writes = proxy.writes(start)
    # Replacing within the second of the first upload hits udata's FileExists 500: retried, never a new resource.
    assert all(status == 500 for _, path, status in writes if isinstance(status, int) and status >= 400)
    methods = [w[0] + " " + re.sub(r"[0-9a-f-]{24,}", "ID", w[1]) for w in writes if w[2] != 500]
    assert methods == ["POST /api/1/datasets/ID/resources/ID/upload/", "PUT /api/1/datasets/ID/resources/ID/",
                       "PUT /api/1/datasets/ID/"], methods


def test_unchanged_sends_nothing_that_writes(target, publication, proxy):
    first = target.publish(publication)
    start = len(proxy.log)
    assert target.publish(republish(publication, first)).status == "unchanged"
    assert proxy.writes(start) == []
    assert len(proxy.log) - start == 1  # one read, to see that it is still there and the same


def test_metadata_change_is_previewed_per_field_and_applied(target, publication, udata):
    first = target.publish(publication)
    changed = with_metadata(republish(publication, first), frequency="quarterly", keywords=["sport", "piscines"])
    plan = target.plan(changed)
    assert plan.action == "update" and set(plan.changes) == {"frequency", "tags"}
    result = target.publish(changed)
    data = remote(udata, first.remote_id)
    assert result.status == "updated" and data["frequency"] == "quarterly"
    assert sorted(data["tags"]) == ["piscines", "sport"]


def test_hand_edit_on_the_platform_is_put_back(target, publication, udata):
    first = target.publish(publication)
    requests.put(f"{udata.base_url}/api/1/datasets/{first.remote_id}/", json={"title": "Edited", "tags": []},
                 headers={"X-API-KEY": udata.api_key}, timeout=30).raise_for_status()
    again = republish(publication, first)
    # udata empties the tags and temporal coverage a PUT omits: both are put back too.
    assert set(target.plan(again).changes) == {"title", "tags", "temporal_coverage"}
    assert target.publish(again).status == "updated"
    assert remote(udata, first.remote_id)["title"] == publication.dataset.title


def test_lost_state_finds_the_dataset_by_extras(target, publication, udata):
    first = target.publish(publication)
    assert target.plan(publication).action == "unchanged"  # no previous state at all
    assert target.publish(publication).remote_id == first.remote_id
    assert len(org_datasets(udata, publication.dataset.id)) == 1


def test_existing_dataset_made_by_hand_is_adopted_by_slug(target, publication, udata):
    made = requests.post(f"{udata.base_url}/api/1/datasets/", headers={"X-API-KEY": udata.api_key}, timeout=30,
                         json={"title": publication.dataset.title, "description": "by hand",
                               "organization": udata.org_id}).json()
    result = target.publish(publication)
    assert result.status == "updated" and result.remote_id == made["id"]


def test_catalog_option_names_the_dataset_to_update(target, publication, udata):
    made = requests.post(f"{udata.base_url}/api/1/datasets/", headers={"X-API-KEY": udata.api_key}, timeout=30,
                         json={"title": "Another title", "description": "by hand", "organization": udata.org_id}).json()
    result = target.publish(dataclasses.replace(publication, options={"dataset": made["slug"]}))
    assert result.remote_id == made["id"] and result.status == "updated"


def test_unknown_licence_is_refused_before_writing(target, publication, proxy):
    start = len(proxy.log)
    with pytest.raises(RejectedError, match=r"la licence 'cc-by' n'est pas proposée.*lov2"):
        target.publish(with_metadata(publication, license="cc-by"))  # valid id, absent from this platform
    assert proxy.writes(start) == []


def test_field_errors_from_udata_are_shown_per_field(target, publication):
    bad = with_metadata(publication, spatial={"zones": ["fr:commune:99999"]})
    with pytest.raises(RejectedError) as info:
        target.publish(bad)
    message = str(info.value)
    assert "spatial.zones :" in message and "99999" in message and publication.dataset.id in message


def test_short_keyword_is_refused_clearly(target, publication):
    with pytest.raises(RejectedError, match=r"de 3 à 96 caractères.*'BD'"):
        target.plan(with_metadata(publication, keywords=["BD", "sport"]))


def test_bad_key_names_the_organization(udata, proxy, delays, publication):
    target = make_target(udata, proxy, delays, api_key=SecretStr("udata_not-a-real-key"))
    with pytest.raises(ConfigError, match=udata.org_id) as info:
        target.publish(publication)
    assert "401" in str(info.value) and not info.value.retryable


def test_non_member_gets_a_permission_message(udata, proxy, delays, target, publication):
    first = target.publish(publication)
    outsider = make_target(udata, proxy, delays, api_key=SecretStr(udata.outsider_key))
    with pytest.raises(ConfigError, match=r"403.*membre administrateur ou éditeur"):
        outsider.publish(with_metadata(republish(publication, first), frequency="annual"))


def test_429_with_retry_after_is_honoured(target, publication, proxy, delays):
    proxy.inject("POST", r"/datasets/$", "429", headers={"Retry-After": "1"})
    assert target.publish(publication).status == "created"
    assert delays[0] == 1


def test_500_on_upload_is_retried_without_a_second_resource(target, publication, proxy, udata):
    proxy.inject("POST", r"/upload/$", "500")
    result = target.publish(publication)
    assert len(remote(udata, result.remote_id)["resources"]) == 1


def test_upload_answer_lost_adopts_the_resource_instead_of_duplicating(target, publication, proxy, udata):
    proxy.inject("POST", r"/upload/$", "drop-after")  # udata stores the file, the client never hears of it
    result = target.publish(publication)
    assert result.status == "created"
    assert len(remote(udata, result.remote_id)["resources"]) == 1


def test_dropped_connection_on_read_is_retried(target, publication, proxy):
    proxy.inject("GET", r"/organizations/", "drop")
    assert target.publish(publication).status == "created"


def test_persistent_5xx_is_a_retryable_error(target, publication, proxy):
    for _ in range(4):
        proxy.inject("GET", r"/organizations/", "503")
    with pytest.raises(UnavailableError) as info:
        target.plan(publication)
    assert info.value.retryable


def test_deleted_on_the_platform_is_not_recreated_unless_asked(target, publication, udata, proxy):
    first = target.publish(publication)
    requests.delete(f"{udata.base_url}/api/1/datasets/{first.remote_id}/", headers={"X-API-KEY": udata.api_key},
                    timeout=30).raise_for_status()
    again = republish(publication, first)
    assert target.plan(again).action == "skip"
    start = len(proxy.log)
    with pytest.raises(NotFoundError, match="recreate: true"):
        target.publish(again)
    assert proxy.writes(start) == []
    recreated = target.publish(dataclasses.replace(again, options={"recreate": True}))
    assert recreated.status == "created" and recreated.remote_id != first.remote_id
    assert len(org_datasets(udata, publication.dataset.id)) == 1


def test_archive_keeps_the_dataset_and_its_tags(target, publication, udata):
    first = target.publish(publication)
    result = target.archive(publication.dataset, state_after(publication, first))
    data = remote(udata, first.remote_id)
    assert result.status == "archived" and data["archived"] and not data["deleted"]
    assert sorted(data["tags"]) == ["equipements-publics", "sport"]
    plan = target.plan(republish(publication, first))
    assert plan.action == "update" and "unarchived" in plan.changes


def test_api_key_never_appears_in_errors_logs_or_reprs(udata, proxy, delays, publication, caplog):
    caplog.set_level(logging.DEBUG)
    secret = "udata_this-key-must-stay-hidden"
    target = make_target(udata, proxy, delays, api_key=SecretStr(secret))
    with pytest.raises(ConfigError) as info:
        target.publish(publication)
    shown = " ".join([str(info.value), repr(info.value), repr(target), repr(target.config),
                      str(target.config.model_dump()), caplog.text])
    assert secret not in shown and "X-API-KEY" not in shown


def swagger_operations() -> set[tuple[str, str]]:
    """(METHOD, path template under /api/1) of every operation in the stored udata Swagger file."""
    if not SWAGGER.exists():
        pytest.skip(f"{SWAGGER} is absent (shared reference data)")
    spec = json.loads(SWAGGER.read_text())
    assert spec["basePath"] == API
    return {(method.upper(), path) for path, item in spec["paths"].items() for method in item if method != "parameters"}


def test_every_route_used_exists_in_the_udata_swagger(proxy):
    routes = [(method, re.compile("^" + API + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$"))
              for method, path in swagger_operations()]
    used = {(method, path.split("?")[0]) for method, path, _ in proxy.log
            if path.startswith(API + "/")}  # not the served files (/resources/…)
    assert used, "run with the other tests of this module"
    unknown = [(m, p) for m, p in used if not any(m == rm and rx.match(p) for rm, rx in routes)]
    assert unknown == []


def test_every_route_the_fake_serves_is_in_the_udata_swagger():
    """Fake only (no backend): its whole route table, method and path template, against the generated spec."""
    served = {(method, template) for method, template, _ in ROUTES}
    assert len(served) == len(ROUTES) and served - swagger_operations() == set()


KILLED_RUN = """
import json, sys
from pathlib import Path
from pydantic import SecretStr
from moisson.connectors.base import DatasetDescriptor, Publication
from moisson.core.records import RemoteState
from moisson.core.metadata import DatasetMetadata
from moisson.connectors.targets.datagouv import DataGouvTarget
args = json.loads(sys.argv[1])
config = DataGouvTarget.Config(api=args["api"], organization=args["org"], api_key=SecretStr(args["key"]))
dataset = DatasetDescriptor(id=args["id"], locator={}, metadata=DatasetMetadata(**args["metadata"]))
DataGouvTarget(config).publish(Publication(dataset=dataset, data=Path(args["data"]), rows=args["rows"],
                                           content_hash=args["hash"], metadata_hash="m"))
"""


def test_run_killed_between_creation_and_upload_converges_on_rerun(target, publication, udata, proxy):
    meta = publication.dataset.metadata.model_dump(mode="json", exclude_none=True)
    args = {"api": f"{proxy.url}/api/1", "org": udata.org_id, "key": udata.api_key, "id": publication.dataset.id,
            "metadata": meta, "data": str(publication.data), "rows": publication.rows,
            "hash": publication.content_hash}
    child = subprocess.Popen([sys.executable, "-c", KILLED_RUN, json.dumps(args)], cwd=REPO,
                             env={**os.environ, "PYTHONPATH": str(REPO)})
    proxy.inject("POST", r"/upload/$", "call", callback=lambda: os.kill(child.pid, signal.SIGKILL))
    assert child.wait(timeout=120) == -signal.SIGKILL
    [created] = org_datasets(udata, publication.dataset.id)
    assert created["resources"] == []  # killed after creating the dataset, before its file
    rerun = dataclasses.replace(publication, dataset=dataclasses.replace(
        publication.dataset, metadata=DatasetMetadata(**meta)))
    result = target.publish(rerun)
    [dataset] = org_datasets(udata, publication.dataset.id)
    assert dataset["id"] == created["id"] == result.remote_id
    [resource] = dataset["resources"]
    served = requests.get(resource["url"], timeout=30).text.splitlines()
    assert served[0] == "nom,capacite,geom" and len(served) == publication.rows + 1



def test_catalog_declares_the_target_with_a_key_reference(tmp_path, monkeypatch):
    from moisson.catalog.model import load_catalog
    from moisson.tasks.connect import build_target

    path = tmp_path / "catalog.yaml"
    path.write_text("version: 1\ntargets:\n  datagouv:\n    connector: datagouv\n    config:\n"
                    "      api: https://demo.data.gouv.fr/api/1\n      organization: 5a0b0c0d0e0f101112131415\n"
                    "      api_key: {env: DATAGOUV_TEST_KEY}\n      private: true\n")
    monkeypatch.setenv("DATAGOUV_TEST_KEY", "udata_from-the-environment")
    target = build_target(load_catalog(path), "datagouv")
    assert isinstance(target, DataGouvTarget) and target.config.private
    assert target.config.api_key.get_secret_value() == "udata_from-the-environment"
    assert "udata_from-the-environment" not in repr(target) + repr(target.config)
    monkeypatch.delenv("DATAGOUV_TEST_KEY")
    with pytest.raises(ConfigError, match="DATAGOUV_TEST_KEY n'est pas définie"):
        build_target(load_catalog(path), "datagouv")


def test_an_answer_slower_than_the_timeout_fails_naming_the_setting(udata, proxy, delays, publication):
    # A peer past its deadline would be as slow again: the run fails at once, saying what to raise.
    target = make_target(udata, proxy, delays, timeout=1)
    proxy.faults.clear()
    proxy.inject("GET", r"/organizations/", "slow", delay=2.5)
    with pytest.raises(DeadlineError, match=r"en 1 s.*relevez `timeout` du connecteur datagouv"):
        target.publish(publication)
    assert any(status == "slow" for _, _, status in proxy.log) and not delays


def test_a_dribbling_file_download_fails_within_the_timeout(udata, proxy, delays, publication):
    # The check after upload reads the served file under the same deadline as any answer: a file server
    # sending a byte every half second (a per-read timeout never fires) fails the publication in time.
    target = make_target(udata, proxy, delays, timeout=2)
    proxy.faults.clear()
    proxy.inject("GET", r"\.csv", "dribble", delay=0.5)
    setting = r"127\.0\.0\.1.*en 2 s.*relevez `timeout` du connecteur datagouv"
    with pytest.raises(DeadlineError, match=setting) as info:
        target.publish(publication)
    assert info.value.dataset_id == publication.dataset.id and not info.value.retryable
    assert [status for _, _, status in proxy.log].count("dribble") == 1, "read once, not retried"


def test_private_publication_is_hidden_from_outsiders(udata, proxy, delays, publication):
    target = make_target(udata, proxy, delays, private=True)
    result = target.publish(publication)
    assert remote(udata, result.remote_id)["private"] is True
    anonymous = requests.get(f"{udata.base_url}/api/1/datasets/{result.remote_id}/", timeout=30)
    assert anonymous.status_code == 404
    assert target.plan(republish(publication, result)).action == "unchanged"


def test_lost_state_search_follows_the_organization_pages(target, publication, udata, proxy, monkeypatch):
    from moisson.connectors.targets import datagouv

    first = target.publish(publication)
    for n in range(3):  # datasets created after ours push it off the first page
        requests.post(f"{udata.base_url}/api/1/datasets/", headers={"X-API-KEY": udata.api_key}, timeout=30,
                      json={"title": f"Autre {n}", "description": "x", "organization": udata.org_id})
    monkeypatch.setattr(datagouv, "PAGE_SIZE", 2)
    start = len(proxy.log)
    assert target.publish(publication).remote_id == first.remote_id
    pages = [path for method, path, _ in proxy.log[start:] if re.search(r"/organizations/[^/]+/datasets/", path)]
    assert len(pages) >= 2, pages


def test_archive_without_state_finds_ours_only(target, publication, udata, tmp_path):
    first = target.publish(publication)
    assert target.archive(publication.dataset, RemoteState()).remote_id == first.remote_id
    stranger = make_publication(tmp_path / "other")
    made = requests.post(f"{udata.base_url}/api/1/datasets/", headers={"X-API-KEY": udata.api_key}, timeout=30,
                         json={"title": stranger.dataset.title, "description": "by hand",
                               "organization": udata.org_id}).json()
    with pytest.raises(NotFoundError, match="jamais été publié"):
        target.archive(stranger.dataset, RemoteState())  # same title, but not a moisson dataset: left alone
    assert remote(udata, made["id"])["archived"] is None


# -- the platform itself: quirks the target relies on, the same on the fake and on the real udata --------------


def api(udata: Peer, method: str, path: str, **kwargs: Any) -> requests.Response:
    return requests.request(method, f"{udata.base_url}{API}/{path}", headers={"X-API-KEY": udata.api_key},
                            timeout=30, **kwargs)


def test_platform_stores_unknown_licence_as_notspecified_and_slugs_tags(udata):
    made = api(udata, "POST", "datasets/", json={"title": f"Quirks {uuid.uuid4().hex[:8]}", "description": "x",
                                                  "organization": udata.org_id, "license": "cc-by",
                                                  "tags": ["Équipements publics"]})
    assert made.status_code == 201, made.text
    assert made.json()["license"] == "notspecified" and made.json()["tags"] == ["equipements-publics"]
    refused = api(udata, "PUT", f"datasets/{made.json()['id']}/", json={"tags": ["ab"]})
    assert refused.status_code == 400 and "tags" in refused.json()["errors"]


def test_platform_put_empties_omitted_tags_and_coverage_but_keeps_private(udata):
    made = api(udata, "POST", "datasets/", json={
        "title": f"Quirks {uuid.uuid4().hex[:8]}", "description": "x", "organization": udata.org_id,
        "private": True, "tags": ["sport"], "temporal_coverage": {"start": "2020-01-01", "end": "2020-12-31"}}).json()
    after = api(udata, "PUT", f"datasets/{made['id']}/", json={"description": "y"}).json()
    assert (after["tags"], after["temporal_coverage"], after["private"]) == ([], None, True)


def test_platform_soft_deletes(udata):
    made = api(udata, "POST", "datasets/", json={"title": f"Quirks {uuid.uuid4().hex[:8]}", "description": "x",
                                                  "organization": udata.org_id}).json()
    assert api(udata, "DELETE", f"datasets/{made['id']}/").status_code == 204
    anonymous = requests.get(f"{udata.base_url}{API}/datasets/{made['id']}/", timeout=30)
    assert anonymous.status_code == 410
    everything = api(udata, "GET", f"organizations/{udata.org_id}/datasets/", params={"page_size": 1000}).json()
    listed = [d for d in everything["data"] if d["id"] == made["id"]]
    assert listed and listed[0]["deleted"]


def test_platform_refuses_a_second_upload_of_one_name_within_the_second(udata, tmp_path):
    made = api(udata, "POST", "datasets/", json={"title": f"Quirks {uuid.uuid4().hex[:8]}", "description": "x",
                                                  "organization": udata.org_id}).json()
    file = tmp_path / "same.csv"
    file.write_text("a,b\n1,2\n")
    # Both uploads must fall within one clock second: start right after a tick, and try again (a loaded
    # machine may be slower than a second) until a pair did; the check reads which second each fell in.
    for _ in range(10):
        time.sleep(1 - time.time() % 1)
        started = time.time()
        first = api(udata, "POST", f"datasets/{made['id']}/upload/", files={"file": file.open("rb")})
        assert first.status_code == 201, first.text
        second = api(udata, "POST", f"datasets/{made['id']}/resources/{first.json()['id']}/upload/",
                     files={"file": file.open("rb")})
        if int(time.time()) == int(started):
            break
    else:
        pytest.fail("two small uploads never fitted within one second")
    assert second.status_code == 500
    resource = first.json()
    assert resource["checksum"] == {"type": "sha1", "value": hashlib.sha1(file.read_bytes()).hexdigest()}
    assert resource["filesize"] == file.stat().st_size and resource["title"] == "same.csv"
    assert requests.get(resource["url"], timeout=30).content == file.read_bytes()
