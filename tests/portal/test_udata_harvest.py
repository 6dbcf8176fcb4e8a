"""data.gouv.fr's own DCAT harvester (the real udata 17.18) on the demo portal, served over HTTP on 127.0.0.1.

For every dataset of the portal (the demo run, the blocked one's good version, one variant per licence
id with a bbox) udata must keep what the portal says: title, description, tags, licence, frequency,
temporal and spatial coverage, schema, resources with URL, format, size and checksum. A second harvest
after a data change keeps the dataset and resource ids with the new checksum; a third, with nothing
changed, duplicates nothing.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests

from moisson.connectors.targets.datagouv import _tags as datagouv_tags
from moisson.connectors.targets.local.dcat import schema_url
from moisson.connectors.testing import state_after
from moisson.core.metadata import LICENSES
from tests.peers.process import free_port, wait_for
from tests.peers.udata_peer import running_udata, udata_python
from tests.portal.demo import BLOCKED, deliberations, demo_target, run_demo
from tests.portal.serving import serving

LAUNCHER = Path(__file__).with_name("udata_harvest_launcher.py")
BBOX = (2.95, 50.66, 3.02, 50.71)
FINISHED = ("done", "done-errors", "failed")
MARKDOWN = "Les **délibérations** adoptées en 2025.\n\n- une ligne par délibération\n- une colonne par champ"


@contextmanager
def harvesting_udata(workdir: Path) -> Iterator[dict[str, str]]:
    """The udata peer with its DCAT harvester; yields base_url, api_key, admin_key, org_id."""
    if not udata_python().is_file():
        pytest.skip(f"udata's venv missing at {udata_python()}: run scripts/peer-udata")
    with running_udata(workdir, LAUNCHER) as peer:
        yield {"base_url": peer.base_url, "api_key": peer.api_key, "org_id": peer.org_id, **peer.extra}


class Udata:
    """The few API calls of a harvest."""

    def __init__(self, peer: dict[str, str], log: Path) -> None:
        self.peer, self.log = peer, log

    def call(self, method: str, path: str, key: str | None = None, **body: Any) -> Any:
        headers = {"X-API-KEY": self.peer[key]} if key else {}
        answer = requests.request(method, f"{self.peer['base_url']}/api/1{path}", headers=headers,
                                  json=body or None, timeout=600)
        assert answer.ok, (method, path, answer.status_code, answer.text[:2000])
        return answer.json()

    def harvest(self, source_id: str, jobs_before: int) -> dict[str, Any]:
        """Wait until the source's next job has finished; return it with its items."""
        def finished() -> dict[str, Any] | None:
            jobs = self.call("GET", f"/harvest/source/{source_id}/jobs/")["data"]
            done = [j for j in jobs if j["status"] in FINISHED]
            return done[0] if len(done) > jobs_before else None

        job = wait_for(finished, "the harvest job", 300, self.log)
        items = self.call("GET", f"/harvest/job/{job['id']}/items/?page_size=100")
        return {**job, "items": items["data"] if isinstance(items, dict) else items}

    def datasets(self) -> dict[str, dict[str, Any]]:
        found = self.call("GET", f"/datasets/?organization={self.peer['org_id']}&page_size=100")
        return {d["harvest"]["remote_id"]: d for d in found["data"] if not d.get("deleted")}


@pytest.fixture(scope="module")
def harvested(tmp_path_factory, prefect_server) -> Any:
    root = tmp_path_factory.mktemp("harvest")
    port = free_port()
    base_url = f"http://127.0.0.1:{port}/"
    portal = run_demo(root / "demo", base_url)
    target = demo_target(portal, base_url)
    for license_id in LICENSES:
        target.publish(deliberations(root / license_id, rows=20, license_id=license_id,
                                     dataset_id=f"licence-{license_id}",
                                     title=f"Délibérations sous licence {license_id}", description=MARKDOWN,
                                     spatial={"zones": ["fr:commune:59350"], "bbox": BBOX, "granularity": "poi"}))
    (root / "udata").mkdir()
    with serving(portal, port), harvesting_udata(root / "udata") as peer:
        udata = Udata(peer, root / "udata" / "udata.log")
        source = udata.call("POST", "/harvest/sources/", "api_key", name="Portail de Moisson-sur-Lys",
                            url=base_url + "catalog.jsonld", backend="dcat", organization=peer["org_id"])
        udata.call("POST", f"/harvest/source/{source['id']}/validate/", "admin_key", state="accepted")
        job = udata.harvest(source["id"], 0)
        yield portal, target, udata, source["id"], job


def packages(portal: Path) -> dict[str, dict[str, Any]]:
    return {p.parent.name: json.loads(p.read_text(encoding="utf-8")) for p in portal.glob("*/datapackage.json")}


