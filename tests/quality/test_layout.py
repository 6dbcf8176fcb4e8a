"""The published table: the source's text in the schema's layout, never re-serialised typed values."""

from __future__ import annotations

import pandas as pd

from moisson.quality.gate import inspect
from moisson.quality.layout import national, published_table
from moisson.quality.policy import QualityPolicy
from moisson.quality.schema import TableSchemaRef
from tests.data import make_schema, text_frame

FIELDS = [
    {"name": "id", "type": "integer", "constraints": {"required": True}},
    {"name": "aide", "type": "boolean", "trueValues": ["oui"], "falseValues": ["non"]},
    {"name": "montant", "type": "number"},
    {"name": "taux", "type": "number", "decimalChar": ",", "groupChar": " "},
    {"name": "date", "type": "date"},
    {"name": "note", "type": "string"},
]


def rows(frame: pd.DataFrame) -> list[list[str | None]]:
    return [list(frame.columns), *frame.astype(object).where(frame.notna(), None).values.tolist()]


def test_cells_keep_the_source_text_and_normalisation_fixes_only_what_the_schema_refuses():
    frame = text_frame({"note": ["a", None], "montant": ["13760", "99 786,57"], "id": ["1", "2"],
                        "date": ["05/12/2016", "2016-12-06"], "aide": ["non", "oui"], "taux": ["1 200,5", "1"],
                        "commentaire": ["gardé", None]})
    found = inspect(frame, make_schema(FIELDS))
    assert found.issues.error_count == 0
    assert rows(found.published) == [
        ["id", "aide", "montant", "taux", "date", "note", "commentaire"],
        ["1", "non", "13760", "1 200,5", "2016-12-05", "a", "gardé"],
        ["2", "oui", "99786.57", "1", "2016-12-06", "", None],
    ]


def test_missing_values_are_written_as_the_schemas_first_one():
    schema = make_schema([{"name": "n", "type": "integer"}, {"name": "s", "type": "string"}],
                         missingValues=["-", "", "NA"])
    found = inspect(text_frame({"n": ["NA", "3", None], "s": ["", "x", "-"]}), schema)
    assert rows(found.published) == [["n", "s"], ["-", "-"], ["3", "x"], ["-", "-"]]


def test_a_national_layout_adds_its_optional_columns_empty_and_says_so():
    fields = [{"name": "a", "type": "string", "constraints": {"required": True}}, {"name": "b", "type": "string"},
              {"name": "c", "type": "integer"}]
    local = make_schema(fields)
    registry = TableSchemaRef(descriptor={"fields": fields}, name="scdl/test", version="1", source="bundled")
    source = text_frame({"a": ["x"]})
    assert not national(local) and national(registry)
    assert list(published_table(source, local, source)[0].columns) == ["a"]
    table, notes = published_table(source, registry, source)
    assert rows(table) == [["a", "b", "c"], ["x", "", ""]]
    assert notes == ["colonnes facultatives du schéma national absentes de la source, publiées vides : b, c"]


def test_unknown_columns_follow_the_schemas_unless_the_catalog_drops_them():
    schema = make_schema([{"name": "a", "type": "string"}, {"name": "b", "type": "string"}])
    frame = text_frame({"z": ["1"], "b": ["2"], "geom": ["{}"], "a": ["3"]})
    kept = inspect(frame, schema, geometry="geom", policy=QualityPolicy())
    assert list(kept.published.columns) == ["a", "b", "z", "geom"]
    dropped = inspect(frame, schema, geometry="geom", policy=QualityPolicy(extra_columns="drop"))
    assert list(dropped.published.columns) == ["a", "b", "geom"]
    assert any("extra_columns: drop" in note and "z" in note for note in dropped.notes)


def test_without_a_schema_columns_keep_the_source_order_and_cells():
    frame = text_frame({"TYPE_NAF": ["x"], "NUMBER": ["1.0"], "STRING": [" a "]})
    found = inspect(frame, None, policy=QualityPolicy())
    assert rows(found.published) == [["TYPE_NAF", "NUMBER", "STRING"], ["x", "1.0", " a "]]


def test_expectations_still_read_typed_values():
    found = inspect(text_frame({"id": ["7"], "extra": ["e"]}), make_schema(FIELDS[:1]))
    assert str(found.clean["id"].dtype) == "Int64" and found.published["id"].tolist() == ["7"]
