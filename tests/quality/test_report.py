"""The HTML quality report a data officer reads, from the demo's real blocked spreadsheet export.

`salles-a-louer.csv` (cp1252, `;`, French decimals, a SIRET Excel turned into `2,15999996E+13`, an identifier
that breaks the schema's pattern) is read by the spreadsheet source and checked by the gate, as a run does.
"""

from __future__ import annotations

import dataclasses
import html
import json
import re
from pathlib import Path

import pytest
from lxml import html as lxml_html

from moisson.connectors.base import DatasetDescriptor
from moisson.connectors.sources.spreadsheet import SpreadsheetSource
from moisson.core.metadata import DatasetMetadata
from moisson.core.notes import Note
from moisson.quality.gate import check_table
from moisson.quality.geography import GEOGRAPHY
from moisson.quality.policy import QualityPolicy
from moisson.quality.report import QualityIssue, QualityResult
from moisson.quality.schema import load_schema
from tests.data import REFERENCE, REPO, reference

DEMO = REPO / "deployments" / "demo" / "salles-a-louer.csv"
TITLE = "Salles municipales à louer"
SCHEMA = "scdl/equipements@0.1.5"
# The médiathèque (row 5) in Lambert-93, the stadium's row 3 with latitude and longitude swapped.
MEDIATHEQUE = (2.9866, 50.6917)
GEO_EDITS = {"50,6934;2,9911": "2,9911;50,6934", "50,6917;2,9866": "7066099,8;699051,5"}


def check_file(path: Path, out: Path, **policy: object) -> QualityResult:
    """Read `path` with the spreadsheet source and check it against the SCDL equipment schema."""
    source = SpreadsheetSource(SpreadsheetSource.Config(root=path.parent))
    extract = source.extract(DatasetDescriptor(id="salles-a-louer", locator={"path": path.name}), out)
    schema = load_schema(SCHEMA, schemas_dir=out, cache_dir=out / "cache")
    return check_table(extract.path, dataset_id="salles-a-louer", schema=schema,
                       policy=QualityPolicy.model_validate(policy), out_dir=out / "rapport",
                       first_row=extract.first_row, row_gaps=extract.row_gaps, findings=extract.findings,
                       metadata=DatasetMetadata(title=TITLE, license="lov2"), reading=extract.notes)


def blocked_report(folder: Path, **policy: object) -> QualityResult:
    """The demo's blocked file, as it is."""
    folder.mkdir(parents=True, exist_ok=True)
    return check_file(DEMO, folder, **policy)


def geographic_report(folder: Path) -> QualityResult:
    """The demo's file with a swapped point and a Lambert-93 point (same encoding and layout)."""
    folder.mkdir(parents=True, exist_ok=True)
    text = DEMO.read_bytes().decode("cp1252")
    for before, after in GEO_EDITS.items():
        assert before in text
        text = text.replace(before, after)
    copy = folder / DEMO.name
    copy.write_bytes(text.encode("cp1252"))
    return check_file(copy, folder)


def page_of(result: QualityResult):
    return lxml_html.fromstring(result.report_html.read_text(encoding="utf-8"))


def test_blocked_report_names_the_dataset_and_its_schema_never_a_path(tmp_path: Path) -> None:
    result = blocked_report(tmp_path)
    assert result.blocked and result.error_count == 6
    text = result.report_html.read_text(encoding="utf-8")
    page = lxml_html.fromstring(text)
    assert page.get("lang") == "fr"
    assert page.xpath("string(//h1)") == TITLE
    headings = [h.tag for h in page.xpath("//h1|//h2|//h3|//h4|//h5|//h6")]
    assert headings[0] == "h1" and set(headings[1:]) == {"h2"}, "one h1, then h2s: headings in order"
    assert "bloqué" in page.xpath("string(//div[contains(@class, 'etat')])")
    # The schema by name and version, linked to its schema.data.gouv.fr page; its file appears nowhere.
    schema = page.xpath("//dl[@class='fiche']//a")[0]
    assert schema.get("href") == "https://schema.data.gouv.fr/scdl/equipements/0.1.5/"
    assert schema.text_content() == "Équipements (scdl/equipements, version 0.1.5)"
    source = result.schema["source"]
    assert source.startswith("/") and source not in text
    for path in (str(REPO), str(tmp_path), "site-packages", "/schemas/"):
        assert path not in text
    # quality.json names the schema as the catalog does, not by the file shipped with moisson.
    saved = result.report_json.read_text(encoding="utf-8")
    assert json.loads(saved)["schema"]["source"] == SCHEMA
    assert source not in saved and "site-packages" not in saved and str(REPO) not in saved
    # Great Expectations folded, with French headings.
    summary = page.xpath("//details[@class='technique']/summary")[0]
    assert summary.text_content() == "Détails techniques (Great Expectations)"
    headers = page.xpath("//details[@class='technique']//table[caption='Résultats Great Expectations']//th/text()")
    assert headers == ["attente", "colonne", "origine", "résultat", "non conformes", "exemples"]
    assert all(th.get("scope") == "col" for th in page.xpath("//th"))


