"""The round trip: the CSV is made once, read back, and refused when it is not what was checked."""

from __future__ import annotations

import pytest

from moisson.connectors.csvfile import published_csv
from moisson.core.errors import RejectedError
from moisson.quality.gate import report_frame
from moisson.tasks import roundtrip
from moisson.tasks.roundtrip import verified_csv
from tests.data import make_schema, text_frame, write_extract

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
    assert "1 erreur(s)" in message and "code" in message and "la version déjà en ligne reste" in message
    assert not published_csv(data).exists(), "no target may find a refused file"


def test_errors_a_warn_policy_accepted_may_be_published_again(tmp_path):
    frame = text_frame({"code": ["3f2a9c", "59350"], "aide": ["peut-être", "non"]})
    checked = report_frame(frame, SCHEMA)
    data = write_extract(tmp_path / "clean.parquet", {"code": ["3f2a9c", "59350"], "aide": ["peut-être", "non"]})
    assert verified_csv(data, dataset_id="aides", schema=SCHEMA, accepted=checked.counts).is_file()
    worse = write_extract(tmp_path / "worse.parquet", {"code": ["3f2a9c", "x"], "aide": ["peut-être", "non"]})
    with pytest.raises(RejectedError, match="1 erreur"):
        verified_csv(worse, dataset_id="aides", schema=SCHEMA, accepted=checked.counts)


def test_a_file_that_does_not_read_back_as_the_cells_is_refused(tmp_path, monkeypatch):
    def lossy(data, dest, dates=frozenset()):
        dest.write_text("code,aide\n59350,\n", encoding="utf-8")

    monkeypatch.setattr(roundtrip, "render_csv", lossy)
    data = write_extract(tmp_path / "clean.parquet", {"code": ["59350"], "aide": ["oui"]})
    with pytest.raises(RejectedError, match="row 2, column 'aide'") as caught:
        verified_csv(data, dataset_id="aides", schema=None, lang="en")
    assert "nothing was published" in str(caught.value)


@pytest.mark.parametrize("schema", [SCHEMA, None])
def test_an_empty_table_reads_back_as_empty(tmp_path, schema):
    # A dataset with no row, which `quality: {allow_shrink: 1}` accepts, is published as its header alone.
    data = write_extract(tmp_path / "clean.parquet", {"code": [], "aide": []})
    path = verified_csv(data, dataset_id="aides", schema=schema)
    assert path.read_text(encoding="utf-8") == "code,aide\n"


def test_the_comparison_goes_batch_by_batch_and_counts_rows(tmp_path, monkeypatch):
    monkeypatch.setattr(roundtrip, "BATCH_ROWS", 2)  # the Parquet side in batches smaller than the CSV's
    codes = [f"{59000 + i}" for i in range(7)]
    data = write_extract(tmp_path / "clean.parquet", {"code": codes, "aide": ["oui"] * 7})
    assert verified_csv(data, dataset_id="aides", schema=SCHEMA).is_file()

    def short(data, dest, dates=frozenset()):
        dest.write_text("code,aide\n" + "".join(f"{c},oui\n" for c in codes[:-1]), encoding="utf-8")

    monkeypatch.setattr(roundtrip, "render_csv", short)
    with pytest.raises(RejectedError, match="6 lignes au lieu de 7"):
        verified_csv(data, dataset_id="aides", schema=None)

    def changed(data, dest, dates=frozenset()):
        dest.write_text("code,aide\n" + "".join(f"{c},{'non' if i == 5 else 'oui'}\n" for i, c in enumerate(codes)),
                        encoding="utf-8")

    monkeypatch.setattr(roundtrip, "render_csv", changed)
    with pytest.raises(RejectedError, match="ligne 7, colonne 'aide'"):
        verified_csv(data, dataset_id="aides", schema=None)
