"""A version the quality gate blocks leaves the good one online, and the portal page says since when."""

from __future__ import annotations

import json

import pytest

from moisson.flows.harvest import run_datasets
from tests.data import salles_catalog

pytestmark = pytest.mark.usefixtures("prefect_server")

SCHEMA = {"fields": [{"name": "nom", "type": "string"}, {"name": "places", "type": "integer"}]}


def test_a_blocked_version_is_shown_as_such_and_never_published(tmp_path, moisson_home):
    (tmp_path / "schema.json").write_text(json.dumps(SCHEMA), encoding="utf-8")
    data = tmp_path / "salles.csv"
    data.write_text("nom,places\nSalle des fêtes,120\nMaison des associations,40\n", encoding="utf-8")
    catalog = salles_catalog(tmp_path, schema="schema.json")
    [first] = run_datasets(["salles"], catalog=str(catalog))
    assert first.status == "published", first
    published = (tmp_path / "portal" / "salles" / "salles.csv").read_bytes()
    data.write_text("nom,places\nSalle des fêtes,beaucoup\nMaison des associations,40\n", encoding="utf-8")
    [second] = run_datasets(["salles"], catalog=str(catalog))
    assert second.status == "blocked"
    assert (tmp_path / "portal" / "salles" / "salles.csv").read_bytes() == published
    blocked = json.loads((tmp_path / "portal" / "salles" / "datapackage.json").read_text())["moisson"]["blocked"]
    assert blocked["since"] and "1 erreur de qualité" in blocked["reason"]
    assert "bloqu" in (tmp_path / "portal" / "salles" / "index.html").read_text(encoding="utf-8")