def test_pattern_errors_are_told_by_the_field_description_and_example(tmp_path: Path) -> None:
    result = blocked_report(tmp_path)
    text = result.report_html.read_text(encoding="utf-8")
    page = lxml_html.fromstring(text)
    fields = {f["name"]: f for f in result.table_schema["fields"]}
    patterns = {name: f["constraints"]["pattern"] for name, f in fields.items()
                if "pattern" in f.get("constraints", {})}
    assert {i.field for i in result.errors if i.rule == "pattern"} == {"COLL_SIRET", "EQUIP_UID"}
    # The JSON keeps the message the checks wrote (with the regex); the page never shows a regex.
    assert any(patterns["EQUIP_UID"] in i.message for i in result.errors)
    markdown = result.to_markdown()
    for pattern in patterns.values():
        assert pattern not in text and html.escape(pattern) not in text and pattern not in markdown
    assert "'MSL-salle-4' n'a pas la forme attendue. Cet identifiant unique est constitué du [code INSEE" in markdown
    listed = page.xpath("//section[h2[starts-with(., 'Les ')]]//tbody/tr")
    rows = {(r.xpath("string(td[1])"), r.xpath("string(td[2]/code)")): r for r in listed
            if "forme attendue" in r.xpath("string(td[4])")}
    assert sorted(rows) == [("2", "COLL_SIRET"), ("5", "EQUIP_UID")]
    uid = rows[("5", "EQUIP_UID")]
    assert uid.xpath("string(td[3])") == "MSL-salle-4"
    message = uid.xpath("string(td[4])")
    assert message.startswith("'MSL-salle-4' n'a pas la forme attendue. Cet identifiant unique est constitué du code "
                              "INSEE de la commune")
    assert message.endswith("Exemple : 94059-01010401-001")
    # The description's Markdown link is a link; the hint about Excel survives the rewording.
    assert uid.xpath("td[4]/a/@href") == ["https://fr.wikipedia.org/wiki/Code_Insee"]
    siret = rows[("2", "COLL_SIRET")].xpath("string(td[4])")
    assert "Excel semble avoir transformé ce SIRET en nombre (sans doute 21599999600000)" in siret
    assert "Exemple : 22940028800010" in siret
    # Every message drops the "ligne N, champ X:" the row and field columns already say.
    assert len(listed) == 6 and not any(r.xpath("string(td[4])").startswith("ligne ") for r in listed)


def test_normalisations_and_structure_notes_are_listed_once(tmp_path: Path) -> None:
    result = blocked_report(tmp_path)
    page = page_of(result)
    normalised = page.xpath("//section[h2='Cellules normalisées']//tbody/tr")
    assert [[c.text_content() for c in r.xpath("td")] for r in normalised] == [
        ["EQUIP_LATLatitude", "3", "nombres à la française : espaces retirés, virgule décimale", "50,6921", "50.6921"],
        ["EQUIP_LONGLongitude", "4", "nombres à la française : espaces retirés, virgule décimale", "2,9874", "2.9874"]]
    # How the source read the file: the connector's own notes, in the page's language.
    reading = page.xpath("//section[h2='Lecture du fichier source']/ul")[0]
    assert reading.xpath("li/text()") == ["lu comme CSV", "encodage cp1252 (détecté)", "séparateur ';' (détecté)",
                                          "en-tête trouvé ligne 1"]
    assert not page.xpath("//*[@lang][not(self::html)]"), "everything on the page is in French"
    notes = page.xpath("//section[h2='Remarques']//li/text()")
    assert notes == ["complétude des métadonnées : 20 % (2/10 champs)"], "normalisation sentences are in their table"
    facts = dict(zip(page.xpath("//dl[@class='fiche']/dt/text()"),
                     [d.text_content() for d in page.xpath("//dl[@class='fiche']/dd")], strict=True))
    assert facts["Lignes vérifiées"] == "4" and facts["Erreurs"] == "6" and facts["Cellules normalisées"] == "7"
    problems = {r.xpath("string(td[1]/code)") + " " + r.xpath("string(td[2])")
                for r in page.xpath("//section[h2='Erreurs par champ']//tbody/tr")}
    assert "EQUIP_THEME valeur hors de la liste autorisée" in problems
    assert "COLL_SIRET contrôle Validata (french-siret-value)" in problems


