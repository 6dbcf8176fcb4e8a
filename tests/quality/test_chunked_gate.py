"""The gate checks an extract chunk by chunk: tiny chunks give the very report, GX results, published cells and
rows' digest that one chunk holding the whole table gives."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pydantic import SecretStr

from benchmarks.harness import SCHEMA as SUBVENTIONS
from benchmarks.harness import _chunk, luhn_sirets
from moisson.core.digest import parquet_digest
from moisson.core.metadata import Contact, DatasetMetadata
from moisson.files import extracted
from moisson.quality.gate import CHUNK_ROWS_VARIABLE, check_table, report_frame
from moisson.quality.policy import Expectation, QualityPolicy
from moisson.quality.schema import load_schema
from tests.data import REPO, make_schema, read_reference_csv, reference, write_extract

TINY = "7"


def schema_file(path: Path, tmp_path: Path):
    return load_schema(str(path), schemas_dir=path.parent, cache_dir=tmp_path / "cache")


@dataclass(frozen=True)
class Shape:
    """A row out of shape, as the spreadsheet source reports it (`Extract.findings`)."""

    kind: str
    rows: tuple[int, ...]
    count: int
    columns: tuple[str, ...] = ()


def gate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data: Path, rows: str | None, **kwargs) -> tuple:
    """quality.json, the GX results, the published cells and their digest, chunks of `rows` rows (None: one chunk).

    The digest computed while the chunks are written is the one `clean.parquet` gives read back.
    """
    if rows:
        monkeypatch.setenv(CHUNK_ROWS_VARIABLE, rows)
    else:
        monkeypatch.delenv(CHUNK_ROWS_VARIABLE, raising=False)
    out = tmp_path / f"out-{rows}"
    kwargs.setdefault("policy", QualityPolicy(lang="en"))
    result = check_table(data, dataset_id="ds", out_dir=out, **kwargs)
    report = json.loads((out / "quality.json").read_text(encoding="utf-8").replace(str(out), "OUT"))
    gx = None
    if result.gx_results:
        gx = json.loads(result.gx_results.read_text(encoding="utf-8"))["results"]
        for outcome in gx:
            outcome["expectation_config"]["kwargs"].pop("batch_id", None)
            outcome["expectation_config"].pop("id", None)
    clean = pq.read_table(out / "clean.parquet")
    assert result.digest == parquet_digest(out / "clean.parquet")
    return report, gx, (clean.schema.names, [str(t) for t in clean.schema.types], clean.to_pylist()), result.digest


def same_in_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data: Path, rows: str = TINY, **kwargs) -> dict:
    whole = gate(tmp_path, monkeypatch, data, None, **kwargs)
    chunked = gate(tmp_path, monkeypatch, data, rows, **kwargs)
    assert pq.ParquetFile(data).metadata.num_rows > 2 * int(rows), "the table must span several chunks"
    assert chunked[0] == whole[0]
    assert chunked[1] == whole[1]
    assert chunked[2] == whole[2]
    assert chunked[3] == whole[3]
    return whole[0]


def own_table(path: Path) -> Path:
    """Forty rows with something for every check that spans rows: keys, personal data, points, normalisations."""
    rows = 40
    ids = [str(i) for i in range(rows)]
    ids[12] = "3"  # a primary key repeated two chunks later
    ids[30] = "3"
    codes = [f"C{i % 17}" for i in range(rows)]  # `unique` broken across chunks
    emails = [None] * rows
    emails[2], emails[20], emails[33] = "jean.dupont@gmail.com", "marie.curie@yahoo.fr", "contact@mairie-x.fr"
    names = ["Service voirie"] * rows
    names[9], names[25] = "Jean Dupont", "Marie-Claire Martin"
    phones = ["06 12 34 56 78" if i % 11 == 0 else None for i in range(rows)]
    lat = [f"{45 + i / 1000:.4f}" for i in range(rows)]
    lon = [f"{5 + i / 1000:.4f}" for i in range(rows)]
    lat[8], lon[8] = "5.0080", "45.0080"  # swapped
    lat[22], lon[22] = lat[3], lon[3]  # the same point as row 3, in another chunk
    lat[35], lon[35] = "45.00001", "5.00001"  # within 5 m of row 0
    dates = ["05/12/2016" if i % 6 == 0 else "2016-12-05" for i in range(rows)]
    dates[16] = "2016-13-45"
    amounts = ["1 200,50" if i % 9 == 4 else "12" for i in range(rows)]
    amounts[27] = "douze"
    amounts[36] = "12.5"  # a dot in the last chunk: no comma of the column is a decimal comma
    prices = ["3,5" if i % 8 == 1 else "4" for i in range(rows)]  # a decimal comma in every chunk with one
    sirets = luhn_sirets(np.random.default_rng(3), 5).tolist()
    siret = [sirets[i % 5] for i in range(rows)]
    siret[13], siret[29] = "12345678901234", "1234"
    blank = [i in (17, 18) for i in range(rows)]
    columns = {"id": ids, "code": codes, "email": emails, "contact": names, "telephone": phones, "lat": lat,
               "lon": lon, "date": dates, "montant": amounts, "prix": prices, "siret": siret,
               "extra": [f"x{i}" for i in range(rows)]}
    for name, values in columns.items():
        columns[name] = [None if blank[i] else v for i, v in enumerate(values)]
    return write_extract(path, columns)


OWN_SCHEMA = make_schema([
    {"name": "id", "type": "integer", "constraints": {"required": True}},
    {"name": "code", "type": "string", "constraints": {"unique": True}},
    {"name": "email", "type": "string"},
    {"name": "contact", "type": "string"},
    {"name": "telephone", "type": "string"},
    {"name": "lat", "type": "number"},
    {"name": "lon", "type": "number"},
    {"name": "date", "type": "date"},
    {"name": "montant", "type": "number", "constraints": {"minimum": 0}},
    {"name": "prix", "type": "number"},
    {"name": "siret", "type": "string", "constraints": {"pattern": "[0-9]{14}"}},
    {"name": "absente", "type": "string"},
], primaryKey=["id"], custom_checks=[{"name": "siret", "params": {"column": "siret"}},
                                     {"name": "french-siret-value", "params": {"column": "siret"}}])


def test_own_table_checked_in_chunks_of_seven_rows_gives_the_whole_table_report(tmp_path, monkeypatch):
    data = own_table(tmp_path / "own.parquet")
    policy = QualityPolicy(lang="en", personal_data={"telephone": "hash"}, hash_salt=SecretStr("sel"), expectations=[
        Expectation(type="expect_column_values_to_not_be_null", kwargs={"column": "contact"}),
        Expectation(type="expect_column_values_to_be_in_set", kwargs={"column": "code", "value_set": ["C1"],
                                                                       "mostly": 0.01}),
        Expectation(type="expect_column_mean_to_be_between", kwargs={"column": "montant", "min_value": 100}),
        Expectation(type="expect_table_row_count_to_be_between", kwargs={"min_value": 1, "max_value": 39}),
    ])
    findings = (Shape("missing-cell", (14,), 1), Shape("blank-row", (44,), 1))
    metadata = DatasetMetadata(title="Test", contact=Contact(email="x@mairie-x.fr"))
    report = same_in_chunks(tmp_path, monkeypatch, data, schema=OWN_SCHEMA, policy=policy, row_gaps=((10, 2),),
                            findings=findings, metadata=metadata)
    # Each kind of result is there, so that the comparison means something.
    kinds = {(e["type"], e["rule"]) for e in report["errors"]} | {(w["type"], w["rule"]) for w in report["warnings"]}
    for expected in [("primary-key", "primaryKey"), ("unique-error", "unique"), ("personal-data", "email"),
                     ("personal-data", "person-name"), ("geography", "swapped"), ("geography", "duplicate-point"),
                     ("type-error", "type"), ("custom-check-error", "siret"), ("expectation-error",
                                                                               "expect_column_mean_to_be_between"),
                     ("missing-cell", None), ("blank-row", None)]:
        assert expected in kinds, expected
    normalised = {n["field"] for n in report["normalised"]}
    assert {"date", "prix"} <= normalised and "montant" not in normalised
    duplicate = next(e for e in report["errors"] if e["type"] == "primary-key")
    assert duplicate["row"] == 14 + 2 and "row 5" in duplicate["message"]  # row 12 after a gap of 2; first: row 5


def test_generated_subventions_with_errors_in_chunks(tmp_path, monkeypatch):
    rng = np.random.default_rng(11)
    table, _ = _chunk(rng, luhn_sirets(rng, 200), 0, 300)
    data = tmp_path / "subventions.parquet"
    pq.write_table(table, data)
    report = same_in_chunks(tmp_path, monkeypatch, data, schema=schema_file(reference(SUBVENTIONS), tmp_path))
    assert report["error_count"] > 0


REFERENCE_EXAMPLES = ["stationnement-cyclable", "catalogue-donnees-etalab", "futurocite-wallonie-defibrillateurs",
                      "futurocite-wallonie-equipements-collectifs", "futurocite-wallonie-marches",
                      "futurocite-wallonie-patrimoine-naturel-ou-materiel", "futurocite-wallonie-stationnements-velos"]


@pytest.mark.parametrize("name", REFERENCE_EXAMPLES)
def test_reference_examples_in_chunks(tmp_path, monkeypatch, scdl, name):
    folder = scdl / name
    frame = read_reference_csv(folder / "exemple-valide.csv")
    if len(frame) <= 2 * int(TINY):
        frame = frame.loc[np.resize(np.arange(len(frame)), 3 * int(TINY))].reset_index(drop=True)
    data = tmp_path / "example.parquet"
    pq.write_table(pa.Table.from_pandas(frame.astype("string"), preserve_index=False), data)
    same_in_chunks(tmp_path, monkeypatch, data, schema=schema_file(folder / "schema.json", tmp_path))


def test_no_schema_in_chunks(tmp_path, monkeypatch, scdl):
    frame = read_reference_csv(scdl / "futurocite-wallonie-defibrillateurs" / "exemple-valide.csv")
    frame = frame.loc[np.resize(np.arange(len(frame)), 30)].reset_index(drop=True)
    frame.iloc[[4, 19]] = None  # blank rows, a warning without a schema
    data = tmp_path / "example.parquet"
    pq.write_table(pa.Table.from_pandas(frame.astype("string"), preserve_index=False), data)
    same_in_chunks(tmp_path, monkeypatch, data, schema=None)


@pytest.mark.parametrize("labels", [["nom", "montant", "prix"], ["nom", "montant", "nom"]], ids=["unique", "repeated"])
def test_number_columns_read_alone_in_chunks_as_in_one(tmp_path, monkeypatch, labels):
    # The first pass reads the number columns alone (all columns when a name repeats): a dot far down
    # `montant` keeps its commas from being read as decimal commas, in chunks as in one.
    rows = 40
    montant = ["1,5"] * rows
    montant[33] = "2.5"
    columns = [pa.array([f"Salle {i}" for i in range(rows)]), pa.array(montant), pa.array(["3,25"] * rows)]
    data = tmp_path / "numbers.parquet"
    pq.write_table(pa.Table.from_arrays(columns, names=labels), data)
    schema = make_schema([{"name": "nom", "type": "string"}, {"name": "montant", "type": "number"},
                          {"name": "prix", "type": "number"}])
    report = same_in_chunks(tmp_path, monkeypatch, data, schema=schema)
    assert any(c["field"] == "montant" for c in report["counts"]), report["counts"]


def test_report_of_a_parquet_file_is_read_in_chunks(tmp_path, monkeypatch):
    data = own_table(tmp_path / "own.parquet")
    monkeypatch.delenv(CHUNK_ROWS_VARIABLE, raising=False)
    whole = report_frame(data, OWN_SCHEMA, lang="en").to_dict()
    monkeypatch.setenv(CHUNK_ROWS_VARIABLE, TINY)
    assert report_frame(data, OWN_SCHEMA, lang="en").to_dict() == whole


DEMO = REPO / "deployments" / "demo"


@pytest.mark.parametrize("name", sorted(p.name for p in DEMO.glob("*") if p.suffix in (".csv", ".xlsx")))
def test_demo_catalog_files_read_by_the_spreadsheet_source_in_chunks(tmp_path, monkeypatch, name):
    # As the pipeline extracts them (row numbers, rows out of shape), before any recipe fits them to the schema.
    ref = "demo/defibrillateurs.schema.json" if name.startswith("defibrillateurs") else "scdl/equipements@0.1.5"
    schema = load_schema(ref, schemas_dir=DEMO.parent, cache_dir=tmp_path / "cache")
    with extracted(DEMO / name) as extract:
        same_in_chunks(tmp_path, monkeypatch, extract.path, rows="1", schema=schema, first_row=extract.first_row,
                       row_gaps=extract.row_gaps, findings=extract.findings)