def test_every_dataset_is_harvested_whole(harvested):
    portal, _, udata, _, job = harvested
    failed = [(i["remote_id"], i["errors"]) for i in job["items"] if i["status"] != "done"]
    assert failed == []
    published = packages(portal)
    assert len(published) == 3 + len(LICENSES)
    remote = udata.datasets()
    assert set(remote) == set(published)
    catalog = {d["dct:identifier"]: d for d in json.loads((portal / "catalog.jsonld").read_text())["dcat:dataset"]}
    for dataset_id, package in published.items():
        extras, got = package["moisson"], remote[dataset_id]
        assert got["title"] == package["title"], dataset_id
        if "<" in package["description"]:
            # udata reads a description holding a tag as HTML and turns it into one Markdown paragraph.
            assert "<script>" not in got["description"] and got["description"].startswith("Les **délibérations**")
        else:
            assert got["description"] == catalog[dataset_id]["dct:description"].rstrip("\n"), dataset_id
            assert got["description"].startswith(package["description"].strip()), dataset_id
        words = package.get("keywords", []) + extras.get("themes", [])  # udata makes dcat:theme tags too
        assert sorted(got["tags"]) == sorted(set(datagouv_tags(words, dataset_id))), dataset_id
        assert got["license"] == package["licenses"][0]["name"], dataset_id
        assert got["frequency"] == extras["frequency"], dataset_id
        temporal = extras.get("temporal") or {}
        assert (got["temporal_coverage"] or {}).get("start", "")[:10] == temporal.get("start", ""), dataset_id
        if temporal.get("end"):
            assert got["temporal_coverage"]["end"][:10] == temporal["end"], dataset_id
        box = (extras.get("spatial") or {}).get("bbox") or extras.get("extent")
        if box:
            ring = got["spatial"]["geom"]["coordinates"][0][0]
            xs, ys = [x for x, _ in ring], [y for _, y in ring]
            assert (min(xs), min(ys), max(xs), max(ys)) == pytest.approx(tuple(box), abs=2e-4), dataset_id
        url, _ = schema_url(extras["schema"])
        resources = {r["url"]: r for r in got["resources"]}
        assert len(resources) == len(package["resources"]), dataset_id
        for resource in package["resources"]:
            mine = resources[f"{portal_url(catalog, dataset_id)}{resource['path']}"]
            assert mine["format"] == resource["format"], dataset_id
            assert mine["filesize"] == resource["bytes"] == (portal / dataset_id / resource["path"]).stat().st_size
            assert mine["checksum"] == {"type": "sha256", "value": resource["hash"].removeprefix("sha256:")}
            assert mine["description"], "each resource is documented (udata's quality score)"
            if resource["format"] == "csv":
                assert (mine.get("schema") or {}).get("url") == url, dataset_id


def test_licences_arrive_as_their_data_gouv_fr_ids(harvested):
    _, _, udata, _, _ = harvested
    remote = udata.datasets()
    assert {license_id: remote[f"licence-{license_id}"]["license"] for license_id in LICENSES} == {
        license_id: license_id for license_id in LICENSES}


def test_reharvest_keeps_ids_and_updates_the_checksum_then_duplicates_nothing(harvested, tmp_path):
    portal, target, udata, source_id, _ = harvested
    before = udata.datasets()
    first = deliberations(tmp_path / "again", license_id="lov2", dataset_id="licence-lov2", rows=20,
                          title="Délibérations sous licence lov2", description=MARKDOWN,
                          spatial={"zones": ["fr:commune:59350"], "bbox": BBOX, "granularity": "poi"})
    changed = deliberations(tmp_path / "changed", license_id="lov2", dataset_id="licence-lov2", rows=25,
                            title="Délibérations sous licence lov2", description=MARKDOWN,
                            spatial={"zones": ["fr:commune:59350"], "bbox": BBOX, "granularity": "poi"})
    package = packages(portal)["licence-lov2"]
    previous = state_after(first, target.publish(first))
    assert target.publish(dataclasses.replace(changed, previous=previous)).changes == ("data",)
    csv = (portal / "licence-lov2" / "licence-lov2.csv").read_bytes()
    new_checksum = hashlib.sha256(csv).hexdigest()
    assert new_checksum != package["resources"][0]["hash"].removeprefix("sha256:")
    udata.call("POST", f"/harvest/source/{source_id}/run/", "api_key")
    udata.harvest(source_id, 1)
    after = udata.datasets()
    assert set(after) == set(before)
    assert {k: d["id"] for k, d in after.items()} == {k: d["id"] for k, d in before.items()}
    lov2_before, lov2_after = before["licence-lov2"], after["licence-lov2"]
    assert [r["id"] for r in lov2_after["resources"]] == [r["id"] for r in lov2_before["resources"]]
    assert lov2_after["resources"][0]["checksum"]["value"] == new_checksum
    assert lov2_after["resources"][0]["filesize"] == len(csv)
    udata.call("POST", f"/harvest/source/{source_id}/run/", "api_key")
    udata.harvest(source_id, 2)
    last = udata.datasets()
    assert {k: (d["id"], [r["id"] for r in d["resources"]]) for k, d in last.items()} == {
        k: (d["id"], [r["id"] for r in d["resources"]]) for k, d in after.items()}
    total = udata.call("GET", f"/datasets/?organization={udata.peer['org_id']}&page_size=1")["total"]
    assert total == len(last), "nothing duplicated"
    assert BLOCKED in last


def portal_url(catalog: dict[str, Any], dataset_id: str) -> str:
    return catalog[dataset_id]["@id"]