def test_map_draws_one_circle_per_flagged_point(tmp_path: Path) -> None:
    result = geographic_report(tmp_path)
    flagged = [i for i in [*result.errors, *result.warnings] if i.type == GEOGRAPHY]
    assert sorted((i.row, i.rule) for i in flagged) == [(3, "swapped"), (5, "lambert93")]
    page = page_of(result)
    figure = page.xpath("//section[h2='Carte des points signalés']/figure")[0]
    svg = figure.xpath(".//svg")[0]
    assert svg.get("role") == "img" and svg.get("aria-labelledby") == figure.xpath("figcaption/@id")[0]
    circles = svg.xpath(".//circle")
    assert len(circles) == len(flagged) == len(result.points.flagged)
    assert sorted(c.xpath("string(title)")[:7] for c in circles) == ["ligne 3", "ligne 5"]
    # The row that passed is a grey dot; the Lambert-93 point is drawn where it truly is, beside it.
    assert len(svg.xpath(".//path[@class='autres']")) == 1 and len(result.points.others) == 1
    lambert = next(p for p in result.points.flagged if p.rule == "lambert93")
    assert lambert.lon == pytest.approx(MEDIATHEQUE[0], abs=1e-5) and lambert.lat == pytest.approx(MEDIATHEQUE[1],
                                                                                                  abs=1e-5)
    caption = figure.xpath("string(figcaption)")
    assert "2 en erreur" in caption and "parmi les 3 points" in caption and "Lambert-93" in caption
    # The same points as a table, for who cannot see the drawing.
    table = page.xpath("//section[h2='Carte des points signalés']/details//table")[0]
    assert [r.xpath("string(td[1])") for r in table.xpath("tbody/tr")] == ["3", "5"]
    assert table.xpath("tbody/tr[1]/td[3]/text()") == ["50,6934"], "longitude as the file has it (swapped)"


def test_no_map_without_flagged_points(tmp_path: Path) -> None:
    result = blocked_report(tmp_path)
    assert result.points is None and "<svg" not in result.report_html.read_text(encoding="utf-8")


def test_english_report(tmp_path: Path) -> None:
    result = blocked_report(tmp_path, lang="en")
    page = page_of(result)
    assert page.get("lang") == "en"
    assert page.xpath("string(//details[@class='technique']/summary)") == "Technical details (Great Expectations)"
    assert page.xpath("string(//div[contains(@class, 'etat')])").startswith("Quality check: blocked.")
    message = next(r.xpath("string(td[4])") for r in page.xpath("//tbody/tr") if r.xpath("string(td[3])")
                   == "MSL-salle-4")
    assert message.startswith("'MSL-salle-4' does not have the expected form. Cet identifiant"), \
        "the schema's description is quoted as the schema writes it"
    reading = page.xpath("//section[h2='How the source file was read']/ul")[0]
    assert reading.xpath("li/text()") == ["read as CSV", "encoding cp1252 (detected)", "delimiter ';' (detected)",
                                          "header found on row 1"]
    assert not reading.xpath(".//@lang")


def test_english_report_marks_the_sentences_only_written_in_french(tmp_path: Path) -> None:
    from tests.data import write_extract

    data = write_extract(tmp_path / "extract.parquet", {"code": ["59350"]})
    recipe = "géocodage : 1 coordonnées gardées"  # a recipe's sentence, as tasks/prepare.py adds them
    result = check_table(data, dataset_id="codes", schema=None, policy=QualityPolicy(lang="en"),
                         out_dir=tmp_path / "out", reading=[Note("read.as", format=Note("format.csv")), recipe])
    items = page_of(result).xpath("//section[h2='How the source file was read']/ul/li")
    assert [(li.text, li.get("lang")) for li in items] == [("read as CSV", None), (recipe, "fr")]


