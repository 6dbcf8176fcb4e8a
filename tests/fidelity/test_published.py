"""What moisson publishes is what the source says and what the schema describes, on real files nobody here wrote.

One catalog, one harvest of every case (the real flows under a real Prefect server) to a local portal, the fake
data.gouv.fr and the fake Opendatasoft; then the real Validata judges the published CSVs and the cells are compared
with the source file read independently (csv module, python-calamine). A messy file whose structure moisson cannot
read right must be refused with a message, never published as something else.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import hashlib
import io
import json
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import python_calamine

from moisson.flows.harvest import run_datasets
from tests.data import REFERENCE, SCDL
from tests.fakes.datagouv import FakeDataGouv
from tests.fakes.opendatasoft import FakeOds
from tests.peers import validata_peer

pytestmark = pytest.mark.usefixtures("prefect_server")

MESSY = REFERENCE / "messy" / "csv-detective"
ODS_KEY = "ods-fidelity-key"
FRENCH_DATE = re.compile(r"^([0-9]{2})/([0-9]{2})/([0-9]{4})$")
EXTRA = "remarque_interne"
#: The defibrillators example names its public contact person: the personal-data gate blocks it until the catalog
#: says the column may be published, as its producer would.
KEPT = {"futurocite-wallonie-defibrillateurs": {"personal_data": {"contact_name": "keep"}}}


@dataclass(frozen=True)
class Case:
    """One dataset of the catalog, and how to read its source without moisson."""

    id: str
    path: Path
    schema: str | None = None
    #: The schema Validata judges with (a copy when Validata cannot read the published one as is).
    validata_schema: Path | None = None
    delimiter: str = ","
    encoding: str = "utf-8-sig"
    locator: dict[str, Any] = field(default_factory=dict)
    quality: dict[str, Any] = field(default_factory=dict)
    #: The file's structure is messy (repeated header, ragged rows, duplicate columns): refusing it is right too.
    #: Such a file goes to the local portal only (the reader is what it tests, and every portal costs time).
    structure: bool = False
    #: Schema fields the source lacks, which a national schema's layout adds empty.
    added: tuple[str, ...] = ()


def valid_examples() -> list[Path]:
    """Every valid SCDL reference example (its name says so and not `invalide`)."""
    return sorted(p for p in SCDL.rglob("exemple*valide*.csv") if "invalide" not in p.name)


def schema_beside(example: Path) -> Path:
    return next(folder / "schema.json" for folder in (example.parent, example.parent.parent)
                if (folder / "schema.json").is_file())


def validata_copy(schema: Path, folder: Path) -> Path:
    """The schema, with `french_gps_coordinates` spelt as Validata knows it.

    stationnement-cyclable 1.1.2 names its check with underscores; Validata answers a schema-level `check-error`
    for it whatever the file holds (tests/peers/validata_peer.py), so the file is judged with the hyphen.
    """
    descriptor = json.loads(schema.read_text(encoding="utf-8"))
    for check in descriptor.get("custom_checks", []):
        check["name"] = check["name"].replace("_", "-")
    copy = folder / f"validata-{schema.parent.name}.json"
    copy.write_text(json.dumps(descriptor, ensure_ascii=False), encoding="utf-8")
    return copy


def derived_layout(folder: Path) -> Path:
    """stationnement-cyclable's real example with its columns reversed, two optional ones gone, one unknown added."""
    rows = read_csv_rows(SCDL / "stationnement-cyclable" / "exemple-valide.csv", ",", "utf-8-sig")
    keep = [i for i, name in enumerate(rows[0]) if name not in ("id_osm", "mobilier")][::-1]
    path = folder / "stationnement-desordre.csv"
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow([EXTRA] + [rows[0][i] for i in keep])
        for n, row in enumerate(rows[1:]):
            writer.writerow([f"note {n}"] + [row[i] for i in keep])
    return path


def ods_schema(folder: Path) -> Path:
    """A schema for the Dataconnexions ODS (French dates as text), written as its producer would."""
    fields = [{"name": "Année", "type": "integer"}, {"name": "Edition", "type": "string"},
              {"name": "Date de la cérémonie", "type": "date"}, {"name": "Projet", "type": "string"},
              {"name": "Résultat", "type": "string"}]
    path = folder / "dataconnexions.json"
    path.write_text(json.dumps({"fields": fields}, ensure_ascii=False), encoding="utf-8")
    return path


