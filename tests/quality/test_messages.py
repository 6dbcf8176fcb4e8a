"""The message catalog: both languages for every key, with the same placeholders; the policy picks one."""

from __future__ import annotations

import json
import string
from pathlib import Path

import pytest

from moisson.core.metadata import DatasetMetadata
from moisson.quality.gate import check_table
from moisson.quality.messages import CATALOG, LANGS, Lang, say
from moisson.quality.policy import QualityPolicy
from tests.data import make_schema, write_extract


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


@pytest.mark.parametrize(("lang", "count", "expected"), [
    ("fr", 0, "f.csv : 0 ligne, 0 erreur"),
    ("fr", 1, "f.csv : 1 ligne, 1 erreur"),
    ("fr", 2, "f.csv : 2 lignes, 2 erreurs"),
    ("en", 0, "f.csv: 0 rows, 0 errors"),
    ("en", 1, "f.csv: 1 row, 1 error"),
    ("en", 1200, "f.csv: 1200 rows, 1200 errors"),
])
def test_words_agree_with_the_numbers_they_count(lang: Lang, count: int, expected: str) -> None:
    assert say("report.verdict-errors", lang, file="f.csv", rows=count, count=count) == expected


def test_a_form_may_hold_its_number_and_verbs_agree_too() -> None:
    assert say("report.first-errors", "fr", count=1) == "La première erreur"
    assert say("report.first-errors", "fr", count=20) == "Les 20 premières erreurs"
    assert say("personal.warn", "fr", column="contact", count=1, rows="4", what="des e-mails").startswith(
        "colonne 'contact' : 1 ligne (4) contient peut-être des e-mails")
    assert say("personal.warn", "en", column="contact", count=3, rows="4, 5, 9", what="e-mail addresses").startswith(
        "column 'contact': 3 rows (4, 5, 9) may hold e-mail addresses")


def test_a_plural_agrees_only_with_a_whole_number() -> None:
    with pytest.raises(TypeError):
        say("report.verdict-errors", "fr", file="f.csv", rows="12", count=3)


@pytest.mark.parametrize("key", sorted(CATALOG))
def test_every_template_fills_with_whole_numbers(key: str) -> None:
    """Each template, in each language, filled with a number for every placeholder (a form left unresolved raises)."""
    for lang in LANGS:
        for number in (0, 1, 2):
            assert "|" not in say(key, lang, **dict.fromkeys(placeholders(CATALOG[key][lang]), number))


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


# A table that fails every check beyond the schema: a private mailbox, a phone number and a civility in
# free text, a swapped point, a point in Lambert-93, two points on the same spot, and metadata without
# title or licence (the rest of the metadata missing too).
BEYOND_SCHEMA = {
    "nom": ["Club de judo", "Jardin partagé", "Piscine", "Piscine bis"],
    "contact": ["jean.dupont@gmail.com", "appeler le 06 12 34 56 78", "M. Martin", "piscine@ville-exemple.fr"],
    "latitude": ["2.35", "6860000", "45.75", "45.75"],
    "longitude": ["48.85", "652000", "4.85", "4.85"],
}


def literal_parts(template: str) -> list[str]:
    """The fixed text of a template, between its placeholders."""
    return [text for text, _, _, _ in string.Formatter().parse(template) if text]


def foreign_fragments(lang: Lang) -> set[str]:
    """Words of the other language's templates that this language's templates never use (4+ letters)."""
    other = next(x for x in LANGS if x != lang)
    ours = " ".join(t[lang] for t in CATALOG.values())
    words = {w for t in CATALOG.values() for part in literal_parts(t[other]) for w in part.split()}
    return {w for w in words if len(w) >= 4 and w.isalpha() and w not in ours}


@pytest.mark.parametrize("lang", LANGS)
def test_a_report_beyond_the_schema_speaks_one_language(tmp_path: Path, lang: Lang) -> None:
    data = write_extract(tmp_path / "extract.parquet", BEYOND_SCHEMA)
    result = check_table(data, dataset_id="equipements", schema=None, metadata=DatasetMetadata(),
                         policy=QualityPolicy.model_validate({"lang": lang}), out_dir=tmp_path / lang)
    assert result.blocked
    kinds = {(i.type, i.rule) for i in [*result.errors, *result.warnings]}
    assert {("personal-data", "email"), ("personal-data", "phone"), ("personal-data", "person-name"),
            ("geography", "swapped"), ("geography", "lambert93"), ("geography", "duplicate-point"),
            ("metadata", "required"), ("metadata", "recommended")} <= kinds
    texts = [i.message for i in [*result.errors, *result.warnings]] + result.notes
    pages = "\n".join([*texts, result.to_markdown(), result.report_html.read_text(encoding="utf-8")])
    # Every sentence of these checks comes from the catalog in the report's language ...
    for key in ("personal.block", "geo.swapped", "geo.lambert93", "geo.duplicate", "meta.missing-blocking",
                "meta.missing", "meta.score", "report.errors", "report.warnings", "report.notes"):
        assert all(part in pages for part in literal_parts(CATALOG[key][lang]) if len(part) > 3), key
    # ... and none of the other language's words slipped in (error types and rules are codes, not words).
    words = set(pages.replace("(", " ").replace(")", " ").replace(",", " ").replace(":", " ").split())
    words -= {code for i in [*result.errors, *result.warnings] for code in (i.type, i.rule)}
    assert not words & foreign_fragments(lang), sorted(words & foreign_fragments(lang))


@pytest.mark.parametrize(("lang", "expected"), [
    ("fr", "l'attente du catalogue expect_column_values_to_be_between sur la colonne n échoue : 2 valeurs ne la "
           "respectent pas (par ex. '7', '9')"),
    ("en", "catalog expectation expect_column_values_to_be_between on column n failed: 2 values do not pass "
           "(e.g. '7', '9')"),
])
def test_failing_catalog_expectations_are_told_in_the_report_language(lang: Lang, expected: str) -> None:
    from moisson.quality.expectations import summarise

    outcome = {"success": False, "result": {"unexpected_count": 2, "partial_unexpected_list": [7, 9]},
               "expectation_config": {"type": "expect_column_values_to_be_between", "kwargs": {"column": "n"},
                                      "meta": {"source": "catalog"}}}
    _, failed = summarise({"results": [outcome]}, lang)
    assert [i.message for i in failed] == [expected]
