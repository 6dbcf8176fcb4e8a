"""Every sentence the quality checks write, in French and English: one key, one template per language.

Checks never build sentences themselves: they call `say(key, lang, **values)`, so a new language is
one more column here, and a French and an English report always say the same thing.
"""

from __future__ import annotations

import numbers
import re

from moisson.core.notes import DEFAULT_LANG, LANGS, Lang, singular

__all__ = ["CATALOG", "DEFAULT_LANG", "LANGS", "Lang", "say"]

CATALOG: dict[str, dict[Lang, str]] = {
    # Where an issue is.
    "at.row": {"fr": "ligne {row}", "en": "row {row}"},
    "at.field": {"fr": ", champ {field}", "en": ", field {field}"},
    "hint": {"fr": "{message} ({hint})", "en": "{message} ({hint})"},
    # Columns.
    "label.duplicate": {
        "fr": "la colonne '{label}' apparaît plusieurs fois : gardez-en une et renommez ou supprimez les autres (seule "
              "la première a été vérifiée)",
        "en": "column '{label}' appears more than once: keep one and rename or delete the others (only the first one "
              "was checked)"},
    "label.duplicate-kept": {
        "fr": "la colonne '{label}' apparaît plusieurs fois : seule la première a été gardée",
        "en": "column '{label}' appears more than once: only the first one was kept"},
    "label.duplicate-renamed": {
        "fr": "la colonne '{label}' apparaît plusieurs fois (la copie a été lue sous le nom '{copy}') : gardez-en une "
              "et renommez ou supprimez les autres",
        "en": "column '{label}' appears more than once (the copy was read as '{copy}'): keep one and rename or delete "
              "the others"},
    "label.missing": {"fr": "la colonne '{name}' manque ; le schéma l'exige{hint}",
                      "en": "column '{name}' is missing; the schema requires it{hint}"},
    "label.missing-optional": {"fr": "la colonne facultative '{name}' manque{hint}",
                               "en": "optional column '{name}' is missing{hint}"},
    "label.looks-like": {"fr": " ; la colonne '{near}' y ressemble : renommez-la '{name}'",
                         "en": "; column '{near}' looks like it: rename it '{name}'"},
    "label.extra": {"fr": "la colonne '{label}' n'est pas dans le schéma et n'a pas été vérifiée{hint}",
                    "en": "column '{label}' is not in the Table Schema and was left out of the checked file{hint}"},
    "label.did-you-mean": {"fr": " ; vouliez-vous dire '{near}' ?", "en": "; did you mean '{near}'?"},
    "label.reordered": {
        "fr": "les colonnes ne sont pas dans l'ordre du schéma : elles ont été associées par leur nom",
        "en": "columns are in a different order from the schema: they were matched by name"},
    "table.no-schema": {"fr": "pas de schéma de données : seules les vérifications génériques ont été faites",
                        "en": "no Table Schema: only generic checks ran"},
    "table.custom-unknown": {
        "fr": "le contrôle personnalisé '{name}' du schéma n'est pas pris en charge : il a été ignoré",
        "en": "custom check '{name}' of the schema is not supported: it was skipped"},
    "table.custom-deprecated": {
        "fr": "le contrôle personnalisé '{name}' est déprécié : écrivez '{new}' dans le schéma (vérifié comme '{new}')",
        "en": "custom check '{name}' is deprecated: write '{new}' in the schema (checked as '{new}')"},
    "table.custom-underscore": {
        "fr": "le contrôle personnalisé '{name}' s'écrit '{new}' : moisson l'a appliqué, mais validata.fr ne le "
              "connaît pas sous ce nom et refuse le fichier ; corrigez le schéma",
        "en": "custom check '{name}' is spelt '{new}': moisson ran it, but validata.fr does not know this name "
              "and refuses the file; fix the schema"},
    "table.custom-param": {
        "fr": "le contrôle personnalisé '{name}' ne peut pas être appliqué : {problem} ; corrigez le schéma",
        "en": "custom check '{name}' cannot run: {problem}; fix the schema"},
    "table.custom-missing-param": {"fr": "paramètre obligatoire '{param}' manquant",
                                   "en": "required parameter '{param}' is missing"},
    # Cells.
    "row.blank": {"fr": "la ligne est vide : supprimez-la", "en": "the row is empty: delete it"},
    "row.blank-row-dropped": {"fr": "la ligne est vide : elle a été retirée",
                              "en": "the row is empty: it was left out"},
    "row.repeated-header-dropped": {"fr": "l'en-tête est répété sur cette ligne : elle a été retirée",
                                    "en": "the header is repeated on this row: it was left out"},
    "row.extra-cell": {"fr": "la ligne a plus de valeurs que l'en-tête n'a de colonnes (gardées dans {columns}) : "
                             "une valeur sans colonne, ou un séparateur dans une valeur sans guillemets",
                       "en": "the row has more values than the header has columns (kept in {columns}): a value "
                             "without a column, or a delimiter inside an unquoted value"},
    "row.missing-cell": {"fr": "la ligne a moins de valeurs que l'en-tête n'a de colonnes : '{field}' et les "
                               "suivantes manquent",
                         "en": "the row has fewer values than the header has columns: '{field}' and the next ones "
                               "are missing"},
    "cell.type": {"fr": "'{value}' n'est pas {expected}", "en": "'{value}' is not {expected}"},
    "cell.required": {"fr": "la valeur manque ; ce champ est obligatoire",
                      "en": "the value is missing; this field is required"},
    "cell.pattern": {"fr": "'{value}' n'a pas la forme attendue {pattern}{example}",
                     "en": "'{value}' does not have the expected form {pattern}{example}"},
    "cell.example": {"fr": " (exemple : {example})", "en": " (example: {example})"},
    "cell.enum": {"fr": "'{value}' ne fait pas partie des valeurs autorisées : {allowed}",
                  "en": "'{value}' is not one of the allowed values: {allowed}"},
    "cell.unique": {"fr": "'{value}' figure déjà ligne {first} ; chaque valeur doit être unique",
                    "en": "'{value}' already appears at row {first}; each value must be unique"},
    "cell.minLength": {"fr": "'{value}' a {count} {unit}, moins que les {limit} exigés",
                       "en": "'{value}' has {count} {unit}, fewer than the {limit} allowed"},
    "cell.maxLength": {"fr": "'{value}' a {count} {unit}, plus que les {limit} permis",
                       "en": "'{value}' has {count} {unit}, more than the {limit} allowed"},
    "unit.characters": {"fr": "caractères", "en": "characters"},
    "unit.items": {"fr": "éléments", "en": "items"},
    "cell.minimum": {"fr": "{value} est inférieur au minimum {limit}", "en": "{value} is below the minimum {limit}"},
    "cell.maximum": {"fr": "{value} est supérieur au maximum {limit}", "en": "{value} is above the maximum {limit}"},
    "cell.exclusiveMinimum": {"fr": "{value} n'est pas strictement supérieur à {limit}",
                              "en": "{value} is not above the exclusive minimum {limit}"},
    "cell.exclusiveMaximum": {"fr": "{value} n'est pas strictement inférieur à {limit}",
                              "en": "{value} is not below the exclusive maximum {limit}"},
    "item.enum": {"fr": "l'élément '{item}' ne fait pas partie des valeurs autorisées : {allowed}",
                  "en": "item '{item}' is not one of the allowed values: {allowed}"},
    "item.pattern": {"fr": "l'élément '{item}' n'a pas la forme {pattern}",
                     "en": "item '{item}' is not of the form {pattern}"},
    "key.empty": {"fr": "la clé primaire ({columns}) est vide ; chaque ligne en a besoin",
                  "en": "the primary key ({columns}) is empty; every row needs one"},
    "key.duplicate": {"fr": "la clé primaire ({columns}) est la même que ligne {first} ; chaque ligne doit avoir la "
                            "sienne",
                      "en": "the primary key ({columns}) is the same as at row {first}; each row needs its own"},
    # Validata custom checks.
    "custom.identifier": {"fr": "'{value}' n'est pas un numéro {label} valide : {length} chiffres dont une clé de "
                                "contrôle correcte",
                          "en": "'{value}' is not a valid {label} number: {length} digits with a correct check digit"},
    "custom.one-of-absent": {"fr": "ni la colonne '{first}' ni '{second}' n'est présente ; le schéma exige au moins "
                                   "l'une des deux",
                             "en": "neither column '{first}' nor '{second}' is present; the schema needs at least "
                                   "one of them"},
    "custom.one-of": {"fr": "remplissez '{first}' ou '{second}' (les deux sont vides)",
                      "en": "fill in '{first}' or '{second}' (both are empty)"},
    "custom.cohesive": {"fr": "{columns} doivent être tous remplis ou tous vides",
                        "en": "{columns} must be all filled in or all empty"},
    "custom.compare": {"fr": "{left} ({value}) doit être {op} {right} ({other})",
                       "en": "{left} ({value}) must be {op} {right} ({other})"},
    "custom.sum": {"fr": "{total} ({value}) doit être égal à {parts} ({sum})",
                   "en": "{total} ({value}) must equal {parts} ({sum})"},
    "custom.years-order": {"fr": "'{value}' : la seconde année doit venir après la première",
                           "en": "'{value}': the second year must come after the first"},
    "custom.years": {"fr": "'{value}' n'est pas une année ou une période écrite {forms}",
                     "en": "'{value}' is not a year or period written {forms}"},
    "custom.actes": {"fr": "'{value}' ne suit pas la nomenclature ACTES 'Thème/Sous-thème' (par ex. 'Finances "
                           "locales/Subventions') : {details}",
                     "en": "'{value}' does not follow the ACTES nomenclature 'Theme/Sub-theme' (e.g. 'Finances "
                           "locales/Subventions'): {details}"},
    "custom.format": {"fr": "'{value}' n'est pas une valeur valide de « {label} »",
                      "en": "'{value}' is not a valid value of '{label}'"},
    "custom.phone": {"fr": "'{value}' n'est pas un numéro de téléphone valide : 10 chiffres (01 99 00 27 37), "
                           "format international (+33 1 99 00 27 37) ou numéro court (115, 3949)",
                     "en": "'{value}' is not a valid phone number: 10 digits (01 99 00 27 37), international "
                           "form (+33 1 99 00 27 37) or a short number (115, 3949)"},
    "custom.opening-hours": {"fr": "'{value}' n'est pas un horaire d'ouverture au format OpenStreetMap (par ex. 'Mo-Fr "
                                   "08:30-12:00')",
                             "en": "'{value}' is not opening hours in the OpenStreetMap format (e.g. 'Mo-Fr "
                                   "08:30-12:00')"},
    "custom.gps-reversed": {"fr": "{value} ressemble à [latitude, longitude] : écrivez [longitude, latitude]",
                            "en": "{value} looks like [latitude, longitude]: write [longitude, latitude]"},
    "custom.gps": {"fr": "{value} n'est pas un point en France (WGS84 [longitude, latitude])",
                   "en": "{value} is not a point in France (WGS84 [longitude, latitude])"},
    # What a value of a type looks like (ends "'x' is not …").
    "type.text": {"fr": "du texte", "en": "text"},
    "type.email": {"fr": "une adresse e-mail", "en": "an e-mail address"},
    "type.uri": {"fr": "une adresse web complète avec son protocole (https://…)",
                 "en": "a full web address with its scheme (https://…)"},
    "type.uuid": {"fr": "un UUID", "en": "a UUID"},
    "type.binary": {"fr": "du texte base64", "en": "base64 text"},
    "type.boolean": {"fr": "une des valeurs oui/non {true} / {false}",
                     "en": "one of the yes/no values {true} / {false}"},
    "type.date": {"fr": "une date au format {format}", "en": "a date in the format {format}"},
    "type.datetime": {"fr": "une date et heure {format}", "en": "a date-time {format}"},
    "type.geopoint": {"fr": "un point écrit {shape} en degrés", "en": "a point written {shape} in degrees"},
    "type.integer": {"fr": "un nombre entier", "en": "a whole number"},
    "type.number": {"fr": "un nombre", "en": "a number"},
    "type.year": {"fr": "une année à quatre chiffres", "en": "a four-digit year"},
    "type.time": {"fr": "une heure hh:mm:ss", "en": "a time hh:mm:ss"},
    "type.yearmonth": {"fr": "un mois AAAA-MM", "en": "a month YYYY-MM"},
    "type.duration": {"fr": "une durée ISO 8601 (P1Y2M…)", "en": "an ISO 8601 duration (P1Y2M…)"},
    "type.geojson": {"fr": "un objet GeoJSON", "en": "a GeoJSON object"},
    "type.object": {"fr": "un objet JSON", "en": "a JSON object"},
    "type.array": {"fr": 'une liste JSON comme ["a", "b"]', "en": 'a JSON list such as ["a", "b"]'},
    "type.other": {"fr": "du type {type}", "en": "a {type}"},
    # Hints: the likely cause of a bad cell.
    "hint.excel-date": {"fr": "cela ressemble à un numéro de date Excel ({serial} = {day}) : mettez la colonne au "
                              "format texte ou date dans le tableur",
                        "en": "this looks like an Excel date serial number ({serial} = {day}): format the column "
                              "as text or dates in the spreadsheet"},
    "hint.date-range": {"fr": "les dates avant 1678 ou après 2261 ne sont pas prises en charge : laissez la cellule "
                              "vide s'il n'y a pas de date",
                        "en": "dates before 1678 or after 2261 are not supported: leave the cell empty if there is "
                              "no date"},
    "hint.no-such-day": {"fr": "ce jour n'existe pas dans le calendrier",
                         "en": "this day does not exist in the calendar"},
    "hint.whole-decimal": {"fr": "un tableur a sans doute écrit ce nombre entier avec des décimales : retirez le '.0'",
                           "en": "a spreadsheet probably wrote this whole number as a decimal: remove the '.0'"},
    "hint.letter-o": {"fr": "la lettre O semble tapée à la place du chiffre 0",
                      "en": "the letter O seems to be typed instead of the digit 0"},
    "hint.decimal-comma": {"fr": "écrivez le séparateur décimal avec un point, comme les autres valeurs de la colonne",
                           "en": "write the decimal separator as a dot, like the other values of this column"},
    "hint.did-you-mean": {"fr": "vouliez-vous dire '{value}' ?", "en": "did you mean '{value}'?"},
    "hint.excel-number": {"fr": "Excel semble avoir transformé ce {kind} en nombre (sans doute {digits}) : mettez la "
                                "colonne au format texte dans le tableur",
                          "en": "looks like Excel turned this {kind} into a number (probably {digits}): format the "
                                "column as text in the spreadsheet"},
    "hint.leading-zero": {"fr": "un zéro initial a sans doute été perdu (0{value}) : mettez la colonne au format "
                                "texte dans le tableur",
                          "en": "a leading zero was probably lost (0{value}): format the column as text in the "
                                "spreadsheet"},
    "hint.strip": {"fr": "retirez les espaces avant ou après la valeur",
                   "en": "remove the spaces before or after the value"},
    "hint.squeeze": {"fr": "écrivez-le sans espaces ni points ({value})",
                     "en": "write it without spaces or dots ({value})"},
    "kind.code": {"fr": "code", "en": "code"},
    # Normalisation notes.
    "note.normalised": {"fr": "{column} : {count} valeur{count:s} normalisée{count:s} ({how} ; par exemple « "
                              "{example_from} » → « {example_to} ») : validata.fr refuserait le fichier tel quel",
                        "en": "{column}: {count} value{count:s} normalised ({how}; e.g. '{example_from}' → "
                              "'{example_to}'): validata.fr would refuse the file as is"},
    "note.rows-left-out": {"fr": "{count} ligne{count:s} retirée{count:s} ({how} ; la première : {example_from}) : "
                                 "validata.fr refuserait le fichier tel quel",
                           "en": "{count} {count:row|rows} left out ({how}; the first: {example_from}): validata.fr "
                                 "would refuse the file as is"},
    "how.blank-row": {"fr": "lignes vides", "en": "blank rows"},
    "how.repeated-header": {"fr": "en-tête répété", "en": "repeated header"},
    "example.left-out": {"fr": "retirée", "en": "left out"},
    "how.dates": {"fr": "dates JJ/MM/AAAA réécrites AAAA-MM-JJ",
                  "en": "dates written DD/MM/YYYY rewritten as YYYY-MM-DD"},
    "how.french-numbers": {"fr": "nombres à la française : espaces retirés, virgule décimale",
                           "en": "French number format: spaces removed, decimal comma"},
    # Personal data (quality/personal.py).
    "personal.email": {"fr": "des adresses e-mail personnelles", "en": "personal e-mail addresses"},
    "personal.phone": {"fr": "des numéros de téléphone", "en": "phone numbers"},
    "personal.nir": {"fr": "des numéros de sécurité sociale (NIR)", "en": "social security numbers (NIR)"},
    "personal.iban": {"fr": "des numéros de compte bancaire (IBAN)", "en": "bank account numbers (IBAN)"},
    "personal.person-name": {"fr": "des noms de particuliers (civilité + nom, ou prénom + nom)",
                             "en": "names of private persons (civility + name, or first name + name)"},
    "personal.block": {
        "fr": "colonne '{column}' : {count} ligne{count:s} {count:semble|semblent} contenir {what} (ligne{count:s} "
              "{rows}) ; publication bloquée. Si ce sont des données personnelles, écrivez dans le catalogue `quality: "
              "{{personal_data: {{{column}: drop}}}}` (ou `hash`) ; si elles peuvent être publiées, écrivez `{column}: "
              "keep`",
        "en": "column '{column}': {count} {count:row looks|rows look} like {what} (row{count:s} {rows}); publication "
              "is blocked. If this is personal data, write in the catalog `quality: "
              "{{personal_data: {{{column}: drop}}}}` (or `hash`); if it may be published, write `{column}: keep`"},
    "personal.warn": {
        "fr": "colonne '{column}' : {count} ligne{count:s} ({rows}) {count:contient|contiennent} peut-être {what} ; "
              "vérifiez que ce sont des contacts professionnels publiables",
        "en": "column '{column}': {count} {count:row|rows} ({rows}) may hold {what}; check they are professional "
              "contacts the producer may publish"},
    "personal.unknown-column": {
        "fr": "quality.personal_data nomme la colonne '{column}', absente du tableau : vérifiez son orthographe",
        "en": "quality.personal_data names column '{column}', which the table does not have: check its spelling"},
    "personal.dropped": {"fr": "{column} : colonne retirée avant publication (quality.personal_data: drop)",
                         "en": "{column}: column dropped before publication (quality.personal_data: drop)"},
    "personal.hashed": {
        "fr": "{column} : valeurs remplacées par leur empreinte SHA-256 salée (quality.personal_data: hash)",
        "en": "{column}: values replaced by their salted SHA-256 (quality.personal_data: hash)"},
    # Geography (quality/geography.py).
    "geo.lambert93": {
        "fr": "{where} ressemble à des coordonnées Lambert-93 (mètres, EPSG:2154) dans une colonne en degrés "
              "WGS84 : reprojetez en WGS84 (EPSG:4326)",
        "en": "{where} looks like Lambert-93 coordinates (metres, EPSG:2154) in a WGS84 degrees column: reproject to "
              "WGS84 (EPSG:4326)"},
    "geo.swapped": {"fr": "{where} : latitude et longitude semblent inversées (le point inversé est dans la zone)",
                    "en": "{where}: latitude and longitude look swapped (the swapped point is in the area)"},
    "geo.extent": {"fr": "{where} est hors de la zone attendue ({area})",
                   "en": "{where} is outside the expected area ({area})"},
    "geo.france": {"fr": "France et outre-mer", "en": "France with overseas territories"},
    "geo.duplicate": {"fr": "{where} est à moins de {metres} m du point de la ligne {other} (doublon ?)",
                      "en": "{where} is within {metres} m of the point of row {other} (duplicate?)"},
    "geo.invalid": {"fr": "géométrie invalide ({reason}) : réparez-la dans votre SIG",
                    "en": "invalid geometry ({reason}): repair it in your GIS"},
    "geo.unreadable": {"fr": "la géométrie n'est pas du GeoJSON lisible", "en": "the geometry is not readable GeoJSON"},
    # Metadata completeness (quality/completeness.py).
    "meta.missing-blocking": {
        "fr": "métadonnée '{field}' manquante : la publication est bloquée ; renseignez `metadata: {{{field}: …}}` "
              "dans le catalogue",
        "en": "metadata '{field}' is missing: publication is blocked; set `metadata: {{{field}: …}}` in the catalog"},
    "meta.missing": {"fr": "métadonnée '{field}' manquante : renseignez-la dans le catalogue (recommandé)",
                     "en": "metadata '{field}' is missing: fill it in in the catalog (recommended)"},
    "meta.score": {"fr": "complétude des métadonnées : {score} % ({filled}/{total} champs)",
                   "en": "metadata completeness: {score}% ({filled}/{total} fields)"},
    # Catalog expectations run by Great Expectations (quality/expectations.py).
    "gx.on-column": {"fr": " sur la colonne {column}", "en": " on column {column}"},
    "gx.could-not-run": {"fr": "l'attente du catalogue {expectation}{where} n'a pas pu s'exécuter ({error}) : "
                               "corrigez-la dans le catalogue",
                         "en": "catalog expectation {expectation}{where} could not run ({error}): fix it in the "
                               "catalog"},
    "gx.unexpected": {"fr": "l'attente du catalogue {expectation}{where} échoue : {count} valeur{count:s} ne la "
                            "respectent pas (par ex. {examples})",
                      "en": "catalog expectation {expectation}{where} failed: {count} {count:value does|values do} not "
                            "pass (e.g. {examples})"},
    "gx.failed": {"fr": "l'attente du catalogue {expectation}{where} échoue{observed}",
                  "en": "catalog expectation {expectation}{where} failed{observed}"},
    "gx.observed": {"fr": " (valeur observée : {observed})", "en": " (observed: {observed})"},
    # Reading the extract (quality/gate.py).
    "note.read-as-text": {"fr": "{column} : colonne de type {kind} lue comme du texte (les sources doivent écrire "
                                "du texte)",
                          "en": "{column}: {kind} column read as text (sources should write text)"},
    # Report pages (quality/report.py): titles, headings, column headers.
    "report.table": {"fr": "tableau", "en": "table"},
    "report.no-error": {"fr": "{name} : aucune erreur ({rows} ligne{rows:s} vérifiée{rows:s})",
                        "en": "{name}: no error ({rows} row{rows:s} checked)"},
    "report.errors": {"fr": "{name} : {count} erreur{count:s} ({rows} ligne{rows:s} vérifiée{rows:s})",
                      "en": "{name}: {count} error{count:s} ({rows} row{rows:s} checked)"},
    "report.schema": {"fr": "Schéma (Table Schema) : {schema}", "en": "Table Schema: {schema}"},
    "report.unnamed-schema": {"fr": "sans nom", "en": "unnamed"},
    "report.per-field": {"fr": "Erreurs par champ", "en": "Errors per field"},
    "report.first-errors": {"fr": "{count:La première erreur|Les {count} premières erreurs}",
                            "en": "{count:First error|First {count} errors}"},
    "report.warnings": {"fr": "Avertissements", "en": "Warnings"},
    "report.notes": {"fr": "Remarques", "en": "Notes"},
    "report.gx": {"fr": "Résultats Great Expectations", "en": "Great Expectations results"},
    "report.passed": {"fr": "réussie", "en": "ok"},
    "report.failed": {"fr": "échouée", "en": "failed"},
    "column.field": {"fr": "champ", "en": "field"},
    "column.error": {"fr": "erreur", "en": "error"},
    "column.rule": {"fr": "règle", "en": "rule"},
    "column.count": {"fr": "nombre", "en": "count"},
    "column.row": {"fr": "ligne", "en": "row"},
    "column.key": {"fr": "clé", "en": "key"},
    "column.value": {"fr": "valeur", "en": "value"},
    "column.message": {"fr": "message", "en": "message"},
    "column.expectation": {"fr": "attente", "en": "expectation"},
    "column.column": {"fr": "colonne", "en": "column"},
    "column.source": {"fr": "origine", "en": "from"},
    "column.result": {"fr": "résultat", "en": "result"},
    "column.unexpected": {"fr": "non conformes", "en": "unexpected"},
    "column.examples": {"fr": "exemples", "en": "examples"},
    # Prefect artifact and `moisson validate` (tasks/artifacts.py, moisson/cli.py).
    "report.full": {"fr": "Rapport complet", "en": "Full report"},
    "report.verdict-valid": {"fr": "{file} : {rows} ligne{rows:s}, valide", "en": "{file}: {rows} row{rows:s}, valid"},
    "report.verdict-normalised": {
        "fr": "{file} : {rows} ligne{rows:s}, valide après normalisation de {count} cellule{count:s} (validata.fr "
              "refuserait le fichier tel quel ; moisson publie les valeurs corrigées)",
        "en": "{file}: {rows} row{rows:s}, valid after normalising {count} cell{count:s} (validata.fr would refuse the "
              "file as is; moisson publishes the fixed values)"},
    "report.normalised": {"fr": "Cellules normalisées", "en": "Normalised cells"},
    "report.no-error-normalised": {
        "fr": "{name} : aucune erreur après normalisation de {count} cellule{count:s} ({rows} ligne{rows:s} "
              "vérifiée{rows:s})",
        "en": "{name}: no error after normalising {count} cell{count:s} ({rows} row{rows:s} checked)"},
    "column.from": {"fr": "exemple trouvé", "en": "example found"},
    "column.to": {"fr": "devenu", "en": "became"},
    "report.verdict-errors": {"fr": "{file} : {rows} ligne{rows:s}, {count} erreur{count:s}",
                              "en": "{file}: {rows} row{rows:s}, {count} error{count:s}"},
    # The HTML page (quality/report.py, quality/report_map.py).
    "report.page-title": {"fr": "Rapport de qualité — {title}", "en": "Quality report — {title}"},
    "report.skip": {"fr": "Aller au contenu", "en": "Skip to content"},
    "report.banner": {"fr": "Rapport de qualité des données", "en": "Data quality report"},
    "report.footer": {"fr": "Rapport écrit par moisson : les règles du schéma de données, comme validata.fr les "
                            "vérifie, puis les contrôles de publication (géographie, données personnelles, "
                            "métadonnées).",
                      "en": "Report written by moisson: the rules of the Table Schema, as validata.fr checks them, "
                            "then the publication checks (geography, personal data, metadata)."},
    "report.verdict": {"fr": "Contrôle qualité :", "en": "Quality check:"},
    "report.verdict-is-valid": {"fr": "valide. {rows:La ligne respecte|Les {rows} lignes respectent} toutes les règles "
                                      "contrôlées.",
                                "en": "valid. {rows:The row passes|All {rows} rows pass} every rule checked."},
    "report.verdict-is-normalised": {
        "fr": "valide après normalisation. {count} cellule{count:s} {count:a été mise|ont été mises} au format attendu "
              "(dates, nombres) ; validata.fr refuserait le fichier tel quel, moisson publie les valeurs corrigées.",
        "en": "valid after normalisation. {count} {count:cell was|cells were} rewritten in the expected form (dates, "
              "numbers); validata.fr would refuse the file as is, moisson publishes the fixed values."},
    "report.verdict-invalid": {"fr": "non valide. {count} erreur{count:s} sur {rows} ligne{rows:s}.",
                               "en": "invalid. {count} error{count:s} in {rows} row{rows:s}."},
    "report.verdict-blocked": {
        "fr": "bloqué. {count} erreur{count:s} sur {rows} ligne{rows:s} : cette version n'est pas publiée. Corrigez la "
              "source (les erreurs sont listées ci-dessous), puis relancez.",
        "en": "blocked. {count} error{count:s} in {rows} row{rows:s}: this version is not published. Fix the source "
              "(the errors are listed below), then run again."},
    "report.verdict-warned": {
        "fr": "non conforme, publié quand même (quality.on_failure: warn). {count} erreur{count:s} sur {rows} "
              "ligne{rows:s}.",
        "en": "not valid, published anyway (quality.on_failure: warn). {count} error{count:s} in {rows} row{rows:s}."},
    "report.fact-dataset": {"fr": "Identifiant du jeu de données", "en": "Dataset id"},
    "report.fact-schema": {"fr": "Schéma de données", "en": "Table Schema"},
    "report.fact-no-schema": {"fr": "aucun : seules les vérifications génériques ont été faites",
                              "en": "none: only generic checks ran"},
    "report.fact-rows": {"fr": "Lignes vérifiées", "en": "Rows checked"},
    "report.fact-errors": {"fr": "Erreurs", "en": "Errors"},
    "report.fact-warnings": {"fr": "Avertissements", "en": "Warnings"},
    "report.fact-normalised": {"fr": "Cellules normalisées", "en": "Normalised cells"},
    "report.version": {"fr": "version {version}", "en": "version {version}"},
    "report.pattern": {"fr": "'{value}' n'a pas la forme attendue.",
                       "en": "'{value}' does not have the expected form."},
    "report.pattern-item": {"fr": "un élément de '{value}' n'a pas la forme attendue.",
                            "en": "an item of '{value}' does not have the expected form."},
    "report.example": {"fr": "Exemple : {example}", "en": "Example: {example}"},
    "report.hint": {"fr": "({hint})", "en": "({hint})"},
    "report.reading": {"fr": "Lecture du fichier source", "en": "How the source file was read"},
    "report.map": {"fr": "Carte des points signalés", "en": "Map of the flagged points"},
    "report.map-caption": {
        "fr": "Points signalés par les contrôles géographiques : {errors} en erreur (cercles rouges), {warnings} en "
              "avertissement (cercles orange), parmi les {total} points du tableau (points gris), en longitude et "
              "latitude WGS84.",
        "en": "Points flagged by the geography checks: {errors} error{errors:s} (red circles), {warnings} "
              "warning{warnings:s} (orange circles), among the {total} points of the table (grey dots), in WGS84 "
              "longitude and latitude."},
    "report.map-sampled": {"fr": "Seuls {count} des points sans problème sont dessinés.",
                           "en": "Only {count} of the points without a problem are drawn."},
    "report.map-extent": {"fr": "Le cadre en tirets bleus est la zone attendue (quality.extent du catalogue).",
                          "en": "The dashed blue frame is the expected area (the catalog's quality.extent)."},
    "report.map-reprojected": {"fr": "Les points en Lambert-93 sont placés après reprojection en WGS84.",
                               "en": "Lambert-93 points are placed after reprojection to WGS84."},
    "report.map-unplaced": {"fr": "Points signalés sans coordonnées à placer : {count} (voir le tableau).",
                            "en": "Flagged points without coordinates to place: {count} (see the table)."},
    "report.map-table": {"fr": "Tableau des points signalés (alternative à la carte)",
                         "en": "Table of the flagged points (alternative to the map)"},
    "report.map-table-caption": {"fr": "{count:Le point signalé|Les {count} points signalés}",
                                 "en": "{count:The flagged point|The {count} flagged points}"},
    "report.map-point": {"fr": "ligne {row} : {message}", "en": "row {row}: {message}"},
    "report.technical": {"fr": "Détails techniques (Great Expectations)",
                         "en": "Technical details (Great Expectations)"},
    "report.technical-intro": {
        "fr": "Les codes d'erreur tels que frictionless et validata.fr les nomment, et les attentes Great Expectations "
              "tirées du schéma et du catalogue, vérifiées sur le tableau typé. Leurs échecs sont déjà comptés dans "
              "les erreurs ci-dessus.",
        "en": "The error codes as frictionless and validata.fr name them, and the Great Expectations expectations "
              "drawn from the schema and the catalog, checked on the typed table. Their failures are already "
              "counted in the errors above."},
    "report.codes": {"fr": "Codes d'erreur", "en": "Error codes"},
    "report.source-schema": {"fr": "schéma", "en": "schema"},
    "report.source-catalog": {"fr": "catalogue", "en": "catalog"},
    "report.gx-expect_column_to_exist": {"fr": "la colonne existe", "en": "the column exists"},
    "report.gx-expect_column_type_to_be": {"fr": "type de la colonne", "en": "column type"},
    "report.gx-expect_column_values_to_not_be_null": {"fr": "valeurs toutes renseignées",
                                                      "en": "no missing value"},
    "report.gx-expect_column_values_to_be_unique": {"fr": "valeurs uniques", "en": "unique values"},
    "report.gx-expect_column_values_to_be_in_set": {"fr": "valeurs de la liste autorisée",
                                                    "en": "values from the allowed list"},
    "report.gx-expect_column_values_to_match_regex": {"fr": "valeurs de la forme attendue",
                                                      "en": "values of the expected form"},
    "report.gx-expect_column_value_lengths_to_be_between": {"fr": "longueur des valeurs",
                                                            "en": "length of the values"},
    "report.gx-expect_column_values_to_be_json_parseable": {"fr": "valeurs JSON lisibles",
                                                            "en": "readable JSON values"},
    "report.gx-expect_compound_columns_to_be_unique": {"fr": "clé primaire unique", "en": "unique primary key"},
    "report.gx-expect_column_values_to_be_between": {"fr": "valeurs entre les bornes",
                                                     "en": "values within the bounds"},
    # Kinds of error in words (the codes stay in the technical details).
    "report.rule-type": {"fr": "valeur d'un autre type que celui attendu", "en": "value of the wrong type"},
    "report.rule-required": {"fr": "valeur obligatoire manquante", "en": "required value missing"},
    "report.rule-enum": {"fr": "valeur hors de la liste autorisée", "en": "value not in the allowed list"},
    "report.rule-pattern": {"fr": "valeur qui n'a pas la forme attendue", "en": "value not of the expected form"},
    "report.rule-minLength": {"fr": "valeur trop courte", "en": "value too short"},
    "report.rule-maxLength": {"fr": "valeur trop longue", "en": "value too long"},
    "report.rule-minimum": {"fr": "valeur sous le minimum", "en": "value below the minimum"},
    "report.rule-maximum": {"fr": "valeur au-dessus du maximum", "en": "value above the maximum"},
    "report.rule-exclusiveMinimum": {"fr": "valeur sous le minimum", "en": "value below the minimum"},
    "report.rule-exclusiveMaximum": {"fr": "valeur au-dessus du maximum", "en": "value above the maximum"},
    "report.rule-unique": {"fr": "valeur en double", "en": "duplicate value"},
    "report.rule-primaryKey": {"fr": "clé primaire vide ou en double", "en": "empty or duplicate primary key"},
    "report.rule-lambert93": {"fr": "coordonnées en Lambert-93 au lieu de degrés WGS84",
                              "en": "Lambert-93 coordinates instead of WGS84 degrees"},
    "report.rule-swapped": {"fr": "latitude et longitude inversées", "en": "latitude and longitude swapped"},
    "report.rule-extent": {"fr": "point hors de la zone attendue", "en": "point outside the expected area"},
    "report.rule-duplicate-point": {"fr": "points presque confondus (doublon ?)",
                                    "en": "points almost at the same place (duplicate?)"},
    "report.rule-geometry": {"fr": "géométrie illisible", "en": "unreadable geometry"},
    "report.rule-invalid-geometry": {"fr": "géométrie invalide", "en": "invalid geometry"},
    "report.type-missing-label": {"fr": "colonne manquante", "en": "missing column"},
    "report.type-extra-label": {"fr": "colonne inconnue du schéma", "en": "column unknown to the schema"},
    "report.type-duplicate-label": {"fr": "colonne en double", "en": "duplicate column"},
    "report.type-blank-row": {"fr": "ligne vide", "en": "blank row"},
    "report.type-extra-cell": {"fr": "ligne plus longue que l'en-tête", "en": "row longer than the header"},
    "report.type-missing-cell": {"fr": "ligne plus courte que l'en-tête", "en": "row shorter than the header"},
    "report.type-custom-check-error": {"fr": "contrôle Validata", "en": "Validata check"},
    "report.type-french-gps-coordinates": {"fr": "point hors de France", "en": "point outside France"},
    "report.type-reversed-french-gps-coordinates": {"fr": "latitude et longitude inversées",
                                                    "en": "latitude and longitude swapped"},
    "report.type-personal-data": {"fr": "données personnelles", "en": "personal data"},
    "report.type-metadata": {"fr": "métadonnée manquante", "en": "missing metadata"},
    "report.type-expectation-error": {"fr": "attente du catalogue non respectée",
                                      "en": "catalog expectation not met"},
    "report.type-primary-key": {"fr": "clé primaire", "en": "primary key"},
    "column.problem": {"fr": "problème", "en": "problem"},
    "column.how": {"fr": "transformation", "en": "rewrite"},
    "column.longitude": {"fr": "longitude", "en": "longitude"},
    "column.latitude": {"fr": "latitude", "en": "latitude"},
}