def cases(folder: Path) -> list[Case]:
    found = []
    for example in valid_examples():
        schema = schema_beside(example)
        name = schema.parent.name
        checks = json.loads(schema.read_text(encoding="utf-8")).get("custom_checks", [])
        judge = validata_copy(schema, folder) if any("_" in c["name"] for c in checks) else schema
        found.append(Case(f"scdl-{name}", example, str(schema), judge, quality=KEPT.get(name, {})))
    cycling = SCDL / "stationnement-cyclable"
    found += [
        Case("layout-national", derived_layout(folder), "etalab/schema-stationnement-cyclable@1.1.2",
             validata_copy(cycling / "schema.json", folder), added=("id_osm", "mobilier")),
        Case("layout-extras-dropped", folder / "stationnement-desordre.csv",
             "etalab/schema-stationnement-cyclable@1.1.2", validata_copy(cycling / "schema.json", folder),
             quality={"extra_columns": "drop"}, added=("id_osm", "mobilier")),
        Case("ods-dates-fr", MESSY / "file.ods", str(ods_schema(folder)), folder / "dataconnexions.json"),
        Case("duplicate-column", SCDL / "subventions" / "exemple-duplicate-column.csv",
             str(SCDL / "subventions" / "schema.json"), SCDL / "subventions" / "schema.json",
             encoding="latin-1", structure=True),
        # Without a schema: columns in the source's order, cells as they are.
        Case("plain-subventions", SCDL / "subventions" / "exemples" / "exemple_valide.csv"),
        Case("plain-types-xlsx", SCDL / "futurocite-wallonie-patrimoine-naturel-ou-materiel" / "Types-Categories.xlsx"),
        Case("messy-repeated-header", MESSY / "a_test_file.csv", delimiter=";", structure=True),
        Case("messy-codes", MESSY / "b_test_file.csv"),
        Case("messy-ragged", MESSY / "c_test_file.csv", delimiter=";", structure=True),
        Case("messy-gzip", MESSY / "file.csv.gz"),
        Case("messy-second-sheet", MESSY / "file.xlsx", structure=True),
        Case("messy-ods-as-xls", MESSY / "file.xls", structure=True),
    ]
    return found


# -- reading the sources without moisson ---------------------------------------------------------------------

def read_csv_rows(path: Path, delimiter: str, encoding: str) -> list[list[str]]:
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return list(csv.reader(io.StringIO(data.decode(encoding), newline=""), delimiter=delimiter))


def workbook_text(value: Any) -> str:
    """A workbook cell as the officer sees it: `2012` for 2012.0, ISO dates."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def read_workbook_rows(path: Path) -> list[list[str]]:
    """The first sheet with data after any notice sheet, its leading blank rows left out."""
    with path.open("rb") as handle:
        book = python_calamine.CalamineWorkbook.from_filelike(handle)
        sheets = [n for n in book.sheet_names if n.lower() != "notice"]
        rows = book.get_sheet_by_name(sheets[0]).to_python()
    texts = [[workbook_text(v) for v in row] for row in rows]
    while texts and not any(texts[0]):
        texts.pop(0)
    return texts


def source_rows(case: Case) -> list[list[str]]:
    """Header then data rows of the source; blank rows and repeats of the header are not data."""
    with case.path.open("rb") as handle:
        magic = handle.read(4)
    rows = read_workbook_rows(case.path) if magic == b"PK\x03\x04" else read_csv_rows(
        case.path, case.delimiter, case.encoding)
    header, data = rows[0], rows[1:]
    return [header] + [r for r in data if any(c.strip() for c in r) and r != header]


def expected_rows(case: Case, schema: dict[str, Any] | None) -> list[list[str]]:
    """What the published CSV must hold: the source's cells, in the schema's layout and representation."""
    rows = source_rows(case)
    if schema is None:
        return rows
    header, data = rows[0], rows[1:]
    fields = {f["name"]: f for f in schema["fields"]}
    missing = schema.get("missingValues", [""])
    layout = [n for n in fields if n in header or n in case.added]
    if case.quality.get("extra_columns") != "drop":
        layout += [h for h in header if h not in fields]
    published = []
    for row in data:
        cells = dict(zip(header, row, strict=True))
        published.append([published_cell(cells.get(n, missing[0]), fields.get(n), missing) for n in layout])
    return [layout, *published]


def published_cell(text: str, spec: dict[str, Any] | None, missing: list[str]) -> str:
    """The documented rewriting: missing values as the schema's first one, French dates in ISO."""
    if spec is None:
        return text
    if text in missing:
        return missing[0]
    if spec.get("type") == "date" and spec.get("format", "default") == "default" and FRENCH_DATE.match(text):
        return FRENCH_DATE.sub(r"\3-\2-\1", text)
    return text


# -- the harvest ---------------------------------------------------------------------------------------------

