"""The message catalog: both languages for every key, with the same placeholders; the policy picks one."""

from __future__ import annotations

import json
import string
from pathlib import Path

import pytest

from quality.gate import check_table
from quality.messages import CATALOG, LANGS, say
from quality.policy import QualityPolicy
from tests.quality.conftest import make_schema, write_extract


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@pytest.mark.parametrize("key", sorted(CATALOG))
def test_every_key_speaks_every_language_with_the_same_placeholders(key: str) -> None:
    templates = CATALOG[key]
    assert set(templates) == set(LANGS)
    assert placeholders(templates["fr"]) == placeholders(templates["en"])


def test_say_fills_the_template() -> None:
    assert say("cell.unique", "fr", value="38185", first=4) == \
        "'38185' figure déjà ligne 4 ; chaque valeur doit être unique"
    assert say("cell.unique", "en", value="38185", first=4) == \
        "'38185' already appears at row 4; each value must be unique"


@pytest.mark.parametrize(("lang", "expected"), [
    ("fr", "ligne 3, champ n: 'x' n'est pas un nombre entier"),
    ("en", "row 3, field n: 'x' is not a whole number"),
])
def test_catalog_lang_sets_the_report_language(tmp_path: Path, lang: str, expected: str) -> None:
    data = write_extract(tmp_path / "extract.parquet", {"n": ["1", "x"]})
    result = check_table(data, dataset_id="langue", schema=make_schema([{"name": "n", "type": "integer"}]),
                         policy=QualityPolicy.model_validate({"lang": lang}), out_dir=tmp_path / lang)
    report = json.loads(result.report_json.read_text(encoding="utf-8"))
    assert [e["message"] for e in report["errors"]] == [expected]
