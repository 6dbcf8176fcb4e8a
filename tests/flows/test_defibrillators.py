"""One dataset from three sources: the commune's list (addresses only, geocoded by a real addok), OpenStreetMap
(an Overpass-like server) and the national base (a CSV with coordinates), merged and published."""

from __future__ import annotations

import csv
import io
import json
import math
import shutil
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from moisson.catalog.model import BUNDLED, load_catalog
from moisson.flows.harvest import run_datasets
from tests.fakes.overpass import running_overpass
from tests.peers import addok_peer

pytestmark = pytest.mark.usefixtures("prefect_server")

ADDRESSES = addok_peer.imaginary_commune_addresses(120)
MAIN = [a for a in ADDRESSES if a["citycode"] == addok_peer.MAIN_CITYCODE]
SCHEMA = {"fields": [
    {"name": "nom", "type": "string", "constraints": {"required": True}},
    {"name": "adresse", "type": "string"},
    {"name": "latitude", "type": "number", "constraints": {"required": True}},
    {"name": "longitude", "type": "number", "constraints": {"required": True}},
    {"name": "acces", "type": "string"},
]}


@pytest.fixture(scope="module")
def addok(tmp_path_factory) -> Iterator[str]:
    with addok_peer.running_or_skip(tmp_path_factory.mktemp("addok"), ADDRESSES) as url:
        yield url


