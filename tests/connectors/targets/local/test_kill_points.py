"""A publication SIGKILLed at any point converges on the next run: catalog, pages and files agree with the disk."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import pickle
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from moisson.connectors.targets.local import LocalTarget, site
from moisson.connectors.testing import republish, state_after
from moisson.core.records import RemoteState
from tests.connectors.targets.local.killed_publish import POINTS
from tests.connectors.targets.test_local import BASE_URL, equipements, make_publication
from tests.data import REPO


def config(portal: Path) -> LocalTarget.Config:
    return LocalTarget.Config(path=portal, base_url=BASE_URL, title="Villeneuve en données")


def killed(portal: Path, publication, point: str, tmp_path: Path) -> None:
    pickled = tmp_path / "publication.pickle"
    pickled.write_bytes(pickle.dumps(publication))
    child = subprocess.run([sys.executable, "-m", "tests.connectors.targets.local.killed_publish",
                            config(portal).model_dump_json(), str(pickled), point],
                           cwd=REPO, capture_output=True, text=True, timeout=120)
    assert child.returncode == -signal.SIGKILL, child.stderr


def agrees_with_disk(portal: Path, dataset_id: str) -> None:
    """Catalog checksums are the files' own; every page was rendered from the package now on disk."""
    package = json.loads((portal / dataset_id / "datapackage.json").read_text(encoding="utf-8"))
    catalog = json.loads((portal / "catalog.jsonld").read_text(encoding="utf-8"))
    listed = next(d for d in catalog["dcat:dataset"] if d["dct:identifier"] == dataset_id)
    for distribution in listed["dcat:distribution"]:
        name = distribution["dcat:downloadURL"]["@id"].rsplit("/", 1)[1]
        digest = hashlib.sha256((portal / dataset_id / name).read_bytes()).hexdigest()
        assert distribution["spdx:checksum"]["spdx:checksumValue"] == digest, name
    assert {r["path"] for r in package["resources"]} == {
        d["dcat:downloadURL"]["@id"].rsplit("/", 1)[1] for d in listed["dcat:distribution"]}
    page = (portal / dataset_id / "index.html").read_text(encoding="utf-8")
    assert site.rendered_from(page) is not None
    assert [p.name for p in portal.iterdir() if p.name.startswith(".")] == [".moisson.lock"], "no leftovers"
    assert not list(portal.glob(f"{dataset_id}/.index.html.*"))


@pytest.mark.parametrize("point", POINTS)
def test_a_kill_at_any_point_converges_on_the_next_run(tmp_path, point):
    portal = tmp_path / "portal"
    target = LocalTarget(config(portal))
    first_publication = make_publication(tmp_path / "a")
    first = target.publish(first_publication)
    stored = state_after(first_publication, first)
    changed = make_publication(tmp_path / "b", frame=equipements(("Piscine", "Dojo", "Skatepark")))
    changed = dataclasses.replace(changed, previous=stored)  # the state store still knows the first version
    killed(portal, changed, point, tmp_path)

    result = target.publish(changed)  # the next scheduled run, in a fresh process's shoes
    assert result.status == "updated"
    if point in ("after-swap", "during-catalog-write", "during-index-write"):
        assert result.changes == ("portal",), "the new files were in place: only the catalog and pages are rebuilt"
    else:
        assert "data" in result.changes
    agrees_with_disk(portal, "equipements-sportifs")
    assert "Piscine" in (portal / "equipements-sportifs" / "equipements-sportifs.csv").read_text(encoding="utf-8")
    assert "Piscine" in (portal / "equipements-sportifs" / "index.html").read_text(encoding="utf-8")
    assert target.publish(republish(changed, result)).status == "unchanged", "converged: a third run does nothing"


def test_a_catalog_out_of_date_with_the_files_is_rebuilt_even_when_the_state_says_unchanged(tmp_path):
    portal = tmp_path / "portal"
    target = LocalTarget(config(portal))
    publication = make_publication(tmp_path / "a")
    first = target.publish(publication)
    catalog = json.loads((portal / "catalog.jsonld").read_text(encoding="utf-8"))
    catalog["dcat:dataset"][0]["dcat:distribution"][0]["spdx:checksum"]["spdx:checksumValue"] = "0" * 64
    (portal / "catalog.jsonld").write_text(json.dumps(catalog), encoding="utf-8")
    again = republish(publication, first)
    assert again.unchanged, "the state store believes the portal is current"
    assert target.plan(again).changes == ("portal",)
    assert target.publish(again).changes == ("portal",)
    agrees_with_disk(portal, "equipements-sportifs")


def test_force_republishes_everything(tmp_path):
    portal = tmp_path / "portal"
    target = LocalTarget(config(portal))
    publication = make_publication(tmp_path / "a")
    first = target.publish(publication)
    before = json.loads((portal / "equipements-sportifs" / "datapackage.json").read_text())["moisson"]["published"]
    forced = dataclasses.replace(publication, previous=RemoteState(remote_id=first.remote_id))  # what --force sends
    plan = target.plan(forced)
    assert (plan.action, plan.changes) == ("update", ("data", "metadata"))
    folder_before = (portal / "equipements-sportifs").stat().st_ino
    assert target.publish(forced).status == "updated"
    assert (portal / "equipements-sportifs").stat().st_ino != folder_before, "a new folder was swapped in"
    after = json.loads((portal / "equipements-sportifs" / "datapackage.json").read_text())["moisson"]["published"]
    assert after >= before
    agrees_with_disk(portal, "equipements-sportifs")
