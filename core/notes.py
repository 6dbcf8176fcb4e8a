"""Every note a source writes about how it read the data, in French and English: one key, one template per language.

Connectors cannot know the language of the report that will show their notes (the catalog's `lang`,
`moisson validate --lang`), so a note is a `Note`: a string holding its French text, the default language, which
every log line, join or JSON file uses as it is, and which the quality report says again in its own language.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, get_args

Lang = Literal["fr", "en"]
LANGS: tuple[str, ...] = get_args(Lang)
# Data officers of French local governments read the reports: French unless asked otherwise.
DEFAULT_LANG: Lang = "fr"

NOTES: dict[str, dict[Lang, str]] = {
    # Lists inside notes.
    "rows": {"fr": "{shown}", "en": "{shown}"},
    "rows.one-more": {"fr": "{shown} et 1 autre", "en": "{shown} and 1 more"},
    "rows.more": {"fr": "{shown} et {more} autres", "en": "{shown} and {more} more"},
    # Files and workbooks (connectors/tabular.py).
    "format.csv": {"fr": "CSV", "en": "CSV"},
    "format.xlsx": {"fr": "classeur Excel (xlsx)", "en": "Excel workbook (xlsx)"},
    "format.xls": {"fr": "classeur Excel 97-2003 (xls)", "en": "Excel 97-2003 workbook (xls)"},
    "format.ods": {"fr": "tableur OpenDocument (ods)", "en": "OpenDocument spreadsheet (ods)"},
    "format.gzip": {"fr": "{format} compressé (gzip)", "en": "gzip-compressed {format}"},
    "read.as": {"fr": "lu comme {format}", "en": "read as {format}"},
    "read.ignored": {"fr": "{keys} du catalogue ignoré(s) : {name} est un {format}",
                     "en": "{keys} from the catalog ignored: {name} is {format}"},
    "encoding.catalog": {"fr": "encodage {encoding} (indiqué par le catalogue)",
                         "en": "encoding {encoding} (from the catalog)"},
    "encoding.detected": {"fr": "encodage {encoding} (détecté)", "en": "encoding {encoding} (detected)"},
    "encoding.bom": {"fr": "encodage {encoding} avec BOM (détecté)", "en": "encoding {encoding} with BOM (detected)"},
    "encoding.guessed": {
        "fr": "encodage {encoding} (deviné : vérifiez les accents, et indiquez `encoding` dans le catalogue s'ils "
              "semblent faux)",
        "en": "encoding {encoding} (guessed: check the accents, and set `encoding` in the catalog if they look wrong)"},
    "encoding.fallback": {
        "fr": "encodage latin-1 (par défaut : le fichier n'est ni en utf-8 ni en cp1252 ; vérifiez les accents et "
              "indiquez `encoding` dans le catalogue s'ils semblent faux)",
        "en": "encoding latin-1 (fallback: the file is neither utf-8 nor cp1252; check the accents and set "
              "`encoding` in the catalog if they look wrong)"},
    "delimiter.catalog": {"fr": "séparateur {delimiter} (indiqué par le catalogue)",
                          "en": "delimiter {delimiter} (from the catalog)"},
    "delimiter.detected": {"fr": "séparateur {delimiter} (détecté)", "en": "delimiter {delimiter} (detected)"},
    "delimiter.none": {"fr": "aucun séparateur trouvé (; , tabulation |) : lu comme une seule colonne",
                       "en": "no delimiter found (; , tab |): read as a single column"},
    "properties.too-large": {
        "fr": "propriétés du document ({member}) de plus de {mib} Mio : titre non lu",
        "en": "document properties ({member}) larger than {mib} MiB: title not read"},
    "sheet.used": {"fr": "feuille {sheet} utilisée ({how})", "en": "sheet {sheet} used ({how})"},
    "sheet.used-others": {"fr": "feuille {sheet} utilisée ({how}) ; autres feuilles : {others}",
                          "en": "sheet {sheet} used ({how}); other sheets: {others}"},
    "sheet.catalog": {"fr": "indiquée par le catalogue", "en": "from the catalog"},
    "sheet.first": {"fr": "première feuille avec des données", "en": "first sheet with data"},
    "header.found": {"fr": "en-tête trouvé ligne {row}", "en": "header found on row {row}"},
    "header.found-below": {
        "fr": "en-tête trouvé ligne {row} ; {span}{shown} (indiquez `header_row` dans le catalogue si c'est faux)",
        "en": "header found on row {row}; {span}{shown} (set `header_row` in the catalog if this is wrong)"},
    "header.skipped": {"fr": " : {text}", "en": ": {text}"},
    "header.span-one": {"fr": "ligne {row} au-dessus ignorée", "en": "row {row} above it skipped"},
    "header.span": {"fr": "lignes {first}–{last} au-dessus ignorées", "en": "rows {first}–{last} above it skipped"},
    "header.multi-row": {
        "fr": "en-tête sur {count} lignes ({first}–{last}) : {described} ; les noms de colonnes de la ligne {names} "
              "sont utilisés, libellés et unités gardés comme titres et descriptions des champs",
        "en": "header on {count} rows ({first}–{last}): {described}; the column names of row {names} are used, "
              "labels and units kept as the fields' titles and descriptions"},
    "header.role": {"fr": "{role} ligne {row}", "en": "{role} on row {row}"},
    "header.role-labels": {"fr": "libellés", "en": "labels"},
    "header.role-types": {"fr": "types", "en": "types"},
    "header.role-units": {"fr": "unités", "en": "units"},
    "header.role-column-names": {"fr": "noms de colonnes", "en": "column names"},
    "labels.unnamed": {"fr": "colonne(s) {positions} sans libellé dans l'en-tête : nommée(s) {names}",
                       "en": "column(s) {positions} have no label in the header: named {names}"},
    "labels.duplicate": {
        "fr": "libellé de colonne {label} en double : la copie en colonne {position} est renommée {renamed} (les "
              "deux sont gardées ; les libellés de l'en-tête doivent être uniques)",
        "en": "duplicate column label {label}: the copy in column {position} is renamed {renamed} (both are kept; "
              "the header must have unique labels)"},
    "rows.extra-cells": {
        "fr": "ligne(s) {rows} : plus de valeurs que l'en-tête n'a de colonnes ; les valeurs en trop sont gardées "
              "dans {columns} (une erreur extra-cell chacune ; cherchez un libellé manquant ou un séparateur dans "
              "une valeur sans guillemets)",
        "en": "row(s) {rows} have more values than the header has columns: the extra values are kept in {columns} "
              "(an extra-cell error each; check for a missing label or a delimiter inside an unquoted value)"},
    "rows.missing-cells": {
        "fr": "ligne(s) {rows} : moins de valeurs que l'en-tête n'a de colonnes ; les cellules manquantes sont "
              "laissées vides (une erreur missing-cell chacune)",
        "en": "row(s) {rows} have fewer values than the header has columns: the missing cells are left empty (a "
              "missing-cell error each)"},
    "rows.repeated-header": {"fr": "en-tête répété ligne(s) {rows} : {count} ligne(s) retirée(s)",
                             "en": "header repeated on row(s) {rows}: {count} row(s) dropped"},
    "rows.blank": {"fr": "{count} ligne(s) vide(s) retirée(s) : ligne(s) {rows}",
                   "en": "{count} blank row(s) dropped: row(s) {rows}"},
    "rows.cut": {"fr": "la dernière ligne semble coupée : {evidence} (le fichier a peut-être été tronqué)",
                 "en": "the last row looks cut: {evidence} (the file may have been truncated)"},
    "cut.open-quote": {"fr": "un guillemet reste ouvert sur la dernière ligne ({tail})",
                       "en": "a quote is left open on the last line ({tail})"},
    "cut.short-row": {"fr": "la ligne {row} a moins de valeurs que l'en-tête n'a de colonnes",
                      "en": "row {row} has fewer values than the header has columns"},
    # Geometries (connectors/geo.py).
    "geometry.missing": {"fr": "{count} ligne(s) sans géométrie (laissée vide).",
                         "en": "{count} row(s) have no geometry (left empty)."},
    "geometry.unreadable": {
        "fr": "{count} géométrie(s) illisible(s) (données abîmées), laissée(s) vide(s) : enregistrez à nouveau la "
              "couche dans votre SIG pour les réparer.",
        "en": "{count} geometry(ies) could not be decoded (damaged data) and were left empty: re-save the layer in "
              "your GIS to repair them."},
    "geometry.unprojectable": {
        "fr": "{count} géométrie(s) impossible(s) à convertir en WGS84 (hors de la zone du système de coordonnées "
              "de la couche ?), laissée(s) vide(s).",
        "en": "{count} geometry(ies) could not be converted to WGS84 (outside the area of the layer's coordinate "
              "system?) and were left empty."},
    "geometry.empty": {"fr": "{count} géométrie(s) vide(s) (écrite(s) sans coordonnées).",
                       "en": "{count} geometry(ies) are empty (written with no coordinates)."},
    "geometry.invalid": {
        "fr": "{count} géométrie(s) invalide(s), gardée(s) telle(s) quelle(s) ({examples}) ; le rapport de qualité "
              "les liste, réparez-les dans votre SIG.",
        "en": "{count} geometry(ies) are invalid and were kept as they are ({examples}); the quality report lists "
              "them, repair them in your GIS."},
    "geometry.invalid-at": {"fr": "ligne {row} : {reason}", "en": "row {row}: {reason}"},
    "geometry.not-points": {
        "fr": "{count} géométrie(s) autre(s) que des points : leurs colonnes longitude/latitude donnent un point à "
              "l'intérieur de chaque forme.",
        "en": "{count} geometry(ies) are not points: their longitude/latitude columns hold a point inside each "
              "shape."},
    "geometry.replaced": {
        "fr": "colonne(s) {columns} de la couche remplacée(s) par les valeurs calculées à partir de la géométrie.",
        "en": "Column(s) {columns} of the layer replaced by the values computed from the geometry."},
    # Coordinate systems (connectors/sources/geopackage.py, sql.py).
    "crs.custom": {"fr": "un système de coordonnées personnalisé", "en": "a custom coordinate reference system"},
    "crs.from-catalog": {
        "fr": "coordonnées converties en WGS84 (longitude, latitude) depuis EPSG:{crs} ({name}), comme l'indique "
              "le `crs` du catalogue.",
        "en": "Coordinates converted to WGS84 (longitude, latitude) from EPSG:{crs} ({name}), as the catalog's "
              "`crs` says."},
    "crs.file-declares": {
        "fr": "le fichier déclare {declared} pour cette couche ; le `crs: {crs}` du catalogue a été utilisé à la "
              "place.",
        "en": "The file declares {declared} for this layer; the catalog's `crs: {crs}` was used instead."},
    "crs.from-file": {
        "fr": "coordonnées converties en WGS84 (longitude, latitude) depuis {crs} ({name}), comme le déclare le "
              "fichier.",
        "en": "Coordinates converted to WGS84 (longitude, latitude) from {crs} ({name}), as declared in the file."},
    "crs.database": {
        "fr": "coordonnées converties en WGS84 (longitude, latitude) {how} depuis {shown}, {said}.",
        "en": "Coordinates converted to WGS84 (longitude, latitude) {how} from {shown}, {said}."},
    "crs.by-postgis": {"fr": "par PostGIS", "en": "by PostGIS"},
    "crs.by-proj": {"fr": "avec PROJ", "en": "with PROJ"},
    "crs.as-catalog": {"fr": "comme l'indique le `crs` du catalogue", "en": "as the catalog's `crs` says"},
    "crs.as-geometry": {"fr": "comme chaque géométrie le déclare", "en": "as each geometry declares"},
    "crs.as-database": {"fr": "comme le déclare la base", "en": "as declared in the database"},
    "crs.srid": {"fr": "leur SRID", "en": "their SRID"},
    "crs.database-declares": {
        "fr": "la base déclare EPSG:{srid} pour cette colonne ; le `crs: {crs}` du catalogue a été utilisé à la "
              "place.",
        "en": "The database declares EPSG:{srid} for this column; the catalog's `crs: {crs}` was used instead."},
    "sql.no-id": {
        "fr": "pas de colonne `id` : les lignes sont écrites dans l'ordre de la base, qui peut changer d'une "
              "exécution à l'autre ; indiquez `id` dans le locator pour un fichier stable.",
        "en": "No `id` column: rows are written in the database's order, which may change between runs; set `id` "
              "in the locator for a stable file."},
    # Web services (connectors/sources/wfs/, ogcapi.py, osm.py, csw/).
    "wfs.from": {"fr": "données de la couche WFS {layer} de {where} (WFS {version}, {fmt}, {srs})",
                 "en": "data from the WFS layer {layer} of {where} (WFS {version}, {fmt}, {srs})"},
    "wfs.default-crs": {"fr": "système de coordonnées par défaut", "en": "default CRS"},
    "wfs.untyped": {"fr": "attributs non typés : DescribeFeatureType a échoué ({error})",
                    "en": "attributes not typed: DescribeFeatureType failed ({error})"},
    "wfs.uncounted": {
        "fr": "le serveur ne compte pas les objets de la couche (numberMatched inconnu) : pagination jusqu'à une "
              "page vide, {rows} objets",
        "en": "the server does not count the layer's features (numberMatched unknown): paged until an empty page, "
              "{rows} features"},
    "wfs.late-attributes": {
        "fr": "attribut(s) {names} présent(s) sur une partie des objets seulement et absent(s) du "
              "DescribeFeatureType de la couche",
        "en": "attribute(s) {names} appear only on some features and are not in the layer's DescribeFeatureType"},
    "ogcapi.from": {"fr": "données de la collection {collection} de l'OGC API {where} (GeoJSON, CRS84)",
                    "en": "data from the OGC API collection {collection} of {where} (GeoJSON, CRS84)"},
    "ogcapi.untyped": {"fr": "attributs non typés : le serveur n'offre pas de queryables ({error})",
                       "en": "attributes not typed: the server offers no queryables ({error})"},
    "osm.unplaced": {"fr": "{count} élément(s) sans position laissé(s) de côté",
                     "en": "{count} element(s) without position left out"},
    # ISO 19139 records (connectors/sources/csw/iso19139.py).
    "iso.licence-from": {"fr": "{license} d'après « {text} »", "en": "{license} from “{text}”"},
    "iso.quoted": {"fr": "« {text} »", "en": "“{text}”"},
    "iso.no-constraints": {"fr": "aucune licence trouvée : la fiche n'a pas de contraintes d'usage",
                           "en": "no licence found: the record has no use constraints"},
    "iso.no-licence": {"fr": "aucune licence trouvée dans les contraintes d'usage : {texts}",
                       "en": "no licence found in the use constraints: {texts}"},
    "iso.no-identification": {
        "fr": "pas de section d'identification (gmd:identificationInfo) : titre et description sont vides",
        "en": "no identification section (gmd:identificationInfo): title and abstract are empty"},
    "iso.invalid-field": {"fr": "{name} ignoré : {value} n'est pas valide",
                          "en": "{name} ignored: {value} is not valid"},
    "iso.date-kind": {"fr": "date de type {kind}", "en": "{kind} date"},
    "iso.future": {"fr": "{what} {value} : date dans le futur, ignorée",
                   "en": "{what} {value} is in the future: ignored"},
    "iso.bbox": {"fr": "l'emprise {values} n'est pas ouest, sud, est, nord en degrés : ignorée",
                 "en": "bounding box {values} is not west, south, east, north in degrees: ignored"},
    "iso.temporal": {"fr": "la couverture temporelle finit ({end}) avant de commencer ({begin}) : ignorée",
                     "en": "temporal extent ends ({end}) before it starts ({begin}): ignored"},
    "iso.period-other": {"fr": "la période de mise à jour {duration} n'a pas d'équivalent data.gouv.fr : fréquence "
                               "`other`",
                         "en": "update period {duration} has no data.gouv.fr equivalent: frequency `other`"},
    "iso.period-invalid": {"fr": "la période de mise à jour {duration} n'est pas une durée ISO 8601 : ignorée",
                           "en": "update period {duration} is not an ISO 8601 duration: ignored"},
    "iso.frequency-code": {
        "fr": "la fréquence de mise à jour {code} n'est pas un code ISO : fréquence `unknown` ; indiquez `frequency` "
              "pour ce jeu de données dans le catalogue",
        "en": "maintenance frequency {code} is not an ISO code: frequency `unknown`; set `frequency` for this "
              "dataset in the catalog"},
    "csw.file": {"fr": "données du fichier {name} de {url}", "en": "data from the file {name} of {url}"},
    "csw.record-warning": {"fr": "fiche {record} : {warning}", "en": "record {record}: {warning}"},
    "csw.licence": {"fr": "licence : {evidence}", "en": "licence: {evidence}"},
    "csw.links-only": {"fr": "publié comme métadonnées avec ses {rows} lien(s) : {why}",
                       "en": "published as metadata with its {rows} link(s): {why}"},
    "csw.no-usable-link": {"fr": "aucune couche WFS ni fichier CSV/XLSX/ODS/GeoJSON parmi ses liens",
                           "en": "no WFS layer nor CSV/XLSX/ODS/GeoJSON file among its links"},
    "csw.paged-again": {
        "fr": "{short} fiche(s) manquante(s) sur les {matched} trouvées : nouvelle pagination en ordre inverse, par "
              "pages plus petites",
        "en": "{short} record(s) short of the {matched} matched: paged again in reverse order with smaller pages"},
    "csw.listing-all": {
        "fr": "le catalogue trouve {matched} fiches, {expected} attendues d'après la dernière exécution et les fiches "
              "modifiées depuis le {since} : liste de tous les identifiants",
        "en": "the catalog matches {matched} records, {expected} expected from the last run and the records "
              "changed since {since}: listing every identifier"},
    "csw.shortfall": {
        "fr": "fiches manquantes : le catalogue en trouve {matched} mais en a servi {received} ; l'exécution est "
              "incomplète, aucune fiche n'est marquée absente",
        "en": "shortfall: the catalog matched {matched} records but served {received}; the run is incomplete, no "
              "record is marked missing"},
    "csw.max-pages": {"fr": "arrêt après {pages} pages (max_pages)", "en": "stopped after {pages} pages (max_pages)"},
    "csw.page-failed": {
        "fr": "la page à la position {start} a échoué ({error}) : découpée pour isoler la fiche",
        "en": "page at position {start} failed ({error}); split to isolate the record"},
    "csw.changed": {"fr": "le catalogue a changé pendant la pagination : {before} puis {after} fiches trouvées",
                    "en": "the catalog changed while paging: {before} then {after} matches"},
    "csw.repeated": {
        "fr": "le serveur a renvoyé les mêmes fiches à la position {start} : pagination arrêtée",
        "en": "the server sent the same records again at position {start}: paging stopped"},
    "csw.empty-page": {"fr": "le serveur n'a renvoyé aucune fiche à la position {start} sur {matched}",
                       "en": "the server returned no record at position {start} of {matched}"},
    "csw.restarts": {
        "fr": "le serveur a envoyé nextRecord={next} à la position {start} : il recommence sa liste, pagination "
              "arrêtée",
        "en": "the server sent nextRecord={next} at position {start}: it restarts its list, paging stopped"},
}


class Note(str):
    """A sentence for the data officer: as a string, its French text; in any language through `say`.

    Values may be notes themselves (a format's name, a list of rows), or lists of notes (joined with commas):
    they are said in the same language.
    """

    key: str
    values: dict[str, Any]

    def __new__(cls, key: str, **values: Any) -> Note:
        """The note `key` of `NOTES` with `values`.

        Raises:
            KeyError: Unknown key (a bug: every key used must be in `NOTES`).
        """
        note = super().__new__(cls, _fill(key, DEFAULT_LANG, values))
        note.key, note.values = key, values
        return note

    def __getnewargs_ex__(self) -> tuple[tuple[str], dict[str, Any]]:
        # Pickled (Prefect results, worker processes) as key and values, not as the French text.
        return (self.key,), self.values

    def say(self, lang: Lang) -> str:
        """The note in `lang`."""
        return _fill(self.key, lang, self.values)


def said(text: str, lang: Lang) -> str:
    """`text` in `lang` when it is a `Note`; any other string as written."""
    return text.say(lang) if isinstance(text, Note) else text


def singular(number: int, lang: Lang = DEFAULT_LANG) -> bool:
    """Whether a word counting `number` things is singular: French takes 0 and 1 as singular, English 1 alone."""
    return abs(number) < 2 if lang == "fr" else number == 1


def counted(number: int, one: str, many: str | None = None, lang: Lang = DEFAULT_LANG) -> str:
    """`number` and the word that agrees with it: "1 erreur", "3 erreurs" (`many` defaults to `one` + "s")."""
    return f"{number} {one if singular(number, lang) else many or one + 's'}"


def rows_note(numbers: Sequence[int], count: int) -> Note:
    """Row numbers for a note: those given, and how many more when `count` is larger."""
    shown, more = ", ".join(map(str, numbers)), count - len(numbers)
    return Note("rows" if more < 1 else "rows.one-more" if more == 1 else "rows.more", shown=shown, more=more)


def _fill(key: str, lang: Lang, values: dict[str, Any]) -> str:
    return NOTES[key][lang].format(**{name: _value(v, lang) for name, v in values.items()})


def _value(value: Any, lang: Lang) -> Any:
    if isinstance(value, Note):
        return value.say(lang)
    if isinstance(value, list):
        return ", ".join(str(_value(item, lang)) for item in value)
    return value
