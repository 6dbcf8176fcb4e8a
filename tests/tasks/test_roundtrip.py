"""The round trip: the CSV is made once, read back, and refused when it is not what was checked."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.harness import SCHEMA as SUBVENTIONS
from benchmarks.harness import _chunk, luhn_sirets
from moisson.connectors import csvfile
from moisson.connectors.csvfile import published_csv
from moisson.core.errors import RejectedError
from moisson.files import extracted
from moisson.quality.gate import CHUNK_ROWS_VARIABLE, check_table, report_frame
from moisson.quality.policy import QualityPolicy
from moisson.quality.schema import TableSchemaRef, load_schema
from moisson.tasks.roundtrip import verified_csv
from tests.data import SCDL, make_schema, reference, text_frame, write_extract
from tests.quality.test_chunked_gate import REFERENCE_EXAMPLES

SCHEMA = make_schema([{"name": "code", "type": "string", "constraints": {"pattern": "[0-9]{5}"}},
                      {"name": "aide", "type": "boolean", "trueValues": ["oui"], "falseValues": ["non"]}])


def test_a_checked_table_comes_back_as_it_was(tmp_path):
    data = write_extract(tmp_path / "clean.parquet", {"code": ["59350", None], "aide": ["oui", "non"]})
    path = verified_csv(data, dataset_id="aides", schema=SCHEMA)
    assert path == published_csv(data)
    assert path.read_text(encoding="utf-8") == "code,aide\n59350,oui\n,non\n"


def test_errors_the_check_did_not_report_refuse_the_file_in_french(tmp_path):
    # A hashed code no longer matches its pattern: the published file would break the schema.
    data = write_extract(tmp_path / "clean.parquet", {"code": ["3f2a9c"], "aide": ["oui"]})
    with pytest.raises(RejectedError) as caught:
        verified_csv(data, dataset_id="aides", schema=SCHEMA)
    message = str(caught.value)
    assert "aides" in message and "ne respecterait pas le schéma test 1" in message
    assert "1 erreur que la source" in message and "code" in message and "la version déjà en ligne reste" in message
    assert not published_csv(data).exists(), "no target may find a refused file"


def test_a_refused_file_leaves_what_a_target_got_from_the_last_one_as_it_was(tmp_path):
    # A target's file may be the verified CSV itself (a hard link): the next one is a new file, never that one.
    data = write_extract(tmp_path / "clean.parquet", {"code": ["59350"], "aide": ["oui"]})
    verified_csv(data, dataset_id="aides", schema=SCHEMA)
    csvfile.write_csv(data, tmp_path / "portal.csv")
    write_extract(data, {"code": ["3f2a9c"], "aide": ["oui"]})
    with pytest.raises(RejectedError):
        verified_csv(data, dataset_id="aides", schema=SCHEMA)
    assert (tmp_path / "portal.csv").read_text(encoding="utf-8") == "code,aide\n59350,oui\n"


def test_errors_a_warn_policy_accepted_may_be_published_again(tmp_path):
    frame = text_frame({"code": ["3f2a9c", "59350"], "aide": ["peut-être", "non"]})
    checked = report_frame(frame, SCHEMA)
    data = write_extract(tmp_path / "clean.parquet", {"code": ["3f2a9c", "59350"], "aide": ["peut-être", "non"]})
    assert verified_csv(data, dataset_id="aides", schema=SCHEMA, accepted=checked.counts).is_file()
    worse = write_extract(tmp_path / "worse.parquet", {"code": ["3f2a9c", "x"], "aide": ["peut-être", "non"]})
    with pytest.raises(RejectedError, match="1 erreur"):
        verified_csv(worse, dataset_id="aides", schema=SCHEMA, accepted=checked.counts)


def faulty(monkeypatch, fault):
    """Make the CSV writer's bytes for each batch go through `fault(lines) -> bytes` before they are written."""
    right = csvfile._lines
    monkeypatch.setattr(csvfile, "_lines", lambda batch, dates: memoryview(fault(bytes(right(batch, dates)))))


def test_a_file_that_does_not_read_back_as_the_cells_is_refused(tmp_path, monkeypatch):
    faulty(monkeypatch, lambda lines: lines.replace(b",oui\n", b",\n"))
    data = write_extract(tmp_path / "clean.parquet", {"code": ["59350"], "aide": ["oui"]})
    with pytest.raises(RejectedError, match="row 2, column 'aide'") as caught:
        verified_csv(data, dataset_id="aides", schema=None, lang="en")
    assert "nothing was published" in str(caught.value)
    assert not published_csv(data).exists(), "no target may find a refused file"