def test_local_schema_is_named_not_located_and_a_bare_pattern_stays(tmp_path: Path) -> None:
    from tests.data import make_schema, write_extract

    schema = make_schema([{"name": "code", "type": "string", "constraints": {"pattern": "^[0-9]{5}$"}}],
                         title="Codes de la commune")
    schema = type(schema)(descriptor=schema.descriptor, name="codes", version=None, source=str(tmp_path / "s.json"))
    data = write_extract(tmp_path / "extract.parquet", {"code": ["59350", "5935"]})
    result = check_table(data, dataset_id="codes", schema=schema, policy=QualityPolicy(), out_dir=tmp_path / "out")
    text = result.report_html.read_text(encoding="utf-8")
    page = lxml_html.fromstring(text)
    assert page.xpath("string(//h1)") == "codes", "no title in the metadata: the id"
    assert str(tmp_path) not in text and not page.xpath("//dl[@class='fiche']//a")
    assert json.loads(result.report_json.read_text(encoding="utf-8"))["schema"]["source"] == "s.json"
    assert "Codes de la commune (codes)" in page.xpath("string(//dl[@class='fiche'])")
    # Without a description or an example, the regex is all the schema says: it stays.
    assert re.search(r"n'a pas la forme attendue \^\[0-9\]\{5\}\$", html.unescape(text))


def test_flagged_geometries_are_drawn_at_their_centre_and_unreadable_ones_listed(tmp_path: Path) -> None:
    from tests.data import write_extract

    bowtie = '{"type":"Polygon","coordinates":[[[3,50],[3.1,50.1],[3.1,50],[3,50.1],[3,50]]]}'
    data = write_extract(tmp_path / "extract.parquet", {
        "nom": ["a", "b", "c", "d", "e"],
        "geometry": ['{"type":"Point","coordinates":[3.06,50.63]}', bowtie, "not json",
                     '{"type":"Point","coordinates":[50.63,3.06]}', None]})
    result = check_table(data, dataset_id="lieux", schema=None, policy=QualityPolicy(), out_dir=tmp_path / "out",
                         geometry="geometry", metadata=DatasetMetadata(title="Lieux", license="lov2"))
    assert [(p.row, p.rule, p.placed) for p in result.points.flagged] == [
        (3, "invalid-geometry", True), (4, "geometry", False), (5, "swapped", True)]
    bowtie_centre = result.points.flagged[0]
    assert (bowtie_centre.lon, bowtie_centre.lat) == pytest.approx((3.05, 50.05))
    page = page_of(result)
    assert len(page.xpath("//figure//svg//circle")) == 2
    assert "Points signalés sans coordonnées à placer : 1" in page.xpath("string(//figcaption)")
    rows = page.xpath("//section[h2='Carte des points signalés']/details//tbody/tr")
    assert [[c.text_content() for c in r.xpath("td")][:4] for r in rows][1] == ["4", "geometry", "—", "—"]


@pytest.mark.parametrize(("policy", "css", "words"), [
    ({"on_failure": "warn"}, "etat normalise", "Contrôle qualité : non conforme, publié quand même "
                                               "(quality.on_failure: warn). 6 erreurs sur 4 lignes."),
    ({}, "etat bloque", "Contrôle qualité : bloqué. 6 erreurs sur 4 lignes : cette version n'est pas publiée."),
])
def test_verdict_says_whether_the_failing_version_is_published(tmp_path: Path, policy, css, words) -> None:
    result = blocked_report(tmp_path, **policy)
    banner = page_of(result).xpath("//div[@role='note']")[0]
    assert banner.get("class") == css and banner.text_content().startswith(words)


def test_verdict_valid_after_normalisation(tmp_path: Path) -> None:
    from tests.data import make_schema, write_extract

    schema = make_schema([{"name": "date", "type": "date", "title": "Date de la séance"}])
    data = write_extract(tmp_path / "extract.parquet", {"date": ["05/12/2016", "2016-12-06"]})
    result = check_table(data, dataset_id="seances", schema=schema, policy=QualityPolicy(), out_dir=tmp_path / "out",
                         metadata=DatasetMetadata(title="Séances du conseil", license="lov2"))
    page = page_of(result)
    assert page.xpath("//div[@role='note']/@class") == ["etat normalise"]
    assert page.xpath("string(//div[@role='note'])").startswith("Contrôle qualité : valide après normalisation. "
                                                                "1 cellule a été mise au format attendu")
    assert page.xpath("string(//section[h2='Cellules normalisées']//tbody/tr/td[1])") == "dateDate de la séance"
    assert not page.xpath("//section[h2[starts-with(., 'Les ')]]"), "no error, no error table"


