from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from moisson.catalog.model import BUNDLED, load_catalog
from moisson.core.errors import CatalogError

GOOD = """\
version: 1
defaults:
  targets: [portal]
  metadata: {license: lov2, producer: Commune de Test}
  quality: {on_failure: block}
sources:
  mem:
    connector: tests.fakes.connectors:MemorySource
    config: {token: {env: MOISSON_TEST_TOKEN}, folder: data}
targets:
  portal:
    connector: tests.fakes.connectors:MemoryTarget
    config: {name: out}
datasets:
  - id: first-dataset
    source: mem
    frequency: monthly
    metadata: {title: Premier}
    quality: {on_failure: warn}
  - id: second
    source: mem
    targets: {portal: {}}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "catalog.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_bundled_catalog_is_valid():
    cat = load_catalog(BUNDLED)
    assert {"equipements-publics", "stationnements-velos", "salles-a-louer"} <= set(cat.datasets)


def test_good_catalog_merges_defaults(tmp_path):
    cat = load_catalog(write(tmp_path, GOOD))
    first = cat.dataset("first-dataset")
    assert cat.quality_of(first).on_failure == "warn"
    assert cat.quality_of(cat.dataset("second")).on_failure == "block"
    meta = cat.metadata_of(first, {"title": "from source", "description": "source text"})
    assert (meta.title, meta.description, meta.license, meta.frequency) == (
        "Premier", "source text", "lov2", "monthly")
    assert cat.targets_of(first) == {"portal": {}}
    assert cat.base_dir == tmp_path.resolve()


@pytest.mark.parametrize(("change", "line", "path", "words"), [
    (("    source: mem\n    frequency", "    source: mem\n    frequncy"), 17, "datasets[0].frequncy", "clé inconnue"),
    (("id: second", "id: Second_One"), 20, "datasets[1].id", "minuscules"),
    (("source: mem\n    targets", "source: nowhere\n    targets"), 21, "datasets[1].source", "source inconnue"),
    (("frequency: monthly", "frequency: sometimes"), 17, "datasets[0].frequency", "fréquence de mise à jour inconnue"),
    (("license: lov2", "license: free"), 4, "defaults.metadata.license", "licence inconnue"),
    (("connector: tests.fakes.connectors:MemoryTarget", "connector: ftp"), 12, "targets.portal.connector",
     "connecteur de cible inconnu"),
    (("config: {name: out}", "config: {nme: out}"), 13, "targets.portal.config.nme", "clé inconnue"),
    (("{env: MOISSON_TEST_TOKEN}", "{env: A, block: b}"), 9, "sources.mem.config.token", "une seule des deux"),
    (("on_failure: warn", "on_failure: maybe"), 19, "datasets[0].quality.on_failure", "block"),
])
def test_errors_name_file_line_and_key_path(tmp_path, change, line, path, words):
    catalog = write(tmp_path, GOOD.replace(*change))
    with pytest.raises(CatalogError) as info:
        load_catalog(catalog)
    err = info.value
    assert err.file == str(catalog)
    assert err.path == path, str(err)
    assert err.line == line, str(err)
    assert words in str(err)


@pytest.mark.parametrize(("change", "path", "words"), [
    (("on_failure: warn", "on_failure: blok"), "datasets[0].quality.on_failure",
     "valeur 'blok' non admise (vouliez-vous dire 'block' ?) ; valeurs possibles : 'block', 'warn'"),
    (("version: 1", "version: un"), "version", "nombre entier attendu, pas 'un'"),
    (("  - id: second\n    source: mem\n", "  - id: second\n"), "datasets[1].source",
     "clé obligatoire absente : ajoutez-la"),
    (("metadata: {title: Premier}", "metadata: {title: Premier, issued: hier}"), "datasets[0].metadata.issued",
     "date attendue, pas 'hier' (AAAA-MM-JJ)"),
])
def test_pydantic_errors_are_told_in_french(tmp_path, change, path, words):
    with pytest.raises(CatalogError) as info:
        load_catalog(write(tmp_path, GOOD.replace(*change)))
    assert info.value.path == path, str(info.value)
    assert info.value.message == words


def test_duplicate_dataset_id(tmp_path):
    with pytest.raises(CatalogError, match="utilisé deux fois") as info:
        load_catalog(write(tmp_path, GOOD.replace("id: second", "id: first-dataset")))
    assert info.value.line == 20


def test_yaml_syntax_error_gives_line(tmp_path):
    with pytest.raises(CatalogError, match="YAML invalide") as info:
        load_catalog(write(tmp_path, GOOD.replace("    source: mem\n    frequency", "    source: [mem\n    frequency")))
    assert info.value.line is not None


def test_missing_file_says_what_to_do(tmp_path):
    with pytest.raises(CatalogError, match="--catalog"):
        load_catalog(tmp_path / "nope.yaml")


def test_env_var_selects_catalog(tmp_path, monkeypatch):
    monkeypatch.setenv("MOISSON_CATALOG", str(write(tmp_path, GOOD)))
    assert "second" in load_catalog().datasets


def test_unknown_dataset_lists_known(tmp_path):
    cat = load_catalog(write(tmp_path, GOOD))
    with pytest.raises(CatalogError, match="first-dataset, second"):
        cat.dataset("third")


def test_a_run_keeps_the_version_it_read_even_if_the_file_changes(tmp_path):
    path = write(tmp_path, GOOD)
    first = load_catalog(path)
    path.write_text(GOOD.replace("id: second", "id: renamed"), encoding="utf-8")
    again = load_catalog(path, text=first.text)
    assert "second" in again.datasets and "renamed" not in again.datasets
    assert again.base_dir == first.base_dir and "renamed" in load_catalog(path).datasets