def test_the_comparison_goes_batch_by_batch_and_counts_rows(tmp_path, monkeypatch):
    monkeypatch.setattr(csvfile, "BATCH_ROWS", 2)  # the rows written, and parsed back, two at a time
    codes = [f"{59000 + i}" for i in range(7)]
    data = write_extract(tmp_path / "clean.parquet", {"code": codes, "aide": ["oui"] * 7})
    assert verified_csv(data, dataset_id="aides", schema=SCHEMA).is_file()

    with monkeypatch.context() as patched:  # the last row of the table lost
        faulty(patched, lambda lines: lines if b"59006" not in lines else lines.replace(b"59006,oui\n", b""))
        with pytest.raises(RejectedError, match="6 lignes au lieu de 7"):
            verified_csv(data, dataset_id="aides", schema=None)
    with monkeypatch.context() as patched:  # a quote left open: its batch of two rows reads as none
        faulty(patched, lambda lines: lines.replace(b"59002,", b'"59002,'))
        with pytest.raises(RejectedError, match="5 lignes au lieu de 7"):
            verified_csv(data, dataset_id="aides", schema=None)
    with monkeypatch.context() as patched:  # a batch's last line feed lost: its last row runs into the next one
        faulty(patched, lambda lines: lines[:-1] if lines.startswith(b"59002,") else lines)
        with pytest.raises(RejectedError, match="5 lignes au lieu de 7"):
            verified_csv(data, dataset_id="aides", schema=None)
    with monkeypatch.context() as patched:  # one cell changed in the fourth batch
        faulty(patched, lambda lines: lines.replace(b"59005,oui", b"59005,non"))
        with pytest.raises(RejectedError, match="ligne 7, colonne 'aide'"):
            verified_csv(data, dataset_id="aides", schema=None)


def test_line_feeds_in_cells_read_back_whether_or_not_a_batch_holds_quotes(tmp_path, monkeypatch):
    monkeypatch.setattr(csvfile, "BATCH_ROWS", 2)  # batches with quoted line feeds and batches without any quote
    codes = ["59000", "59001", "59002", "59003", "59004"]
    notes = ["a\nb", None, "plain", "x", '"cité"\n2']
    data = write_extract(tmp_path / "clean.parquet", {"code": codes, "note": notes})
    assert verified_csv(data, dataset_id="aides", schema=None).read_bytes().count(b"\n") == 8
    with monkeypatch.context() as patched:  # a line feed written unquoted, in a batch without quotes: a row cut
        faulty(patched, lambda lines: lines.replace(b",plain", b",pl\nain"))
        with pytest.raises(RejectedError, match="3 lignes au lieu de 5"):  # that batch reads as no row
            verified_csv(data, dataset_id="aides", schema=None)


def test_a_header_that_does_not_read_back_is_refused(tmp_path, monkeypatch):
    right = csvfile.csv.writer
    monkeypatch.setattr(csvfile.csv, "writer", lambda out, **kw: right(out, **kw, delimiter=";"))
    data = write_extract(tmp_path / "clean.parquet", {"code": ["59350"], "aide": ["oui"]})
    with pytest.raises(RejectedError, match="en-tête"):
        verified_csv(data, dataset_id="aides", schema=None)


@pytest.mark.parametrize("schema", [SCHEMA, None])
def test_an_empty_table_reads_back_as_empty(tmp_path, schema):
    # A dataset with no row, which `quality: {allow_shrink: 1}` accepts, is published as its header alone.
    data = write_extract(tmp_path / "clean.parquet", {"code": [], "aide": []})
    path = verified_csv(data, dataset_id="aides", schema=schema)
    assert path.read_text(encoding="utf-8") == "code,aide\n"


# What the round trip trusts: the columns published with the source's own texts, which the gate judged as they are.

FRENCH = make_schema([{"name": "code", "type": "string", "constraints": {"pattern": "[0-9]{5}"}},
                      {"name": "date", "type": "date"}, {"name": "prix", "type": "number"},
                      {"name": "nom", "type": "string"}], primaryKey=["code"])


def checked(tmp_path, columns, schema, **policy):
    data = write_extract(tmp_path / "extract.parquet", columns)
    return check_table(data, dataset_id="aides", schema=schema, policy=QualityPolicy(**policy),
                       out_dir=tmp_path / "out")


@pytest.mark.parametrize("rows", [None, "1"], ids=["one-chunk", "chunks-of-1"])
def test_the_gate_tells_which_fields_it_published_as_the_source_wrote_them(tmp_path, monkeypatch, rows):
    if rows:
        monkeypatch.setenv(CHUNK_ROWS_VARIABLE, rows)
    monkeypatch.setenv("MOISSON_HASH_SALT", "sel-de-test")
    # The French date of the last row only and the decimal comma are rewritten; `nom` is hashed; `code` stays.
    result = checked(tmp_path, {"code": ["59350", "59017", "59000"], "date": ["2023-12-31", "2024-01-02", "31/12/2023"],
                                "prix": ["3,5", "4", "5"], "nom": ["Dupont", "Durand", "Martin"]},
                     FRENCH, personal_data={"nom": "hash"}, hash_salt="env:MOISSON_HASH_SALT")
    assert {n.field for n in result.normalised} == {"date", "prix"}
    assert result.unaltered == ["code"]


