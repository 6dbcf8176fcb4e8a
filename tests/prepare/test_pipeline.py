"""End to end: a department file, `moisson prepare suggest --write`, the real harvest flow, the real Validata.

The SCDL reference examples made into department files (tests/prepare/department.py) and an older layout of
SCDL subventions (the Latin-1 export without `rnaBeneficiaire` and `dispositifAide`, `notificationUE` twice) get
their recipe written into the catalog by the CLI, are harvested by the real flows under a real Prefect server to a
local portal, and the published CSV must be what the real Validata accepts, in the schema's current layout.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from ruamel.yaml import YAML
from typer.testing import CliRunner

from moisson.catalog.model import BUNDLED
from moisson.cli import app
from moisson.flows.harvest import run_datasets
from tests.data import REPO, SCDL
from tests.fidelity.test_published import validata_copy
from tests.peers import validata_peer
from tests.prepare.department import department, examples

pytestmark = pytest.mark.usefixtures("prefect_server")


def dataset_id(example: Path) -> str:
    folder = example.parent.parent if example.parent.name == "exemples" else example.parent
    return f"dept-{folder.name}"[:60].rstrip("-")


def catalog(folder: Path, organization: dict, datasets: list[dict]) -> Path:
    path = folder / "catalog.yaml"
    text = {"version": 1,
            "defaults": {"targets": ["portail"], "organization": organization,
                         "metadata": {"license": "lov2", "description": "Test des recettes.",
                                      "producer": "Commune de test"}},
            "sources": {"files": {"connector": "spreadsheet", "config": {"root": str(folder / "data")}}},
            "targets": {"portail": {"connector": "local", "config": {"path": str(folder / "portal"),
                                                                     "base_url": "https://donnees.test.fr/"}}},
            "datasets": datasets}
    path.write_text("# Recettes écrites par moisson prepare suggest --write\n" + json.dumps(text, ensure_ascii=False,
                                                                                             indent=1),
                    encoding="utf-8")
    return path


def suggest_and_write(path: Path, ids: list[str]) -> None:
    for dataset in ids:
        result = CliRunner().invoke(app, ["prepare", "suggest", dataset, "--catalog", str(path), "--write", "--json"])
        assert result.exit_code == 0, result.output
        assert json.loads(result.output)["unmapped_required"] == []


def published(folder: Path, dataset: str) -> Path:
    return folder / "portal" / dataset / f"{dataset}.csv"


@pytest.fixture(scope="module")
def harvested(tmp_path_factory):
    """Every department file harvested through its written recipe, one catalog per publisher."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MOISSON_HOME", str(tmp_path_factory.mktemp("home")))
        patch.delenv("MOISSON_STATE_URL", raising=False)
        yield _harvest_departments(tmp_path_factory)


def _harvest_departments(tmp_path_factory) -> dict:
    groups: dict[str, tuple[Path, dict, list]] = {}
    for example in examples():
        dept = department(example)
        names = [v for k, v in dept.removed.items() if "nom" in k.lower()]
        sirets = [v for v in dept.removed.values() if len(v) == 14 and v.isdigit()]
        organization = {"name": names[0] if names else "Commune de test",
                        "siret": sirets[0] if sirets else "21590350100017"}
        folder = tmp_path_factory.mktemp(organization["siret"]) if organization["siret"] not in groups else \
            groups[organization["siret"]][0]
        (folder / "data").mkdir(exist_ok=True)
        ds = dataset_id(example)
        dept.frame.to_csv(folder / "data" / f"{ds}.csv", index=False, encoding="utf-8")
        entry = {"id": ds, "source": "files", "locator": {"path": f"{ds}.csv"}, "schema": str(dept.schema),
                 "metadata": {"title": f"Recette {ds}"}}
        if "defibrillateurs" in ds:  # it names its public contact person, as the fidelity test says
            entry["quality"] = {"personal_data": {"contact_name": "keep"}}
        groups.setdefault(organization["siret"], (folder, organization, []))[2].append((entry, dept))
    runs = {}
    for folder, organization, entries in groups.values():
        path = catalog(folder, organization, [e for e, _ in entries])
        suggest_and_write(path, [e["id"] for e, _ in entries])
        outcomes = {o.id: o for o in run_datasets([e["id"] for e, _ in entries], catalog=str(path))}
        for entry, dept in entries:
            runs[entry["id"]] = (folder, path, dept, outcomes[entry["id"]])
    return runs