def metres(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    return math.hypot((lat2 - lat1) * 111_320, (lon2 - lon1) * 111_320 * math.cos(math.radians(lat1)))


def test_three_sources_geocoded_merged_and_published(addok, tmp_path, moisson_home):
    here = MAIN[:6]  # the commune knows six, by address
    (tmp_path / "dae-commune.csv").write_text(
        "Nom;Adresse;Code postal;Ville;Accès\n" + "".join(
            f"DAE {i};{a['housenumber']} {a['street']};{a['postcode']};{a['city']};accueil\n"
            for i, a in enumerate(here)), encoding="utf-8")
    # The national base knows the first three (a few metres off) and gives their access hours.
    (tmp_path / "geodae.csv").write_text("nom,lat,lon,acces\n" + "".join(
        f"Défibrillateur {i},{a['lat'] + 0.00005:.6f},{a['lon']:.6f},24h/24\n" for i, a in enumerate(here[:3])),
        encoding="utf-8")
    # OpenStreetMap has the second one and one more nobody else knows.
    elements = [{"type": "node", "id": 901, "lat": here[1]["lat"], "lon": here[1]["lon"] + 0.00008,
                 "tags": {"emergency": "defibrillator", "name": "DAE mairie"}},
                {"type": "node", "id": 902, "lat": 50.6281, "lon": 3.0702,
                 "tags": {"emergency": "defibrillator", "name": "DAE stade"}}]
    (tmp_path / "dae.schema.json").write_text(json.dumps(SCHEMA), encoding="utf-8")
    with running_overpass(elements) as (overpass, state):
        catalog = tmp_path / "catalog.yaml"
        catalog.write_text(textwrap.dedent(f"""\
            version: 1
            defaults:
              targets: [portail]
              metadata: {{license: odc-odbl, title: Défibrillateurs, description: Les DAE de la commune}}
              organization: {{name: Moisson-sur-Lys, insee: "59350"}}
            geocoder: {{url: "{addok}"}}
            sources:
              tableurs: {{connector: spreadsheet, config: {{root: .}}}}
              osm: {{connector: osm, config: {{url: "{overpass}", retries: 0}}}}
            targets:
              portail: {{connector: local, config: {{path: ./portal, harvestable: false}}}}
            datasets:
              - id: defibrillateurs
                schema: dae.schema.json
                sources:
                  commune:
                    source: tableurs
                    locator: {{path: dae-commune.csv}}
                    prepare:
                      geocode:
                        address: [Adresse, Code postal, Ville]
                        citycode: "{{organization.insee}}"
                        into: {{lat: latitude, lon: longitude}}
                      fields:
                        nom: {{from: Nom}}
                        adresse: {{concat: [Adresse, Code postal, Ville]}}
                        acces: {{from: Accès}}
                  national:
                    source: tableurs
                    locator: {{path: geodae.csv}}
                    prepare:
                      fields: {{nom: {{from: nom}}, latitude: {{from: lat}}, longitude: {{from: lon}}}}
                  osm:
                    source: osm
                    locator: {{tags: {{emergency: defibrillator}}, area: "59350", geometry: {{lonlat: [lon, lat]}}}}
                    prepare:
                      fields: {{nom: {{from: name}}, latitude: {{from: lat}}, longitude: {{from: lon}}}}
                merge:
                  distance_m: 30
                  lat: latitude
                  lon: longitude
                  name: nom
                  precedence: {{default: [commune, national, osm], acces: [national, commune]}}
            """), encoding="utf-8")
        [outcome] = run_datasets(["defibrillateurs"], catalog=str(catalog))
    assert outcome.status == "published", outcome
    assert len(state.queries) == 1, "one Overpass query per run"
    text = (tmp_path / "portal" / "defibrillateurs" / "defibrillateurs.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 7  # six of the commune (three also national, one also OSM) and OSM's stade
    by_name = {r["nom"]: r for r in rows}
    for i, address in enumerate(here):
        row = by_name[f"DAE {i}"]
        assert metres(address["lat"], address["lon"], float(row["latitude"]), float(row["longitude"])) < 5
        assert row["acces"] == ("24h/24" if i < 3 else "accueil")
    assert by_name["DAE 1"]["source"] == "commune,national,osm"
    assert by_name["DAE stade"]["source"] == "osm" and "osm:node/902" in by_name["DAE stade"]["source_id"]


def test_a_point_in_another_commune_is_warned_and_its_commune_comes_from_the_cache_next_time(tmp_path,
                                                                                              moisson_home):
    inside = MAIN[10]
    outside = next(a for a in ADDRESSES if a["citycode"] == addok_peer.OTHER_CITYCODE)
    (tmp_path / "dae.csv").write_text("nom,latitude,longitude\n" + "".join(
        f"{name},{a['lat']},{a['lon']}\n" for name, a in (("DAE mairie", inside), ("DAE gare", outside))),
        encoding="utf-8")
    (tmp_path / "dae.schema.json").write_text(json.dumps(SCHEMA), encoding="utf-8")

    def run(url: str) -> dict:
        catalog = tmp_path / "catalog.yaml"
        catalog.write_text(textwrap.dedent(f"""\
            version: 1
            defaults:
              targets: [portail]
              metadata: {{license: lov2, title: Défibrillateurs, description: Les DAE de la commune}}
              organization: {{name: Moisson-sur-Lys, insee: "{addok_peer.MAIN_CITYCODE}"}}
            geocoder: {{url: "{url}", timeout: 5}}
            sources:
              tableurs: {{connector: spreadsheet, config: {{root: .}}}}
            targets:
              portail: {{connector: local, config: {{path: ./portal, harvestable: false}}}}
            datasets:
              - {{id: dae, source: tableurs, locator: {{path: dae.csv}}, schema: dae.schema.json}}
            """), encoding="utf-8")
        [outcome] = run_datasets(["dae"], catalog=str(catalog), force=True)
        assert outcome.status == "published", outcome  # a warning: the nearest address may lie across a boundary
        return json.loads(Path(outcome.quality.report).with_name("quality.json").read_text(encoding="utf-8"))

    with addok_peer.running_or_skip(tmp_path / "addok", ADDRESSES) as url:
        first = run(url)
    [warning] = [w for w in first["warnings"] if w["rule"] == "commune"]
    assert warning["row"] == 3 and warning["field"] == "latitude"
    for part in ("jeu dae", "Val-de-Moisson (59352)", f"attendue ({addok_peer.MAIN_CITYCODE})",
                 f"({outside['lon']}, {outside['lat']})"):
        assert part in warning["message"], warning["message"]
    assert any("2 points situés par le géocodeur" in n and "1 hors de la commune attendue" in n
               for n in first["notes"]), first["notes"]
    # addok is gone: the same points are answered from the cache, so the run still checks them.
    again = run(url)
    assert [w["message"] for w in again["warnings"] if w["rule"] == "commune"] == [warning["message"]]


def test_the_demo_merges_its_three_offline_sources_and_blocks_only_the_broken_csv(tmp_path, moisson_home):
    shutil.copytree(BUNDLED.parent / "demo", tmp_path / "deployments" / "demo")
    catalog = tmp_path / "deployments" / "catalog.yaml"
    shutil.copy(BUNDLED, catalog)
    every = list(load_catalog(catalog).datasets)  # what `moisson run --all` runs
    outcomes = {o.id: o for o in run_datasets(every, catalog=str(catalog))}
    assert {i: o.status for i, o in outcomes.items() if o.status != "published"} == {"salles-a-louer": "blocked"}
    dae = outcomes["defibrillateurs"]
    assert dae.quality.errors == 0, dae
    portal = tmp_path / "var" / "portal" / "defibrillateurs"
    rows = list(csv.DictReader((portal / "defibrillateurs.csv").open(encoding="utf-8")))
    # Six of the commune (three also in GéoDAE, two also in OpenStreetMap), one of each other source alone.
    assert len(rows) == 8
    by_name = {r["nom"]: r for r in rows}
    town_hall = by_name["Hôtel de ville"]
    assert town_hall["source"] == "commune,national" and town_hall["com_insee"] == "59999"
    assert (float(town_hall["lat_coor1"]), float(town_hall["long_coor1"])) == (50.69214, 2.98752), "corrections file"
    assert by_name["Halte ferroviaire"]["source"] == "commune,national,osm"
    assert by_name["Halte ferroviaire"]["disp_h"] == "heures ouvrables|heures de nuit", "disp_h: national first"
    assert by_name["Pharmacie du Centre"]["source"] == "national"
    park = by_name["DAE parc du Moulin"]
    assert park["source"] == "osm" and "osm:node/11000000023" in park["source_id"] and park["acc"] == "Extérieur"
    report = json.loads(next(tmp_path.glob("**/reports/defibrillateurs/*/quality.json")).read_text())
    assert any("pas de contrôle de la commune des points" in note for note in report["notes"]), report["notes"]
