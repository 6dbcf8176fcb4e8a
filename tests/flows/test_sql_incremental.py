"""A PostGIS table through the whole flow, under a real Prefect server: `updated_at` spares unchanged exports."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from moisson.flows.harvest import run_datasets
from tests.connectors.sources.test_sql import PG_URL, execute, postgis_schema

pytestmark = pytest.mark.usefixtures("prefect_server")


@pytest.fixture
def velos_schema() -> Iterator[str]:
    with postgis_schema("moisson_flow", """
            CREATE TABLE {s}.arceaux (id integer PRIMARY KEY, nom text, maj timestamptz, geom geometry(Point, 2154));
            INSERT INTO {s}.arceaux VALUES
                (1, 'Mairie', '2026-01-01', ST_SetSRID(ST_MakePoint(700000, 6600000), 2154)),
                (2, 'Gare', '2026-01-02', ST_SetSRID(ST_MakePoint(704000, 7059000), 2154));""") as schema:
        yield schema


def test_updated_at_skips_the_export_until_a_row_is_newer(velos_schema, tmp_path: Path, moisson_home,
                                                          monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SIG_DB_URL", PG_URL)
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(textwrap.dedent(f"""\
        version: 1
        defaults: {{targets: [portail], metadata: {{license: lov2, producer: Commune}}}}
        sources:
          sig: {{connector: sql, config: {{url: {{env: SIG_DB_URL}}, schema: {velos_schema}}}}}
        targets:
          portail: {{connector: local, config: {{path: portal, title: Portail, publisher: Commune,
                                                  harvestable: false}}}}
        datasets:
          - id: arceaux
            source: sig
            locator: {{table: arceaux, id: id, updated_at: maj, geometry: geom}}
            metadata: {{title: Arceaux vélos, description: Arceaux de la commune}}
        """), encoding="utf-8")
    geojson = tmp_path / "portal" / "arceaux" / "arceaux.geojson"

    def names() -> list[str]:
        return [f["properties"]["nom"] for f in json.loads(geojson.read_text(encoding="utf-8"))["features"]]

    first = run_datasets(["arceaux"], catalog=str(catalog))[0]
    assert first.status == "published", first
    assert names() == ["Mairie", "Gare"]
    lon, lat = json.loads(geojson.read_text(encoding="utf-8"))["features"][0]["geometry"]["coordinates"]
    assert (lon, lat) == (3.0, 46.5)

    # A change that does not touch `updated_at` is not seen: proof that nothing was exported.
    execute(f"UPDATE {velos_schema}.arceaux SET nom = 'Hôtel de ville' WHERE id = 1")
    second = run_datasets(["arceaux"], catalog=str(catalog))[0]
    assert second.status == "unchanged" and second.rows is None, second
    assert names() == ["Mairie", "Gare"]

    execute(f"UPDATE {velos_schema}.arceaux SET maj = now() WHERE id = 1")
    third = run_datasets(["arceaux"], catalog=str(catalog))[0]
    assert third.status == "published", third
    assert names() == ["Hôtel de ville", "Gare"]

    # --force exports even when the fingerprint did not move (and the content hash then says unchanged).
    forced = run_datasets(["arceaux"], catalog=str(catalog), force=True)[0]
    assert forced.rows == 2