@dataclass
class Harvest:
    cases: dict[str, Case]
    outcomes: dict[str, Any]
    portal: Path
    datagouv: dict[str, bytes]
    ods: dict[str, bytes]

    def published(self, case: Case) -> Path:
        return self.portal / case.id / f"{case.id}.csv"

    def schema(self, case: Case) -> dict[str, Any] | None:
        package = json.loads((self.portal / case.id / "datapackage.json").read_text(encoding="utf-8"))
        return package["resources"][0].get("schema")


def catalog_text(found: list[Case], portal: Path, datagouv: FakeDataGouv, ods: FakeOds) -> str:
    datasets = []
    for case in found:
        root = "reference" if case.path.is_relative_to(REFERENCE) else "derived"
        relative = case.path.relative_to(REFERENCE if root == "reference" else case.path.parent)
        entry: dict[str, Any] = {"id": case.id, "source": root, "locator": {"path": str(relative), **case.locator},
                                 "metadata": {"title": f"Fidélité {case.id}"}}
        if case.schema:
            entry["schema"] = case.schema
        if case.quality:
            entry["quality"] = case.quality
        if case.structure:
            entry["targets"] = ["portail"]
        datasets.append(entry)
    catalog = {
        "version": 1,
        "defaults": {"targets": ["portail", "datagouv", "ods"],
                     "metadata": {"license": "lov2", "description": "Jeu de test de fidélité.",
                                  "producer": "Commune de test"}},
        "sources": {"reference": {"connector": "spreadsheet", "config": {"root": str(REFERENCE)}},
                    "derived": {"connector": "spreadsheet", "config": {"root": str(portal.parent / "derived")}}},
        "targets": {
            "portail": {"connector": "local", "config": {"path": str(portal),
                                                       "base_url": "https://donnees.commune-test.fr/"}},
            "datagouv": {"connector": "datagouv", "config": {"api": f"{datagouv.url}/api/1",
                                                             "organization": datagouv.org["id"],
                                                             "api_key": {"env": "FIDELITY_DATAGOUV_KEY"}}},
            "ods": {"connector": "opendatasoft", "config": {"domain": ods.url, "api_key": {"env": "FIDELITY_ODS_KEY"},
                                                            "poll_interval": 0.01, "max_poll_interval": 0.05}},
        },
        "datasets": datasets,
    }
    return json.dumps(catalog, ensure_ascii=False, indent=1)


@pytest.fixture(scope="module")
def harvest(tmp_path_factory, prefect_server) -> Iterator[Harvest]:
    top = tmp_path_factory.mktemp("fidelity")
    derived = top / "derived"
    derived.mkdir()
    found = cases(derived)
    portal = top / "portal"
    with contextlib.ExitStack() as stack, pytest.MonkeyPatch.context() as env:
        datagouv = stack.enter_context(FakeDataGouv())
        ods = stack.enter_context(FakeOds(REFERENCE, api_key=ODS_KEY))
        env.setenv("MOISSON_HOME", str(top / "var"))
        env.delenv("MOISSON_STATE_URL", raising=False)
        env.setenv("FIDELITY_DATAGOUV_KEY", datagouv.api_key)
        env.setenv("FIDELITY_ODS_KEY", ODS_KEY)
        catalog = top / "catalog.yaml"  # JSON is YAML
        catalog.write_text(catalog_text(found, portal, datagouv, ods), encoding="utf-8")
        outcomes = {o.id: o for o in run_datasets([c.id for c in found], catalog=str(catalog))}
        yield Harvest({c.id: c for c in found}, outcomes, portal, dict(datagouv.files), dict(ods.files))
        assert not ods.violations, "\n".join(ods.violations)


def read_published(path: Path) -> list[list[str]]:
    raw = path.read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf"), f"{path.name}: a published CSV is UTF-8 without BOM"
    return list(csv.reader(io.StringIO(raw.decode("utf-8"), newline="")))


def published_cases(harvest: Harvest, *, schema: bool | None = None) -> list[Case]:
    return [c for c in harvest.cases.values() if (schema is None or bool(c.schema) == schema)
            and harvest.outcomes[c.id].status == "published"]


def first_difference(got: list[list[str]], want: list[list[str]]) -> str:
    if got[:1] != want[:1]:
        return f"header {got[:1]} != {want[:1]}"
    if len(got) != len(want):
        return f"{len(got) - 1} rows published, {len(want) - 1} in the source"
    for number, (row, expected) in enumerate(zip(got, want, strict=True), start=1):
        if row != expected:
            cells = [(name, a, b) for name, a, b in zip(got[0], row, expected, strict=False) if a != b]
            return f"line {number}: {cells[:3] or (row, expected)}"
    return ""


