"""The double publication guard: no direct data.gouv.fr copy of a dataset it already harvests from a portal."""

from __future__ import annotations

from pathlib import Path

import pytest

from moisson.catalog.model import load_catalog

CATALOG = """
version: 1
sources:
  tableurs: {connector: spreadsheet, config: {root: data/}}
targets:
  datagouv: {connector: datagouv, config: {organization: "5f0c0ffee", api_key: {env: DATAGOUV_API_KEY}}}
  ods: {connector: opendatasoft, config: {domain: "https://data.example.fr", api_key: {env: ODS_API_KEY},
        harvested_by_datagouv: %s}}
  site: {connector: local, config: {path: portal, harvestable: false}}
datasets:
  - {id: velos, source: tableurs, locator: {path: velos.csv}, targets: {datagouv: {}, ods: {dataset_id: velos}}}
  - {id: salles, source: tableurs, locator: {path: salles.csv}, targets: [datagouv, site]}
"""


def catalog(tmp_path: Path, harvested: bool):
    path = tmp_path / "catalog.yaml"
    path.write_text(CATALOG % str(harvested).lower(), encoding="utf-8")
    return load_catalog(path)


def test_datagouv_is_skipped_when_it_harvests_the_portal(tmp_path):
    cat = catalog(tmp_path, harvested=True)
    skipped = cat.skipped_targets(cat.dataset("velos"))
    assert list(skipped) == ["datagouv"]
    assert "moissonne déjà ods" in skipped["datagouv"]


@pytest.mark.parametrize(("harvested", "dataset"), [(True, "salles"), (False, "velos")])
def test_nothing_is_skipped_otherwise(tmp_path, harvested, dataset):
    cat = catalog(tmp_path, harvested=harvested)
    assert cat.skipped_targets(cat.dataset(dataset)) == {}
