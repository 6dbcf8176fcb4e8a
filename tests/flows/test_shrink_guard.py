"""The shrink guard end to end: a published CSV whose source comes back broken is not republished.

Each probe of the issue (header only, header and blank lines, a file cut mid-row, lost rows, lost
columns) runs the real spreadsheet source and the real local portal under a Prefect server; the
published copy must stay byte for byte as it was, and the message must give both counts and the
key that accepts the change.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from moisson.cli import app
from moisson.flows.harvest import run_datasets

pytestmark = pytest.mark.usefixtures("prefect_server")

DATASET = "equipements"
HEADER = "nom,ville,EQUIP_WEB,capacite"


def rows(count: int) -> list[str]:
    return [f"Salle {i},Moisson-sur-Lys,https://moisson-sur-lys.fr/salles/{i},{i % 90 + 10}" for i in range(count)]


def write_catalog(folder: Path, quality: str = "") -> Path:
    path = folder / "catalog.yaml"
    path.write_text(textwrap.dedent(f"""\
        version: 1
        defaults: {{targets: [portail], metadata: {{license: lov2}}}}
        sources:
          tableurs: {{connector: spreadsheet, config: {{root: data}}}}
        targets:
          portail: {{connector: local, config: {{path: portal, title: Portail de test, harvestable: false}}}}
        datasets:
          - id: {DATASET}
            source: tableurs
            locator: {{path: {DATASET}.csv}}
            frequency: monthly
            metadata: {{title: Équipements}}
            {quality}
        """), encoding="utf-8")
    return path


@pytest.fixture
def published(tmp_path, moisson_home):
    """A catalog whose dataset is published with 1,000 rows; returns (catalog, source file, published file)."""
    (tmp_path / "data").mkdir()
    source = tmp_path / "data" / f"{DATASET}.csv"
    source.write_text("\n".join([HEADER, *rows(1000)]) + "\n", encoding="utf-8")
    catalog = write_catalog(tmp_path)
    [first] = run_datasets([DATASET], catalog=str(catalog))
    assert first.status == "published", first
    return catalog, source, tmp_path / "portal" / DATASET / f"{DATASET}.csv"


def run(catalog: Path):
    [outcome] = run_datasets([DATASET], catalog=str(catalog))
    return outcome


@pytest.mark.parametrize(("content", "counts"), [
    (HEADER + "\n", "de 1000"),
    (HEADER + "\n\n\n\n", "de 1000"),
    ("\n".join([HEADER, *rows(328)]) + "\n", "de 1000 à 328 lignes"),
    ("\n".join(["nom", *[r.split(",")[0] for r in rows(1000)]]) + "\n", "de 4 à 1 colonnes"),
], ids=["header-only", "blank-lines", "lost-rows", "lost-columns"])
def test_a_shrunken_source_is_not_published(published, content, counts):
    catalog, source, portal_file = published
    before = portal_file.read_bytes()
    source.write_text(content, encoding="utf-8")
    outcome = run(catalog)
    assert outcome.status == "failed" and not outcome.ok
    assert counts in outcome.error or ("aucune ligne" in outcome.error and "1000" in outcome.error), outcome.error
    assert "allow_shrink" in outcome.error and "--accept-shrink" in outcome.error and DATASET in outcome.error
    assert portal_file.read_bytes() == before, "the published copy stays as it was"


def test_a_file_cut_mid_row_is_not_published(published):
    catalog, source, portal_file = published
    before = portal_file.read_bytes()
    whole = source.read_text(encoding="utf-8")
    cut = whole[: whole.index("https://moisson-sur-lys.fr/salles/700") + len("https:/")]
    source.write_text(cut, encoding="utf-8")
    outcome = run(catalog)
    assert outcome.status == "failed", outcome
    assert "coupée" in outcome.error and "--accept-shrink" in outcome.error, outcome.error
    assert portal_file.read_bytes() == before
    assert "https:/\n" not in portal_file.read_text(encoding="utf-8")


def test_a_small_loss_passes_and_the_guard_compares_with_the_new_version(published):
    catalog, source, portal_file = published
    source.write_text("\n".join([HEADER, *rows(700)]) + "\n", encoding="utf-8")
    assert run(catalog).status == "published"
    assert portal_file.read_text(encoding="utf-8").count("\n") == 701
    # 400 of the 700 now published is −43 %: still within the default 50 %.
    source.write_text("\n".join([HEADER, *rows(400)]) + "\n", encoding="utf-8")
    assert run(catalog).status == "published"


def test_the_catalog_key_accepts_a_shrink_for_good(published, tmp_path):
    catalog, source, portal_file = published
    write_catalog(tmp_path, quality="quality: {allow_shrink: 0.9}")
    source.write_text("\n".join([HEADER, *rows(200)]) + "\n", encoding="utf-8")
    assert run(catalog).status == "published"
    assert portal_file.read_text(encoding="utf-8").count("\n") == 201


def test_an_empty_dataset_is_an_explicit_choice(published, tmp_path):
    catalog, source, _ = published
    source.write_text(HEADER + "\n", encoding="utf-8")
    [held] = run_datasets([DATASET], catalog=str(catalog), dry_run=True)
    assert held.status == "failed" and "allow_shrink: 1" in held.error
    write_catalog(tmp_path, quality="quality: {allow_shrink: 1}")
    [accepted] = run_datasets([DATASET], catalog=str(catalog), dry_run=True)
    assert "aucune ligne" not in (accepted.error or ""), "allow_shrink: 1 lets an empty version through the guard"


def test_the_cli_refuses_then_accepts_once(published):
    catalog, source, portal_file = published
    source.write_text("\n".join([HEADER, *rows(100)]) + "\n", encoding="utf-8")
    refused = CliRunner().invoke(app, ["run", DATASET, "--catalog", str(catalog), "--json"])
    assert refused.exit_code == 1, refused.output
    assert "de 1000 à 100 lignes" in refused.output and "allow_shrink: 0.9" in refused.output
    accepted = CliRunner().invoke(app, ["run", DATASET, "--catalog", str(catalog), "--accept-shrink"])
    assert accepted.exit_code == 0, accepted.output
    assert portal_file.read_text(encoding="utf-8").count("\n") == 101