# -- the tests -----------------------------------------------------------------------------------------------

def test_every_plain_case_is_published_and_every_messy_one_published_or_refused_with_a_message(harvest):
    wrong = []
    for case in harvest.cases.values():
        outcome = harvest.outcomes[case.id]
        if outcome.status == "published":
            if any(t.status not in ("created", "updated") for t in outcome.targets.values()):
                wrong.append(f"{case.id}: {outcome.targets}")
            continue
        if not case.structure:
            wrong.append(f"{case.id}: {outcome.status} ({outcome.error or outcome.quality})")
            continue
        message = outcome.error or " ".join(e["message"] for e in (outcome.quality.first_errors if outcome.quality
                                                                    else []))
        if outcome.status not in ("blocked", "failed") or not message.strip():
            wrong.append(f"{case.id}: refused without a message ({outcome.status})")
        if (harvest.portal / case.id).exists():
            wrong.append(f"{case.id}: refused, yet a folder is in the portal")
    assert not wrong, "\n".join(wrong)


def test_validata_accepts_every_published_file_with_a_schema(harvest):
    by_schema: dict[Path, list[Case]] = {}
    for case in published_cases(harvest, schema=True):
        by_schema.setdefault(case.validata_schema, []).append(case)
    examples = {f"scdl-{schema_beside(e).parent.name}" for e in valid_examples()}
    assert examples <= {c.id for c in published_cases(harvest, schema=True)}, "every valid SCDL example publishes"
    refused = []
    with ThreadPoolExecutor(4) as pool:  # one Validata process per schema, a few at a time
        verdicts = pool.map(lambda item: list(zip(item[1], validata_peer.validate(
            item[0], [harvest.published(c) for c in item[1]]), strict=True)), by_schema.items())
    for case, result in (pair for pairs in verdicts for pair in pairs):
        if not result["valid"]:
            refused.append(f"{case.id}: {result['error_count']} errors, e.g. "
                           f"{[(e['row'], e['field'], e['message'][:60]) for e in result['errors'][:3]]}")
    assert not refused, f"Validata refuses {len(refused)} published file(s):\n" + "\n".join(refused)


def test_published_cells_are_the_source_cells_in_the_schema_layout(harvest):
    wrong = []
    for case in published_cases(harvest):
        schema = None
        if case.schema:
            schema = json.loads(Path(case.validata_schema).read_text(encoding="utf-8"))
        got, want = read_published(harvest.published(case)), expected_rows(case, schema)
        if case.structure and not schema and got and got[0][:len(want[0])] == want[0]:
            # A ragged file may come out with a column the reader made (and named in its notes) for the values
            # beyond the header: every cell must still be there, at its place.
            want = [want[0] + got[0][len(want[0]):]] + [row + [""] * (len(got[0]) - len(row)) for row in want[1:]]
        difference = first_difference(got, want)
        if difference:
            wrong.append(f"{case.id}: {difference}")
    assert not wrong, "\n".join(wrong)


def test_optional_columns_a_national_layout_adds_are_said_in_the_report(harvest):
    for name in ("layout-national", "layout-extras-dropped"):
        report = Path(harvest.outcomes[name].quality.report).with_name("quality.json")
        notes = " ".join(json.loads(report.read_text(encoding="utf-8"))["notes"])
        assert "id_osm" in notes and "mobilier" in notes, notes


def test_every_target_receives_the_bytes_of_the_local_csv_its_datapackage_declares(harvest):
    wrong = []
    for case in published_cases(harvest):
        if case.structure:
            continue
        local = hashlib.sha256(harvest.published(case).read_bytes()).hexdigest()
        name = f"{case.id}.csv"
        datagouv = [hashlib.sha256(b).hexdigest() for p, b in harvest.datagouv.items() if p.endswith(f"/{name}")]
        ods = [hashlib.sha256(b).hexdigest() for uid, b in harvest.ods.items()
               if uid == name or re.fullmatch(rf"{re.escape(case.id)}_[0-9]+\.csv", uid)]
        package = json.loads((harvest.portal / case.id / "datapackage.json").read_text(encoding="utf-8"))
        declared = package["resources"][0]["hash"]
        if datagouv != [local] or ods != [local] or declared != f"sha256:{local}":
            wrong.append(f"{case.id}: local {local[:12]}, declared {declared[7:19]}, data.gouv.fr "
                         f"{[d[:12] for d in datagouv]}, Opendatasoft {[d[:12] for d in ods]}")
    assert not wrong, "\n".join(wrong)