#: A form agreeing with a number: `{n:one|many}` (either may hold `{n}`), or `{n:s}` for a plural in "s".
_AGREEMENT = re.compile(r"\{(\w+):(s|(?:[^{}|]|\{\w+\})*\|(?:[^{}|]|\{\w+\})*)\}")
#: The keys whose templates hold such a form: the others are filled by `str.format` alone.
_AGREEING = {key for key, templates in CATALOG.items() if any(_AGREEMENT.search(t) for t in templates.values())}


def say(key: str, lang: Lang = DEFAULT_LANG, **values: object) -> str:
    """The sentence `key` in `lang`, filled with `values`, its words agreeing with the numbers they count.

    Raises:
        KeyError: Unknown key (a bug: every key used must be in `CATALOG`).
    """
    template = CATALOG[key][lang]
    if key in _AGREEING:
        template = _AGREEMENT.sub(lambda found: _agreeing(values[found[1]], found[2], lang), template)
    return template.format(**values)


def _agreeing(number: object, forms: str, lang: Lang) -> str:
    """The form of `forms` ("one|many", or "s") that agrees with `number` (`singular`)."""
    if not isinstance(number, numbers.Integral) or isinstance(number, bool):
        raise TypeError(f"{number!r} is not a whole number: a plural cannot agree with it")
    one, many = forms.split("|") if "|" in forms else ("", "s")
    return one if singular(int(number), lang) else many