def test_a_field_the_source_lacks_is_not_trusted(tmp_path):
    national = TableSchemaRef(descriptor={"fields": [{"name": "code", "type": "string"},
                                                     {"name": "note", "type": "string"}]},
                              name="scdl/test", version="1", source="test")
    result = checked(tmp_path, {"code": ["59350"]}, national)
    assert result.unaltered == ["code"]  # `note` is published, added empty


def _keys(counts, fields=None):
    return {(c.field, c.type, c.rule): c.count for c in counts if fields is None or c.field in fields}


def trust_holds(tmp_path, data, schema, **policy):
    """Check `data` as the pipeline does, then its published cells again as Validata would, with and without trust.

    What justifies the trust: on the trusted fields, the gate found exactly what the whole re-check finds. What the
    re-check with trust finds is the whole re-check's, every error of the other fields included, and the errors
    beyond the gate's (what refuses a file) are the same.
    """
    result = check_table(data, dataset_id="ds", schema=schema, policy=QualityPolicy(**policy), out_dir=tmp_path / "o")
    schema_only = report_frame(data, schema)  # the gate's schema checks alone (no personal data, no metadata)
    trusted = set(result.unaltered)
    whole = report_frame(result.clean_path, schema, normalise=False)
    fast = report_frame(result.clean_path, schema, normalise=False, trusted=trusted)
    gate, found, again = _keys(result.counts), _keys(whole.counts), _keys(fast.counts)
    assert _keys(schema_only.counts, trusted) == _keys(whole.counts, trusted)
    untrusted = {f.name for f in schema.fields} - trusted
    assert _keys(fast.counts, untrusted) == _keys(whole.counts, untrusted)
    assert again.items() <= found.items()
    beyond = {k: n - gate.get(k, 0) for k, n in found.items() if n > gate.get(k, 0)}
    assert {k: n - gate.get(k, 0) for k, n in again.items() if n > gate.get(k, 0)} == beyond
    assert fast.rows == whole.rows
    return result


@pytest.mark.parametrize("name", ["subventions/exemples/exemple_valide.csv",
                                  "subventions/exemples/exemple_invalide_erreurs_cellules.csv",
                                  "subventions/exemples/exemple_invalide_erreurs_colonnes.csv",
                                  *(f"{n}/exemple-valide.csv" for n in REFERENCE_EXAMPLES)])
def test_trusting_unaltered_fields_loses_no_error_on_reference_files(tmp_path, name):
    path = reference(SCDL / name)
    schema = load_schema(str(path.parent / "schema.json") if (path.parent / "schema.json").exists()
                         else str(path.parent.parent / "schema.json"), schemas_dir=path.parent,
                         cache_dir=tmp_path / "cache")
    with extracted(path) as extract:
        trust_holds(tmp_path, extract.path, schema)


def test_trusting_unaltered_fields_loses_no_error_on_french_cells_in_chunks(tmp_path, monkeypatch):
    # Generated subventions with errors on nine rules, their dates (one row in three) and amounts then written the
    # French way: those fields are checked again, the others trusted.
    monkeypatch.setenv(CHUNK_ROWS_VARIABLE, "37")
    rng = np.random.default_rng(5)
    table, _ = _chunk(rng, luhn_sirets(rng, 200), 0, 300)
    frame = table.to_pandas().astype("string")
    every_third = frame.index % 3 == 0
    frame.loc[every_third, "dateConvention"] = frame.loc[every_third, "dateConvention"].str.replace(
        r"^(\d{4})-(\d\d)-(\d\d)$", r"\3/\2/\1", regex=True)
    frame["montant"] = frame["montant"].str.replace(".", ",", regex=False)  # a decimal comma only without dots
    data = tmp_path / "subventions.parquet"
    frame.to_parquet(data, index=False)
    schema = load_schema(str(reference(SUBVENTIONS)), schemas_dir=tmp_path, cache_dir=tmp_path / "cache")
    result = trust_holds(tmp_path, data, schema)
    assert result.error_count > 0
    assert {"dateConvention", "montant"}.isdisjoint(result.unaltered) and "idAttribuant" in result.unaltered


def test_an_error_in_a_rewritten_field_is_still_caught(tmp_path, monkeypatch):
    # Hashing the codes breaks their pattern and their custom check reads them: both run again, whatever is trusted.
    monkeypatch.setenv("MOISSON_HASH_SALT", "sel-de-test")
    result = checked(tmp_path, {"code": ["59350", "59017"], "date": ["2023-12-31", "2024-01-02"],
                                "prix": ["3", "4"], "nom": ["a", "b"]},
                     FRENCH, personal_data={"code": "hash"}, hash_salt="env:MOISSON_HASH_SALT")
    assert result.success and "code" not in result.unaltered
    with pytest.raises(RejectedError, match="2 erreur"):
        verified_csv(result.clean_path, dataset_id="aides", schema=FRENCH, accepted=result.counts,
                     trusted=result.unaltered)
