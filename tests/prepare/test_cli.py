"""`moisson prepare suggest --write` and `preview` on the demo's sports department export (no Prefect needed)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from moisson.catalog.model import BUNDLED, load_catalog
from moisson.cli import app


@pytest.fixture
def demo(tmp_path, moisson_home) -> Path:
    shutil.copytree(BUNDLED.parent / "demo", tmp_path / "demo")
    catalog = tmp_path / "catalog.yaml"
    shutil.copy(BUNDLED, catalog)
    return catalog


def invoke(*args: str):
    return CliRunner().invoke(app, ["prepare", *args])


def without_recipe(text: str) -> str:
    """The catalog text with the sports dataset's `prepare:` block taken out."""
    start = text.index("    prepare:\n", text.index("id: equipements-sportifs"))
    end = text.find("\n  - id:", start)
    return text[:start] + (text[end + 1:] if end != -1 else "")


def test_preview_shows_each_rule_and_the_errors_before_and_after(demo):
    result = invoke("preview", "equipements-sportifs", "--catalog", str(demo), "--json")
    assert result.exit_code == 0, result.output
    found = json.loads(result.output)
    rules = {r["rule"].split()[0]: r for r in found["rules"] if "field" not in r}
    assert (rules["filter"]["rows_in"], rules["filter"]["rows_out"]) == (8, 7)
    assert (rules["unique"]["rows_in"], rules["unique"]["rows_out"]) == (7, 6)
    theme = next(r for r in found["rules"] if r.get("field") == "EQUIP_THEME")
    assert theme["sample"][0] == {"before": "Gymnase", "after": "Equipement sportif et de loisirs"}
    assert found["errors_before"]["count"] > 0
    assert {e["type"] for e in found["errors_before"]["errors"]} == {"missing-label"}
    assert found["errors_after"]["count"] == 0 and not found["blocked"]


def test_preview_names_values_the_map_does_not_know(demo):
    text = demo.read_text(encoding="utf-8").replace("            Dojo: Equipement sportif et de loisirs\n", "")
    demo.write_text(text, encoding="utf-8")
    result = invoke("preview", "equipements-sportifs", "--catalog", str(demo))
    assert result.exit_code == 1
    assert "'Dojo'" in result.output and "map" in result.output


def test_suggest_write_keeps_the_file_and_comments_the_fields_it_could_not_fill(demo):
    original = demo.read_text(encoding="utf-8")
    demo.write_text(without_recipe(original), encoding="utf-8")
    before = demo.read_text(encoding="utf-8")
    result = invoke("suggest", "equipements-sportifs", "--catalog", str(demo), "--write", "--json")
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output)
    assert answer["unmapped_required"], "the demo's typology cannot be guessed: EQUIP_THEME must be named"
    assert "EQUIP_THEME" in answer["unmapped_required"]
    after = demo.read_text(encoding="utf-8")
    assert after.startswith(before.rstrip("\n").rsplit("\n  - id: equipements-sportifs", 1)[0])
    for comment in re.findall(r"^\s*#.*$", before, flags=re.MULTILINE):
        assert comment in after, f"comment lost: {comment}"
    block = after[after.index("    prepare:"):]
    assert "#   EQUIP_THEME: {from: ???}" in block
    assert "COLL_SIRET: {const: '{organization.siret}'}" in block
    assert "EQUIP_LAT: {from: Latitude, parse: {decimal: ','}}" in block
    recipe = load_catalog(demo).dataset("equipements-sportifs").prepare
    assert recipe.header == "sha256:1e3fbec00aeb8127", "the fingerprint of the header it was made for"
    assert set(recipe.fields) == {k for k, v in answer["fields"].items() if v["rule"]}


def test_suggest_on_a_dataset_without_schema_says_so(demo):
    locator = "    locator: {path: equipements-sportifs-service-des-sports.csv}\n"
    text = demo.read_text(encoding="utf-8").replace(locator + "    schema: scdl/equipements@0.1.5\n", locator)
    demo.write_text(text, encoding="utf-8")
    result = invoke("suggest", "equipements-sportifs", "--catalog", str(demo))
    assert result.exit_code == 2 and "schema" in result.output
