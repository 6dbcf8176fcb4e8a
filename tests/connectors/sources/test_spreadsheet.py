"""Tests of the spreadsheet source: contract, own French fixtures, the reference messy files, errors."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from moisson.connectors import tabular as tabular_io
from moisson.connectors.base import DatasetDescriptor, Extract, RowFinding
from moisson.connectors.sources.spreadsheet import SpreadsheetLocator, SpreadsheetSource, humanize
from moisson.connectors.testing import SourceContract
from moisson.core.errors import ConfigError, NotFoundError, RejectedError
from moisson.core.ids import slugify
from tests.data import REFERENCE

MESSY = REFERENCE / "messy" / "csv-detective"
needs_reference = pytest.mark.skipif(not MESSY.is_dir(), reason=f"reference data absent: {REFERENCE}")

SUBVENTIONS_CP1252 = (
    "Commune de Saint-Étienne — subventions 2023\r\n"
    "\r\n"
    "beneficiaire;montant;code_insee;objet\r\n"
    "Association d’œuvres sociales;1 500 €;01001;Fête de l'été\r\n"
    "Club de football;2 000,50 €;42218;\"Tournoi ; juniors\"\r\n"
)


# --- helpers ---------------------------------------------------------------------------------------------

def source_on(root: Path) -> SpreadsheetSource:
    return SpreadsheetSource(SpreadsheetSource.Config(root=root))


def extract(root: Path, out: Path, **locator: object) -> tuple[Extract, list[dict]]:
    result = source_on(root).extract(DatasetDescriptor(id="jeu-test", locator=locator), out)
    return result, pq.read_table(result.path).to_pylist()


def write_subventions_xlsx(path: Path, first_sheet: str | None = "Lisez-moi") -> None:
    """A workbook like town halls send: read-me sheet, then data under a title row on sheet 2."""
    book = openpyxl.Workbook()
    if first_sheet:
        book.active.title = first_sheet
        book.active["A1"] = "Ce classeur liste les subventions versées en 2023."
        book.active["A2"] = "Contact : service finances"
    else:
        book.active.title = "Feuil1"
    data = book.create_sheet("Données")
    data["A1"] = "Commune de Saint-Étienne — subventions 2023"
    data.append([])
    data.append(["  bénéficiaire ", "siret", "montant", "taux", "date", "horodatage", "versé", "code", "note"])
    data.append(["Association d’œuvres", 32402138500000, 1500.5, 0.1, dt.date(2023, 12, 31),
                 dt.datetime(2023, 12, 31, 10, 0), True, "01001", None])
    data.append(["Club", 21420218600019, 2000, "=0.1+0.2", dt.date(2024, 1, 2),
                 dt.datetime(2024, 1, 2, 8, 30, 15), False, "2A004", "  espaces  "])
    data["D5"].value = 0.1 + 0.2  # what Excel stores for =0.1+0.2
    book.properties.title = "Subventions 2023"
    book.save(path)


def write_ods(path: Path) -> None:
    frame = pd.DataFrame({"Année": [2012.0, 2013.0], "Date": ["29/05/2012", "04/06/2013"],
                          "Code": ["01001", "2B033"]})
    with pd.ExcelWriter(path, engine="odf") as writer:
        frame.to_excel(writer, sheet_name="Lauréats", index=False)


# --- contract --------------------------------------------------------------------------------------------

class TestSpreadsheetSource(SourceContract):
    @pytest.fixture
    def source(self, tmp_path: Path) -> SpreadsheetSource:
        root = tmp_path / "tableurs"
        root.mkdir()
        (root / "subventions.csv").write_bytes(SUBVENTIONS_CP1252.encode("cp1252"))
        write_subventions_xlsx(root / "subventions-detail.xlsx")
        write_ods(root / "laureats.ods")
        return source_on(root)

    @pytest.fixture
    def dataset(self, source: SpreadsheetSource) -> DatasetDescriptor:
        return next(d for d in source.discover() if d.locator["path"] == "subventions.csv")


# --- own files -------------------------------------------------------------------------------------------

def test_cp1252_csv_with_title_row(tmp_path: Path) -> None:
    (tmp_path / "subventions.csv").write_bytes(SUBVENTIONS_CP1252.encode("cp1252"))
    result, rows = extract(tmp_path, tmp_path / "out", path="subventions.csv")
    assert result.path == tmp_path / "out" / "jeu-test.parquet"
    assert result.rows == 2 and result.first_row == 4
    assert rows[0] == {"beneficiaire": "Association d’œuvres sociales", "montant": "1 500 €",
                       "code_insee": "01001", "objet": "Fête de l'été"}
    assert rows[1]["objet"] == "Tournoi ; juniors"
    assert "encodage cp1252 (détecté)" in result.notes
    assert "séparateur ';' (détecté)" in result.notes
    assert any("en-tête trouvé ligne 3 ; lignes 1–2 au-dessus ignorées : 'Commune de Saint-Étienne" in n
               for n in result.notes)
    assert result.metadata["modified"] == dt.datetime.fromtimestamp(
        (tmp_path / "subventions.csv").stat().st_mtime, tz=dt.UTC)
    assert "title" not in result.metadata
    schema = pq.read_schema(result.path)
    assert all(field.type == pa.string() for field in schema)


def test_latin1_and_utf8_bom_and_utf16(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Real latin-1 text has no byte in 0x80-0x9F, where cp1252 differs: cp1252 reads it right.
    (tmp_path / "latin.csv").write_bytes("nom,ville\nFrançoise «Zoé» Bœuf,Rhône\n".encode("latin-1", "replace"))
    result, rows = extract(tmp_path, tmp_path / "out", path="latin.csv")
    assert rows == [{"nom": "Françoise «Zoé» B?uf", "ville": "Rhône"}]
    # 0x81 is undefined in cp1252; when nothing else fits either, latin-1 reads it, with a warning.
    monkeypatch.setattr(tabular_io.charset_normalizer, "from_bytes",
                        lambda *_, **__: tabular_io.charset_normalizer.CharsetMatches([]))
    (tmp_path / "odd.csv").write_bytes(b"nom,code\nSt\xe9phane \x81,01\n")
    result, rows = extract(tmp_path, tmp_path / "out", path="odd.csv")
    assert rows[0] == {"nom": "Stéphane \x81", "code": "01"}
    assert any(n.startswith("encodage latin-1 (par défaut") for n in result.notes)

    (tmp_path / "bom.csv").write_bytes("\ufeffcode;libellé\n01;Ain\n".encode())
    result, rows = extract(tmp_path, tmp_path / "out", path="bom.csv")
    assert rows == [{"code": "01", "libellé": "Ain"}]
    assert "encodage utf-8 avec BOM (détecté)" in result.notes

    # Excel's "Unicode text" export: UTF-16 with BOM, tab-delimited.
    (tmp_path / "unicode.txt").write_bytes("code\tcommune\r\n07186\tPrivas\r\n".encode("utf-16"))
    result, rows = extract(tmp_path, tmp_path / "out", path="unicode.txt")
    assert rows == [{"code": "07186", "commune": "Privas"}]
    assert "séparateur '\\t' (détecté)" in result.notes


def test_mac_roman_is_guessed(tmp_path: Path) -> None:
    text = "nom;ville\nHélène Lefèvre;Évry-Courcouronnes\nFrançois Chère;Rhône\n"
    (tmp_path / "mac.csv").write_bytes(text.encode("mac_roman"))
    result, rows = extract(tmp_path, tmp_path / "out", path="mac.csv")
    assert rows[1] == {"nom": "François Chère", "ville": "Rhône"}
    assert any(n.startswith("encodage mac_roman (deviné") for n in result.notes)


def test_explicit_encoding_and_delimiter(tmp_path: Path) -> None:
    (tmp_path / "f.csv").write_bytes("a|b\n€|œ\n".encode("cp1252"))
    result, rows = extract(tmp_path, tmp_path / "out", path="f.csv", encoding="cp1252", delimiter="|")
    assert rows == [{"a": "€", "b": "œ"}]
    assert "encodage cp1252 (indiqué par le catalogue)" in result.notes
    result, _ = extract(tmp_path, tmp_path / "out", path="f.csv", sheet="Feuil1")
    assert "sheet du catalogue ignoré(s) : f.csv est un CSV" in result.notes
    with pytest.raises(RejectedError, match=r"ne peut pas être lu en utf-8 : l'octet 0x80 ligne 2"):
        extract(tmp_path, tmp_path / "out", path="f.csv", encoding="utf-8")


def test_xlsx_title_row_second_sheet_and_cell_text(tmp_path: Path) -> None:
    write_subventions_xlsx(tmp_path / "subv.xlsx")
    result, rows = extract(tmp_path, tmp_path / "out", path="subv.xlsx")
    assert result.rows == 2 and result.first_row == 4
    assert result.metadata["title"] == "Subventions 2023"
    assert ("feuille 'Données' utilisée (première feuille avec des données) ; autres feuilles : 'Lisez-moi'"
            in result.notes)
    assert rows[0] == {"bénéficiaire": "Association d’œuvres", "siret": "32402138500000", "montant": "1500.5",
                       "taux": "0.1", "date": "2023-12-31", "horodatage": "2023-12-31T10:00:00",
                       "versé": "true", "code": "01001", "note": None}
    assert rows[1]["taux"] == "0.3"  # 0.30000000000000004 shown with Excel's 15 digits
    assert rows[1]["montant"] == "2000" and rows[1]["versé"] == "false"
    assert rows[1]["horodatage"] == "2024-01-02T08:30:15"
    assert rows[1]["note"] == "  espaces  "  # values are kept as they are


def test_xlsx_empty_first_sheet_and_hidden_sheet(tmp_path: Path) -> None:
    write_subventions_xlsx(tmp_path / "a.xlsx", first_sheet=None)
    result, _ = extract(tmp_path, tmp_path / "out", path="a.xlsx")
    assert any(n.startswith("feuille 'Données' utilisée") for n in result.notes)

    book = openpyxl.Workbook()
    book.active.title = "listes"
    book.active.append(["oui", "non"])
    book.active.sheet_state = "hidden"
    book.create_sheet("data").append(["x"])
    book["data"].append(["1"])
    book.save(tmp_path / "b.xlsx")
    result, rows = extract(tmp_path, tmp_path / "out", path="b.xlsx")
    assert rows == [{"x": "1"}]


def test_sheet_by_name_index_and_year_number(tmp_path: Path) -> None:
    write_subventions_xlsx(tmp_path / "subv.xlsx")
    _, rows = extract(tmp_path, tmp_path / "out", path="subv.xlsx", sheet=0)
    assert rows[0] == {"Ce classeur liste les subventions versées en 2023.": "Contact : service finances"}
    result, rows = extract(tmp_path, tmp_path / "out", path="subv.xlsx", sheet="Données", header_row=3)
    assert result.rows == 2 and rows[0]["code"] == "01001"
    assert "feuille 'Données' utilisée (indiquée par le catalogue) ; autres feuilles : 'Lisez-moi'" in result.notes

    book = openpyxl.Workbook()
    book.active.title = "2022"
    book.create_sheet("2023").append(["annee"])
    book["2023"].append(["2023"])
    book.save(tmp_path / "years.xlsx")
    _, rows = extract(tmp_path, tmp_path / "out", path="years.xlsx", sheet=2023)  # `sheet: 2023` in YAML
    assert rows == [{"annee": "2023"}]


def test_explicit_header_row(tmp_path: Path) -> None:
    (tmp_path / "f.csv").write_text("a;b\nc;d\n1;2\n", encoding="utf-8")
    result, rows = extract(tmp_path, tmp_path / "out", path="f.csv", header_row=2)
    assert rows == [{"c": "1", "d": "2"}] and result.first_row == 3
    assert any("ligne 1 au-dessus ignorée : 'a b'" in n for n in result.notes)
    with pytest.raises(RejectedError, match="n'a que 3 lignes, mais `header_row` vaut 9"):
        extract(tmp_path, tmp_path / "out", path="f.csv", header_row=9)


def test_ods(tmp_path: Path) -> None:
    write_ods(tmp_path / "laureats.ods")
    result, rows = extract(tmp_path, tmp_path / "out", path="laureats.ods")
    assert rows == [{"Année": "2012", "Date": "29/05/2012", "Code": "01001"},
                    {"Année": "2013", "Date": "04/06/2013", "Code": "2B033"}]
    assert result.notes[0] == "lu comme tableur OpenDocument (ods)"


def test_blank_rows_repeated_header_ragged_rows(tmp_path: Path) -> None:
    (tmp_path / "f.csv").write_text(
        "code,nom,\n"  # trailing delimiter: no third column
        "01,Ain,\n"
        ",,\n"
        "code,nom\n"  # header pasted again mid-file
        "02\n"  # short row: padded
        "03,Aisne,extra,,plus\n"  # long row: extras kept
        "\n"
        "   ,  \n", encoding="utf-8")
    result, rows = extract(tmp_path, tmp_path / "out", path="f.csv")
    assert rows == [
        {"code": "01", "nom": "Ain", "column_3": None, "column_4": None, "column_5": None},
        {"code": "02", "nom": None, "column_3": None, "column_4": None, "column_5": None},
        {"code": "03", "nom": "Aisne", "column_3": "extra", "column_4": None, "column_5": "plus"},
    ]
    assert "3 ligne(s) vide(s) retirée(s) : ligne(s) 3, 7, 8" in result.notes
    assert "en-tête répété ligne(s) 4 : 1 ligne(s) retirée(s)" in result.notes
    assert any(n.startswith("ligne(s) 6 : plus de valeurs que l'en-tête") and "column_3, column_4, column_5" in n
               for n in result.notes)
    assert any(n.startswith("ligne(s) 5 : moins de valeurs que l'en-tête") for n in result.notes)
    found = {f.kind: f for f in result.findings}
    assert found["blank-row"] == RowFinding("blank-row", (3, 7, 8), 3)
    assert found["repeated-header"] == RowFinding("repeated-header", (4,), 1)
    assert found["extra-cell"] == RowFinding("extra-cell", (6,), 1, ("column_3", "column_4", "column_5"))
    assert found["missing-cell"] == RowFinding("missing-cell", (5,), 1)
    assert result.cut_last_row is None and result.row_gaps == ((1, 2),)


def test_overflow_columns_across_row_groups(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tabular_io, "CHUNK_ROWS", 3)
    lines = ["a;b"] + [f"{i};x" for i in range(7)] + ["7;x;late"] + ["8;x"]
    (tmp_path / "f.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    result, rows = extract(tmp_path, tmp_path / "out", path="f.csv")
    assert result.rows == 9 and [r["a"] for r in rows] == [str(i) for i in range(9)]
    assert [r["column_3"] for r in rows] == [None] * 7 + ["late", None]
    assert pq.ParquetFile(result.path).metadata.num_row_groups >= 3
    assert not list((tmp_path / "out").glob(".*"))  # no temporary file left


def test_duplicate_and_missing_labels(tmp_path: Path) -> None:
    (tmp_path / "f.csv").write_text("id;;id;id.2\n1;2;3;4\n", encoding="utf-8")
    result, rows = extract(tmp_path, tmp_path / "out", path="f.csv")
    assert list(rows[0]) == ["id", "column_2", "id.3", "id.2"]
    assert list(rows[0].values()) == ["1", "2", "3", "4"]
    assert any("colonne(s) 2 sans libellé" in n for n in result.notes)
    assert any("libellé de colonne 'id' en double" in n and "'id.3'" in n for n in result.notes)


def test_header_only_gives_zero_rows(tmp_path: Path) -> None:
    (tmp_path / "f.csv").write_text("a;b\n", encoding="utf-8")
    result, rows = extract(tmp_path, tmp_path / "out", path="f.csv")
    assert result.rows == 0 and rows == [] and result.first_row == 2
    assert pq.read_schema(result.path).names == ["a", "b"]


def test_gzip_of_cp1252_csv_and_of_workbook(tmp_path: Path) -> None:
    (tmp_path / "f.csv.gz").write_bytes(gzip.compress(SUBVENTIONS_CP1252.encode("cp1252")))
    result, rows = extract(tmp_path, tmp_path / "out", path="f.csv.gz")
    assert result.notes[:2] == ["lu comme CSV compressé (gzip)", "encodage cp1252 (détecté)"]
    assert [n.say("en") for n in result.notes[:2]] == ["read as gzip-compressed CSV", "encoding cp1252 (detected)"]
    assert rows[0]["montant"] == "1 500 €"
    write_ods(tmp_path / "l.ods")
    (tmp_path / "l.ods.gz").write_bytes(gzip.compress((tmp_path / "l.ods").read_bytes()))
    result, rows = extract(tmp_path, tmp_path / "out", path="l.ods.gz")
    assert rows[0]["Code"] == "01001"


# --- structure: read right or refused --------------------------------------------------------------------

def test_documentation_lines_do_not_choose_the_delimiter(tmp_path: Path) -> None:
    # Two free-text lines with commas above a `;` header, decimal commas in the data: once read with `,`
    # and published as one column named after the first sentence.
    (tmp_path / "f.csv").write_text(
        "Source : mairie de Moisson, service des finances, mise à jour 2023\n"
        "Montants en euros, arrondis au centime, hors taxes\n"
        "beneficiaire;montant;taux\n"
        "Club de foot;1500,50;0,5\n"
        "Amicale;200,00;1\n"
        "Chorale;30,25;0,25\n", encoding="utf-8")
    result, rows = extract(tmp_path, tmp_path / "out", path="f.csv")
    assert "séparateur ';' (détecté)" in result.notes
    assert rows[0] == {"beneficiaire": "Club de foot", "montant": "1500,50", "taux": "0,5"}
    assert result.rows == 3 and result.first_row == 4
    assert any(n.startswith("en-tête trouvé ligne 3 ; lignes 1–2 au-dessus ignorées : 'Source : mairie")
               for n in result.notes)


DIDO = (
    "Code de la commune;Nom de la commune;Nombre de logements;Surface moyenne\n"
    "texte;texte;entier;nombre\n"
    ";;logements;m²\n"
    "CODE_COMMUNE;LIBELLE_COMMUNE;NB_LOGEMENTS;SURFACE_MOY\n"
    "01001;L'Abergement-Clémenciat;350;92,5\n"
    "01002;L'Abergement-de-Varey;120;88\n"
)


def test_multi_row_header_uses_the_names_row(tmp_path: Path) -> None:
    (tmp_path / "dido.csv").write_text(DIDO, encoding="utf-8")
    result, rows = extract(tmp_path, tmp_path / "out", path="dido.csv")
    assert rows == [
        {"CODE_COMMUNE": "01001", "LIBELLE_COMMUNE": "L'Abergement-Clémenciat", "NB_LOGEMENTS": "350",
         "SURFACE_MOY": "92,5"},
        {"CODE_COMMUNE": "01002", "LIBELLE_COMMUNE": "L'Abergement-de-Varey", "NB_LOGEMENTS": "120",
         "SURFACE_MOY": "88"},
    ]
    assert result.first_row == 5 and result.rows == 2
    assert result.fields["NB_LOGEMENTS"] == {"title": "Nombre de logements", "description": "logements",
                                             "declared_type": "entier"}
    assert result.fields["CODE_COMMUNE"] == {"title": "Code de la commune", "declared_type": "texte"}
    assert any(n.startswith("en-tête sur 4 lignes (1–4) : libellés ligne 1, types ligne 2, unités ligne 3, noms de "
                            "colonnes ligne 4 ; ") for n in result.notes)
    assert any(n.say("en").startswith("header on 4 rows (1–4): labels on row 1, types on row 2, units on row 3, "
                                      "column names on row 4; ") for n in result.notes)
    # The same in a workbook, under a title row.
    book = openpyxl.Workbook()
    book.active.append(["Parc de logements 2023 (source : ministère)"])
    for line in DIDO.splitlines():
        book.active.append([cell or None for cell in line.split(";")])
    book.save(tmp_path / "dido.xlsx")
    result, same = extract(tmp_path, tmp_path / "out", path="dido.xlsx")
    assert list(same[0]) == list(rows[0]) and same[0]["NB_LOGEMENTS"] == "350"
    assert result.first_row == 6 and result.fields["SURFACE_MOY"]["description"] == "m²"


def test_multi_row_header_without_names_is_refused(tmp_path: Path) -> None:
    (tmp_path / "f.csv").write_text("Code commune;Nom;Nombre d'habitants\ntexte;texte;entier\n01001;Ain;3\n",
                                    encoding="utf-8")
    with pytest.raises(RejectedError, match=r"la ligne 2 ressemble à une ligne de types.*'texte', 'texte', "
                                            r"'entier'.*`header_row`") as info:
        extract(tmp_path, tmp_path / "out", path="f.csv")
    assert info.value.dataset_id == "jeu-test"
    # Told where the names are, moisson reads it (the types row is then a data row, and checked as such).
    result, rows = extract(tmp_path, tmp_path / "out", path="f.csv", header_row=1)
    assert rows[0] == {"Code commune": "texte", "Nom": "texte", "Nombre d'habitants": "entier"}
    assert result.rows == 2
    # Names then types: a two-row header.
    (tmp_path / "g.csv").write_text("code;nom\ntexte;texte\n01001;Ain\n", encoding="utf-8")
    result, rows = extract(tmp_path, tmp_path / "out", path="g.csv")
    assert rows == [{"code": "01001", "nom": "Ain"}] and result.first_row == 3
    assert result.fields == {"code": {"declared_type": "texte"}, "nom": {"declared_type": "texte"}}


def test_data_rows_longer_than_the_header_are_refused_as_unclear(tmp_path: Path) -> None:
    lines = ["Subventions 2023;versées"] + [f"asso {i};{i};0{i}001;oui" for i in range(6)]
    (tmp_path / "f.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(RejectedError, match=r"structure de f\.csv incertaine.*en-tête trouvé ligne 1 \(2 colonnes\)"
                                            r".*6 des 6 premières lignes.*lignes 2, 3, 4, 5, 6 et 1 autre\).*"
                                            r"`header_row`.*`delimiter`"):
        extract(tmp_path, tmp_path / "out", path="f.csv")
    result, rows = extract(tmp_path, tmp_path / "out", path="f.csv", delimiter=";")
    assert rows[0] == {"Subventions 2023": "asso 0", "versées": "0", "column_3": "00001", "column_4": "oui"}
    assert {f.kind: f.count for f in result.findings} == {"extra-cell": 6}


def test_ragged_rows_across_parser_blocks_keep_their_place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tabular_io, "BLOCK_BYTES", 64)
    lines = ["id;nom;note"]
    for i in range(2, 60):
        lines.append(f"{i};n{i}" if i % 7 == 0 else f"{i};n{i};x;surplus" if i % 11 == 0 else f"{i};n{i};ok")
    (tmp_path / "f.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    result, rows = extract(tmp_path, tmp_path / "out", path="f.csv")
    assert [r["id"] for r in rows] == [str(i) for i in range(2, 60)]
    found = {f.kind: f.rows for f in result.findings}
    assert found == {"missing-cell": tuple(range(7, 60, 7)), "extra-cell": tuple(range(11, 60, 11))}
    assert [r["column_4"] for r in rows if r["column_4"]] == ["surplus"] * 5
    assert rows[5] == {"id": "7", "nom": "n7", "note": None, "column_4": None}
    assert rows[9] == {"id": "11", "nom": "n11", "note": "x", "column_4": "surplus"}


def test_header_with_a_line_break_inside_a_label(tmp_path: Path) -> None:
    (tmp_path / "f.csv").write_text('Export du 12/01/2024\n"NOM\n(FONDATION)";ville\nA;Paris\nB;Lyon\n',
                                    encoding="utf-8")
    result, rows = extract(tmp_path, tmp_path / "out", path="f.csv")
    assert rows == [{"NOM\n(FONDATION)": "A", "ville": "Paris"}, {"NOM\n(FONDATION)": "B", "ville": "Lyon"}]
    assert result.first_row == 3


def test_cut_last_row_is_flagged(tmp_path: Path) -> None:
    (tmp_path / "cut.csv").write_text("id;site;ville\n1;https://a.fr;Lyon\n2;https:/", encoding="utf-8")
    result, rows = extract(tmp_path, tmp_path / "out", path="cut.csv")
    assert rows[-1] == {"id": "2", "site": "https:/", "ville": None}
    assert result.cut_last_row == RowFinding("cut-last-row", (3,), 1,
                                             detail="la ligne 3 a moins de valeurs que l'en-tête n'a de colonnes")
    (tmp_path / "quote.csv").write_text('id;site;ville\n1;a;Lyon\n2;b;"Saint-Ét', encoding="utf-8")
    result, _ = extract(tmp_path, tmp_path / "out", path="quote.csv")
    assert result.cut_last_row is not None and "guillemet reste ouvert" in result.cut_last_row.detail
    (tmp_path / "whole.csv").write_text('id;ville\n1;"Lyon\n(69)"\n2;Paris', encoding="utf-8")
    result, _ = extract(tmp_path, tmp_path / "out", path="whole.csv")
    assert result.cut_last_row is None


def test_nul_byte_past_the_sample_is_refused(tmp_path: Path) -> None:
    lines = ["id;nom"] + [f"{i};commune {i}" for i in range(20_000)]
    lines[15_000] = "14999;comm\x00une"
    (tmp_path / "f.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert (tmp_path / "f.csv").stat().st_size > tabular_io.SAMPLE_BYTES * 3
    with pytest.raises(RejectedError, match=r"octet nul \(NUL, 0x00\) ligne 15001, colonne 'nom'"):
        extract(tmp_path, tmp_path / "out", path="f.csv")


def test_cp1252_past_the_sample_is_read_as_cp1252(tmp_path: Path) -> None:
    lines = ["id;nom"] + [f"{i};commune {i}" for i in range(20_000)] + ["20000;Œuvre d’art"]
    (tmp_path / "f.csv").write_bytes(("\n".join(lines) + "\n").encode("cp1252"))
    result, rows = extract(tmp_path, tmp_path / "out", path="f.csv")
    assert rows[-1] == {"id": "20000", "nom": "Œuvre d’art"} and result.rows == 20_001
    assert "encodage cp1252 (détecté)" in result.notes and "encodage utf-8 (détecté)" not in result.notes


def _rezip(source: Path, target: Path, replace: dict[str, bytes]) -> None:
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            new.writestr(info.filename, replace.get(info.filename, old.read(info.filename)))


def test_inflated_workbook_members_are_refused(tmp_path: Path) -> None:
    write_subventions_xlsx(tmp_path / "ok.xlsx")
    sheet = "xl/worksheets/sheet2.xml"
    with zipfile.ZipFile(tmp_path / "ok.xlsx") as book:
        xml = book.read(sheet)
    padding = b"<!-- " + b" " * (3 << 20) + b" -->"
    _rezip(tmp_path / "ok.xlsx", tmp_path / "bomb.xlsx", {sheet: xml.replace(b"<sheetData>", padding + b"<sheetData>")})
    with pytest.raises(RejectedError, match=r"bomb\.xlsx est refusé : son élément xl/worksheets/sheet2\.xml se "
                                            r"décompresse en plus de 3 Mo.*`max_unpacked_mb`"):
        extract(tmp_path, tmp_path / "out", path="bomb.xlsx")  # the ratio: 3 MiB from a few KiB
    padding = b"<!-- " + b"".join(str(i).encode() for i in range(400_000)) + b" -->"
    _rezip(tmp_path / "ok.xlsx", tmp_path / "big.xlsx", {sheet: xml.replace(b"<sheetData>", padding + b"<sheetData>")})
    with pytest.raises(RejectedError, match=r"limite 1 Mo"):
        extract(tmp_path, tmp_path / "out", path="big.xlsx", max_unpacked_mb=1)
    _, rows = extract(tmp_path, tmp_path / "out", path="big.xlsx")
    assert rows[0]["code"] == "01001"


def test_big_document_properties_are_not_parsed(tmp_path: Path) -> None:
    write_subventions_xlsx(tmp_path / "ok.xlsx")
    with zipfile.ZipFile(tmp_path / "ok.xlsx") as book:
        core = book.read("docProps/core.xml")
    padded = core.replace(b"<dc:title ", b"<!-- " + b"".join(str(i).encode() for i in range(200_000)) + b" -->"
                          + b"<dc:title ")
    assert len(padded) > len(core) + (1 << 20)
    _rezip(tmp_path / "ok.xlsx", tmp_path / "meta.xlsx", {"docProps/core.xml": padded})
    result, rows = extract(tmp_path, tmp_path / "out", path="meta.xlsx")
    assert "title" not in result.metadata and rows[0]["code"] == "01001"
    assert any(n.startswith("propriétés du document (docProps/core.xml) de plus de 1 Mio") for n in result.notes)


def test_xml_entities_in_a_workbook_are_refused_as_such(tmp_path: Path) -> None:
    write_subventions_xlsx(tmp_path / "ok.xlsx")
    sheet = "xl/worksheets/sheet2.xml"
    with zipfile.ZipFile(tmp_path / "ok.xlsx") as book:
        xml = book.read(sheet)
    evil = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>' + xml
    _rezip(tmp_path / "ok.xlsx", tmp_path / "xxe.xlsx", {sheet: evil})
    with pytest.raises(RejectedError, match=r"xxe\.xlsx déclare des entités XML \(<!DOCTYPE ou <!ENTITY dans "
                                            r"xl/worksheets/sheet2\.xml\)"):
        extract(tmp_path, tmp_path / "out", path="xxe.xlsx")


# --- discover and check ----------------------------------------------------------------------------------

def test_discover_ids_titles_and_skipped_files(tmp_path: Path) -> None:
    (tmp_path / "Données été").mkdir()
    (tmp_path / "Données été" / "Subventions 2023.csv").write_text("a;b\n1;2\n", encoding="utf-8")
    write_subventions_xlsx(tmp_path / "budget.xlsx")
    (tmp_path / "budget.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    (tmp_path / "budget-2.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    (tmp_path / "export_sans_extension").write_text("x;y\n1;2\n3;4\n", encoding="utf-8")
    (tmp_path / "points.txt").write_text("x\ty\n1\t2\n", encoding="utf-8")
    (tmp_path / "LISEZMOI.txt").write_text("Ces fichiers sont publiés chaque mois.\nMerci.\n", encoding="utf-8")
    (tmp_path / "schema.json").write_text('{"fields": [1, 2]}\n{"a": 1, "b": 2}\n', encoding="utf-8")
    (tmp_path / "~$budget.xlsx").write_bytes(b"lock")
    (tmp_path / ".~lock.budget.ods#").write_text("lock", encoding="utf-8")
    (tmp_path / "photo").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    found = {d.locator["path"]: d for d in source_on(tmp_path).discover()}
    assert {p: d.id for p, d in found.items()} == {
        "Données été/Subventions 2023.csv": "donnees-ete-subventions-2023",
        "budget-2.csv": "budget-2",
        "budget.csv": "budget",
        "budget.xlsx": "budget-3",
        "export_sans_extension": "export-sans-extension",
        "points.txt": "points",
    }
    assert found["export_sans_extension"].metadata.title == "Export sans extension"
    assert found["Données été/Subventions 2023.csv"].title == "Subventions 2023"


def test_discover_pattern(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("a;b\n1;2\n", encoding="utf-8")
    (tmp_path / "b.ods").write_bytes(b"")
    source = SpreadsheetSource(SpreadsheetSource.Config(root=tmp_path, pattern="*.csv"))
    assert [d.id for d in source.discover()] == ["a"]


def test_slugify_and_humanize() -> None:
    assert slugify("Équipements/Œuvres d'art — 2023") == "equipements-oeuvres-d-art-2023"
    assert slugify("???") == "dataset"
    assert humanize("subventions_2023-v2") == "Subventions 2023 v2"


def test_relative_root_is_resolved_against_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "data").mkdir()
    monkeypatch.chdir(tmp_path)
    source = SpreadsheetSource(SpreadsheetSource.Config(root=Path("data")))
    assert source.root == tmp_path.resolve() / "data"
    source.check()


def test_check_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="n'existe pas : corrigez `root`"):
        source_on(tmp_path / "absent").check()
    (tmp_path / "file.csv").write_text("a\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="est un fichier, pas un dossier"):
        source_on(tmp_path / "file.csv").check()


# --- errors ----------------------------------------------------------------------------------------------

def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError) as info:
        extract(tmp_path, tmp_path / "out", path="2023/absent.xlsx")
    assert str(info.value).startswith("[jeu-test · spreadsheet] 2023/absent.xlsx n'existe pas dans ")
    assert not info.value.retryable


def test_missing_sheet_lists_sheets(tmp_path: Path) -> None:
    write_subventions_xlsx(tmp_path / "subv.xlsx")
    with pytest.raises(RejectedError, match=r"subv.xlsx n'a pas de feuille 'Donnees' ; ses feuilles sont "
                                            r"0: 'Lisez-moi', 1: 'Données'\. Corrigez `sheet`") as info:
        extract(tmp_path, tmp_path / "out", path="subv.xlsx", sheet="Donnees")
    assert info.value.dataset_id == "jeu-test"
    with pytest.raises(RejectedError, match="n'a pas de feuille 5"):
        extract(tmp_path, tmp_path / "out", path="subv.xlsx", sheet=5)


@pytest.mark.parametrize(("content", "message"), [
    (b"", r"data\.xlsx est vide \(0 octet\)"),
    (b"\r\n \r\n\t \r\n", r"data\.xlsx ne contient aucune donnée : toutes ses lignes sont vides"),
    (bytes(range(256)) * 4, r"data\.xlsx n'est ni un tableur ni un fichier texte"),
    (b"PK\x03\x04" + b"\x00garbage" * 20, r"data\.xlsx ressemble à un classeur mais il est abîmé"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x01" * 600, r"ne peut pas être lu comme classeur Excel 97-2003"),
    (b"%PDF-1.7\n", r"data\.xlsx est un document PDF"),
    (b"<html><table><tr><td>1</td></tr></table></html>", r"page HTML ou XML"),
    (gzip.compress(b"")[:-4], r"fichier compressé \(gzip\) abîmé"),
])
def test_unreadable_files(tmp_path: Path, content: bytes, message: str) -> None:
    (tmp_path / "data.xlsx").write_bytes(content)
    with pytest.raises(RejectedError, match=message) as info:
        extract(tmp_path, tmp_path / "out", path="data.xlsx")
    assert str(info.value).startswith("[jeu-test · spreadsheet] ")
    assert "Traceback" not in str(info.value) and "Cannot detect" not in str(info.value)
    assert not (tmp_path / "out" / "jeu-test.parquet").exists()


def test_zip_that_is_not_a_workbook(tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "export.xlsx", "w") as archive:
        archive.writestr("commune.shp", b"\x00")
    with pytest.raises(RejectedError, match="est une archive zip : faites pointer `path`"):
        extract(tmp_path, tmp_path / "out", path="export.xlsx")


def test_failed_extract_keeps_the_previous_parquet(tmp_path: Path) -> None:
    (tmp_path / "f.csv").write_text("a\n1\n", encoding="utf-8")
    result, _ = extract(tmp_path, tmp_path / "out", path="f.csv")
    (tmp_path / "f.csv").write_text("a\n€\n", encoding="cp1252")
    with pytest.raises(RejectedError):
        extract(tmp_path, tmp_path / "out", path="f.csv", encoding="utf-8")
    assert pq.read_table(result.path).to_pylist() == [{"a": "1"}]


@pytest.mark.parametrize(("locator", "message"), [
    ({"path": "f.csv", "sheeet": 1}, r"sheeet : clé inconnue.*clés possibles : path, sheet"),
    ({"path": "f.csv", "encoding": "klingon"}, "encodage 'klingon' inconnu"),
    ({"path": "f.csv", "delimiter": ";;"}, "un séparateur est un seul caractère"),
    ({"path": "f.csv", "header_row": 0}, "header_row : la valeur doit être supérieure ou égale à 1"),
    ({"sheet": 1}, "path : clé obligatoire absente"),
    ({"path": "../secret.csv"}, "pointe hors du dossier des tableurs"),
])
def test_bad_locator(tmp_path: Path, locator: dict, message: str) -> None:
    (tmp_path / "root").mkdir()
    with pytest.raises(ConfigError, match=message) as info:
        extract(tmp_path / "root", tmp_path / "out", **locator)
    assert info.value.dataset_id == "jeu-test"


def test_locator_delimiter_aliases() -> None:
    assert SpreadsheetLocator(path="f.tsv", delimiter="tab").delimiter == "\t"
    assert SpreadsheetLocator.model_json_schema()["additionalProperties"] is False


# --- reference files -------------------------------------------------------------------------------------

@pytest.fixture
def messy() -> SpreadsheetSource:
    return source_on(MESSY)


def read_reference(source: SpreadsheetSource, path: str, out: Path, **locator: object) -> tuple[Extract, list]:
    result = source.extract(DatasetDescriptor(id="ref", locator={"path": path, **locator}), out)
    return result, pq.read_table(result.path).to_pylist()


@needs_reference
def test_reference_discover(messy: SpreadsheetSource) -> None:
    found = {d.locator["path"]: d.id for d in messy.discover()}
    assert found == {"a_test_file.csv": "a-test-file", "b_test_file.csv": "b-test-file",
                     "c_test_file.csv": "c-test-file", "csv_file": "csv-file", "file.csv.gz": "file",
                     "file.ods": "file-2", "file.xls": "file-3", "file.xlsx": "file-4", "xlsx_file": "xlsx-file"}


@needs_reference
def test_reference_a_test_file(messy: SpreadsheetSource, tmp_path: Path) -> None:
    result, rows = read_reference(messy, "a_test_file.csv", tmp_path)
    expected = json.loads((MESSY / "a_test_file.json").read_text(encoding="utf-8"))
    assert result.rows == 404 and result.first_row == 4
    assert list(rows[0]) == expected["header"]
    assert rows[0]["NUMCOM"] == "01001" and rows[0]["NOMCOM"] == "L'ABERGEMENT-CLEMENCIAT"
    assert json.loads(rows[0]["GEO_INFO"]) == {"type": "Point", "coordinates": [12.5, 2.8]}
    assert rows[-1]["NUMCOM"] == "01170"
    assert {"encodage utf-8 (détecté)", "séparateur ';' (détecté)", "en-tête trouvé ligne 1",
            "en-tête répété ligne(s) 2, 3 : 2 ligne(s) retirée(s)"} <= set(result.notes)
    assert result.findings == (RowFinding("repeated-header", (2, 3), 2),) and result.row_gaps == ()


@needs_reference
def test_reference_b_and_csv_file(messy: SpreadsheetSource, tmp_path: Path) -> None:
    result, rows = read_reference(messy, "b_test_file.csv", tmp_path)
    assert result.rows == 6
    assert rows[0] == {"code_departement": "01", "code_region": "01", "partly_empty": "10"}
    assert rows[3]["partly_empty"] is None
    result, rows = read_reference(messy, "csv_file", tmp_path)
    assert result.rows == 6 and rows[-1] == {"code_departement": "59", "code_region": "24"}
    assert "séparateur ',' (détecté)" in result.notes


@needs_reference
def test_reference_ragged(messy: SpreadsheetSource, tmp_path: Path) -> None:
    result, rows = read_reference(messy, "c_test_file.csv", tmp_path)
    assert rows == [{"colmmun A": "row A", "columnB": "row B", "column_3": "row C"}]
    assert any("valeurs en trop sont gardées dans column_3" in n for n in result.notes)
    assert result.findings == (RowFinding("extra-cell", (2,), 1, ("column_3",)),)


@needs_reference
def test_reference_gzip(messy: SpreadsheetSource, tmp_path: Path) -> None:
    result, rows = read_reference(messy, "file.csv.gz", tmp_path)
    assert result.notes[0] == "lu comme CSV compressé (gzip)"
    assert result.rows == 6 and rows[1] == {"code_departement": "23", "code_region": "84", "partly_empty": "100"}


@needs_reference
def test_reference_ods(messy: SpreadsheetSource, tmp_path: Path) -> None:
    result, rows = read_reference(messy, "file.ods", tmp_path)
    assert result.rows == 3
    assert rows[0] == {"Année": "2012", "Edition": "DC1", "Date de la cérémonie": "29/05/2012",
                       "Projet": "Citizens Up", "Résultat": "Lauréat"}


@needs_reference
def test_reference_ods_disguised_as_xls(messy: SpreadsheetSource, tmp_path: Path) -> None:
    result, rows = read_reference(messy, "file.xls", tmp_path)
    assert result.notes[0] == "lu comme tableur OpenDocument (ods)"
    assert result.rows == 5
    first = rows[0]
    assert first["CP"] == "75005" and first["VILLE"] == "PARIS" and first["CEDEX"] is None
    assert first["DATE DE RECONNAISSANCE D'UTILITE PUBLIQUE"] == "1906-05-16"
    assert first["NOM\n(FONDATION)"] == " ALBERT 1ER, PRINCE DE MONACO INSTITUT OCEANOGRAPHIQUE"


@needs_reference
def test_reference_xlsx_data_on_second_sheet(messy: SpreadsheetSource, tmp_path: Path) -> None:
    result, rows = read_reference(messy, "file.xlsx", tmp_path)
    assert ("feuille 'REI_1987' utilisée (première feuille avec des données) ; autres feuilles : 'Notice'"
            in result.notes)
    assert any(n.startswith("en-tête trouvé ligne 2 ; ligne 1 au-dessus ignorée") for n in result.notes)
    assert result.rows == 5 and result.first_row == 3
    assert "title" not in result.metadata  # dc:title is empty in this file
    first = rows[0]
    assert (first["dep"], first["DDC"], first["DEPCOM"], first["COM"]) == ("01", "010001", "01001", "001")
    assert first["LIBCOM"] == "ABERGEMENT-CLEMENCIA (L )" and first["B11"] == "380360" and first["IDOFP"] is None
    # The same table without the empty first row, in a file with no extension.
    result, same = read_reference(messy, "xlsx_file", tmp_path)
    assert result.first_row == 2 and same == rows
    _, notice = read_reference(messy, "file.xlsx", tmp_path, sheet="Notice")
    assert notice[0] == {"NOM": "B00", "LABEL": "FNB-FRAIS D'ASSIETTE,DEGREV,NON VALEURS"}


@needs_reference
def test_reference_scdl_duplicate_column_cp1252(tmp_path: Path) -> None:
    source = source_on(REFERENCE / "scdl" / "subventions")
    result, rows = read_reference(source, "exemple-duplicate-column.csv", tmp_path)
    assert result.rows == 29
    assert list(rows[0])[12:14] == ["notificationUE", "notificationUE.2"]
    assert rows[0]["referenceDecision"] == "CONV N° 2074-15 2015-06-19"
    assert rows[0]["nature"] == "aide en numéraire" and rows[0]["idRAE"] is None
    assert rows[0]["idAttribuant"] == "21060004500392"
    assert "encodage cp1252 (détecté)" in result.notes
    assert any("libellé de colonne 'notificationUE' en double" in n for n in result.notes)


@needs_reference
def test_reference_scdl_newline_in_quoted_cell(tmp_path: Path) -> None:
    source = source_on(REFERENCE / "scdl" / "stationnement-cyclable")
    result, rows = read_reference(source, "exemple-valide.csv", tmp_path)
    assert result.rows == 1 and result.first_row == 2
    assert rows[0]["coordonneesxy"] == "[5.7145295,45.191463]\n"
    assert rows[0]["capacite"] == "8"
    assert rows[0]["commentaires"] == "L’accès au parking vélo est au sous-sol de la gare"