def test_the_written_recipes_keep_the_catalog_comments_and_validate(harvested):
    for dataset, (_, path, dept, _) in harvested.items():
        text = path.read_text(encoding="utf-8")
        assert text.startswith("# Recettes écrites par moisson prepare suggest --write")
        entry = next(d for d in YAML().load(text)["datasets"] if d["id"] == dataset)
        assert entry["prepare"]["header"].startswith("sha256:")
        assert set(entry["prepare"]["fields"]) >= set(dept.truth)


def test_validata_accepts_what_the_recipes_publish(harvested, tmp_path):
    refused = []
    for dataset, (folder, _, dept, outcome) in harvested.items():
        assert outcome.status == "published", (dataset, outcome)
        [result] = validata_peer.validate(validata_copy(dept.schema, tmp_path), [published(folder, dataset)])
        if not result["valid"]:
            refused.append(f"{dataset}: {[(e['row'], e['field'], e['message'][:80]) for e in result['errors'][:3]]}")
    assert not refused, "\n".join(refused)


def test_an_older_subventions_layout_is_published_in_the_current_one(tmp_path, moisson_home):
    old = SCDL / "subventions" / "exemple-duplicate-column.csv"
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "subventions-2019.csv").write_bytes(old.read_bytes())
    schema = SCDL / "subventions" / "schema.json"
    path = catalog(tmp_path, {"name": "ANTIBES", "siret": "21060004500392"}, [
        {"id": "subventions-2019", "source": "files", "locator": {"path": "subventions-2019.csv"},
         "schema": str(schema), "metadata": {"title": "Subventions 2019"}}])
    suggest_and_write(path, ["subventions-2019"])
    [outcome] = run_datasets(["subventions-2019"], catalog=str(path))
    assert outcome.status == "published", outcome
    out = published(tmp_path, "subventions-2019")
    header = next(csv.reader(out.open(encoding="utf-8")))
    assert header == [f["name"] for f in json.loads(schema.read_text(encoding="utf-8"))["fields"]]
    [result] = validata_peer.validate(schema, [out])
    assert result["valid"], result["errors"][:3]


def test_the_demo_sports_export_is_published_valid(tmp_path, moisson_home):
    demo = tmp_path / "deployments"
    shutil.copytree(BUNDLED.parent / "demo", demo / "demo")
    shutil.copy(BUNDLED, demo / "catalog.yaml")
    [outcome] = run_datasets(["equipements-sportifs"], catalog=str(demo / "catalog.yaml"))
    assert outcome.status == "published", outcome
    assert outcome.rows == 6, "the closed stadium filtered out, the gymnasium listed twice kept once"
    out = tmp_path / "var" / "portal" / "equipements-sportifs" / "equipements-sportifs.csv"
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert {r["EQUIP_THEME"] for r in rows} == {"Equipement sportif et de loisirs", "Equipement social et d'animation"}
    gymnasium = next(r for r in rows if r["EQUIP_NOM"] == "Gymnase Jean Bouin")
    assert (gymnasium["COLL_SIRET"], gymnasium["ADR_NUMERO"], gymnasium["ADR_NOMVOIE"], gymnasium["EQUIP_CODE"]) == (
        "21599999600014", "12", "Rue des Tisserands", "04010101-001")
    assert gymnasium["EQUIP_OUVERTURE"] == "Mo-Su 07:30-22:30", "of a facility listed twice, the last line is kept"
    assert "Stade annexe" not in {r["EQUIP_NOM"] for r in rows}, "closed to the public: filtered out"
    [result] = validata_peer.validate(REPO / "schemas" / "scdl" / "equipements" / "0.1.5" / "schema.json", [out])
    assert result["valid"], result["errors"][:3]


def test_a_renamed_source_column_blocks_the_dataset_naming_the_rules(tmp_path, moisson_home):
    demo = tmp_path / "deployments"
    shutil.copytree(BUNDLED.parent / "demo", demo / "demo")
    shutil.copy(BUNDLED, demo / "catalog.yaml")
    export = demo / "demo" / "equipements-sportifs-service-des-sports.csv"
    export.write_text(export.read_text(encoding="utf-8").replace(";Adresse;", ";Adresse postale;", 1),
                      encoding="utf-8")
    [outcome] = run_datasets(["equipements-sportifs"], catalog=str(demo / "catalog.yaml"))
    assert outcome.status == "failed", outcome
    assert "ADR_NUMERO" in outcome.error and "'Adresse'" in outcome.error and "bloquée" in outcome.error
    assert not (tmp_path / "var" / "portal" / "equipements-sportifs").exists(), "nothing published"