def test_warnings_are_orange_circles_and_errors_red(tmp_path: Path) -> None:
    from tests.data import write_extract

    data = write_extract(tmp_path / "extract.parquet", {
        "nom": ["mairie", "mairie bis", "stade", "école"],
        "lat": ["50.6921", "50.69211", "2.9802", "50.6917"], "lon": ["2.9874", "2.9874", "50.6940", "2.9866"]})
    result = check_table(data, dataset_id="lieux", schema=None, policy=QualityPolicy(), out_dir=tmp_path / "out")
    assert [(p.row, p.rule, p.warning) for p in result.points.flagged] == [
        (3, "duplicate-point", True), (4, "swapped", False)]
    circles = page_of(result).xpath("//figure//svg//circle")
    # Warnings are drawn first, so an error on the same spot stays on top.
    assert [(c.get("class"), c.get("fill")) for c in circles] == [("avertissement", "#b34000"), ("erreur", "#ce0500")]
    assert result.points.total == 4 and len(result.points.others) == 2


def test_declared_extent_is_drawn_around_the_points(tmp_path: Path) -> None:
    from tests.data import write_extract

    data = write_extract(tmp_path / "extract.parquet", {"lat": ["50.63", "50.9"], "lon": ["3.06", "2.3"]})
    result = check_table(data, dataset_id="lieux", schema=None, policy=QualityPolicy(extent=(2.9, 50.55, 3.1, 50.72)),
                         out_dir=tmp_path / "out")
    assert [(p.row, p.rule) for p in result.points.flagged] == [(3, "extent")]
    figure = page_of(result).xpath("//figure")[0]
    zone = figure.xpath(".//svg/rect[@class='zone']")[0]
    circle = figure.xpath(".//svg/circle")[0]
    # The flagged point (west and north of the area) lies outside the dashed frame.
    assert float(circle.get("cx")) < float(zone.get("x")) and float(circle.get("cy")) < float(zone.get("y"))
    assert "zone attendue" in figure.xpath("string(figcaption)")


# Words of the connectors' English notes that French never uses (quoted cell values and `catalog keys` aside).
ENGLISH = re.compile(r"\b(the|of|and|on|as|is|has|have|with|from|read|row|rows|found|skipped|dropped|used|other|more|"
                     r"sheet|sheets|header|delimiter|encoding|detected|column|columns|values|label|renamed|kept)\b",
                     re.IGNORECASE)


@pytest.mark.parametrize("folder, name", [
    (REFERENCE / "messy" / "csv-detective", "c_test_file.csv"),  # a row longer than the header
    (REFERENCE / "messy" / "csv-detective", "file.xlsx"),  # data on the second sheet, below a title row
    (REFERENCE / "messy" / "csv-detective", "file.xls"),  # an OpenDocument file named .xls
    (REFERENCE / "messy" / "csv-detective", "file.csv.gz"),
    (REFERENCE / "scdl" / "subventions", "exemple-duplicate-column.csv"),  # cp1252, a label twice
])
def test_french_report_reads_the_source_notes_in_french(tmp_path: Path, folder: Path, name: str) -> None:
    source = SpreadsheetSource(SpreadsheetSource.Config(root=reference(folder)))
    extract = source.extract(DatasetDescriptor(id="messy", locator={"path": name}), tmp_path)
    result = check_table(extract.path, dataset_id="messy", schema=None, policy=QualityPolicy(),
                         out_dir=tmp_path / "rapport", first_row=extract.first_row, row_gaps=extract.row_gaps,
                         findings=extract.findings, reading=extract.notes)
    page = page_of(result)
    items = [li.text_content() for li in page.xpath("//section[h2='Lecture du fichier source']/ul/li")]
    assert len(items) == len(extract.notes) >= 3
    for item in items:
        words = re.sub(r"'[^']*'|`[^`]*`", "", item)
        assert not ENGLISH.search(words), f"English in the French report: {item!r}"
    assert not page.xpath("//*[@lang][not(self::html)]")
    english = [note.say("en") for note in extract.notes]
    assert english != items and all(ENGLISH.search(sentence) for sentence in english[:3])


def test_an_issue_as_json_keeps_every_attribute() -> None:
    issue = QualityIssue(row=3, key="59350", field="code", type="constraint-error", message="ligne 3 : motif",
                         rule="pattern", value="5935")
    assert issue.to_dict() == dataclasses.asdict(issue)
    assert set(issue.to_dict()) == {f.name for f in dataclasses.fields(QualityIssue)}
