"""Propose a recipe: for each schema field, the source column that best fits it, with the reasons.

A column's score mixes how much its header looks like the field (name, title, description after accent and
case folding, fuzzy-matched by rapidfuzz) and how much its content agrees with the field (type, pattern,
format, enum, SIRET/SIREN check digits by frformat), measured on a sample once the proposed `parse`/`map`
is applied. Columns are then given to fields one to one, best pairs first; a field no column fits above
`THRESHOLD` gets no rule, and a required one is listed in `unmapped_required` (never a silent partial
mapping). Publisher fields the file lacks get a `const` from the catalog's `organization`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from frformat import Siren, Siret
from rapidfuzz import fuzz, process

from moisson.prepare.recipe import header_fingerprint
from moisson.quality.schema import FieldSpec, TableSchemaRef

THRESHOLD = 0.6
SAMPLE_ROWS = 2000
#: Date layouts tried on a column, most common in French files first.
DATE_FORMATS = ("%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%d/%m/%y", "%Y/%m/%d", "%Y%m%d")
DATETIME_FORMATS = ("%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%Y-%m-%d %H:%M:%S")
ISO_DATE = r"^\d{4}-\d{2}-\d{2}$"
ISO_DATETIME = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$"
TRUE_TEXTS = {"oui", "o", "yes", "y", "vrai", "true", "1", "x"}
FALSE_TEXTS = {"non", "n", "no", "faux", "false", "0"}
#: Words of a field's name or title that say it describes the publisher, not a row.
PUBLISHER_WORDS = ("attribuant", "collectivite", "coll", "producteur", "publisher", "orga", "acheteur")
#: Which organisation value a publisher field wants, by a word of its name or title (checked in this order).
PUBLISHER_VALUES = (("siret", "siret"), ("siren", "siren"), ("insee", "insee"), ("id", "siret"),
                    ("nom", "name"), ("name", "name"), ("orga", "name"))


@dataclass
class Candidate:
    """A source column for a field, its score and why."""

    column: str
    score: float
    reasons: list[str]
    rule: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"column": self.column, "score": round(self.score, 3), "reasons": self.reasons}


@dataclass
class Suggestion:
    """What `suggest` proposes for a dataset."""

    dataset: str
    schema: str
    fields: dict[str, dict[str, Any]]
    unmapped_required: list[str]
    unused_columns: list[str]
    header: str

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of `moisson prepare suggest --json`."""
        return {"dataset": self.dataset, "schema": self.schema, "fields": self.fields,
                "unmapped_required": self.unmapped_required, "unused_columns": self.unused_columns}

    def recipe(self) -> dict[str, Any]:
        """The `prepare:` block to write (fields with a rule only; the header fingerprint it was made for)."""
        rules = {name: f["rule"] for name, f in self.fields.items() if f["rule"] is not None}
        return {"header": self.header, "fields": rules}


def fold(text: str) -> str:
    """Accent- and case-folded words: `Montant accordé (€)` → `montant accorde`, `nomBenef` → `nom benef`."""
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", text)
    bare = unicodedata.normalize("NFKD", spaced).encode("ascii", "ignore").decode()
    return " ".join(re.findall(r"[a-z0-9]+", bare.lower()))


def fingerprint(text: str) -> str:
    """OpenRefine's key: folded words, deduplicated and sorted."""
    return " ".join(sorted(set(fold(text).split())))


def suggest(table: pa.Table, schema: TableSchemaRef, *, dataset: str,
            organization: Mapping[str, str | None] | None = None) -> Suggestion:
    """Propose a rule per schema field for the extract `table` (text columns).

    Args:
        table: The extract.
        schema: The dataset's Table Schema.
        dataset: Dataset id, named in the answer.
        organization: The catalog's `defaults.organization`, for publisher constants.
    """
    columns = [str(c) for c in table.column_names]
    sample = table.slice(0, SAMPLE_ROWS)
    values = {name: _values(sample.column(i)) for i, name in enumerate(columns)}
    descriptors = {f["name"]: f for f in schema.descriptor.get("fields", [])}
    specs = schema.fields
    if [s.name for s in specs] == columns[: len(specs)] or set(columns) >= {s.name for s in specs}:
        return _identity(schema, dataset, columns)
    scored: dict[str, list[Candidate]] = {}
    for spec in specs:
        labels = _labels(descriptors[spec.name])
        scored[spec.name] = sorted((_candidate(spec, labels, col, values[col]) for col in columns),
                                   key=lambda c: -c.score)
    chosen = _assign(scored)
    fields: dict[str, dict[str, Any]] = {}
    unmapped: list[str] = []
    for spec in specs:
        best = chosen.get(spec.name)
        top = [c.to_dict() for c in scored[spec.name][:3]]
        rule: dict[str, Any] | None = best.rule if best else None
        confidence = best.score if best else 0.0
        if best is None:
            const = _publisher_const(spec.name, descriptors[spec.name], organization or {})
            if const:
                rule, confidence = {"const": const}, 0.8
                why = f"champ de l'éditeur absent du fichier : {const} du catalogue"
                top = [{"column": None, "score": 0.8, "reasons": [why]}, *top]
        if rule is None and spec.required:
            unmapped.append(spec.name)
        fields[spec.name] = {"rule": rule, "confidence": round(confidence, 3), "candidates": top[:3]}
    used = {c.column for c in chosen.values()}
    return Suggestion(dataset=dataset, schema=_schema_label(schema), fields=fields, unmapped_required=unmapped,
                      unused_columns=[c for c in columns if c not in used], header=header_fingerprint(columns))


def _identity(schema: TableSchemaRef, dataset: str, columns: list[str]) -> Suggestion:
    """The file already has every field's column: each field from its own name, confidence 1."""
    names = [s.name for s in schema.fields]
    fields = {n: {"rule": {"from": n}, "confidence": 1.0,
                  "candidates": [{"column": n, "score": 1.0, "reasons": ["en-tête identique au nom du champ"]}]}
              for n in names}
    return Suggestion(dataset=dataset, schema=_schema_label(schema), fields=fields, unmapped_required=[],
                      unused_columns=[c for c in columns if c not in names], header=header_fingerprint(columns))


def _schema_label(schema: TableSchemaRef) -> str:
    return f"{schema.name}@{schema.version}" if schema.version else str(schema.name)


def _labels(descriptor: Mapping[str, Any]) -> dict[str, str]:
    return {kind: fold(str(descriptor[key])) for kind, key in (("nom", "name"), ("titre", "title"),
                                                                ("description", "description"))
            if descriptor.get(key)}


def _values(column: pa.ChunkedArray) -> pa.Array:
    """Non-empty trimmed texts of a sample column."""
    array = pc.utf8_trim_whitespace(pc.cast(column.combine_chunks(), pa.string()))
    return pc.filter(array, pc.fill_null(pc.not_equal(array, ""), False))


def _candidate(spec: FieldSpec, labels: Mapping[str, str], column: str, values: pa.Array) -> Candidate:
    header, why = _header_score(labels, column)
    reasons = [why] if why else []
    rule: dict[str, Any] = {"from": column}
    content, informative = 0.0, False
    if len(values):
        content, informative, notes, extra = _content(spec, values, labels)
        reasons += notes
        rule.update(extra)
    if column == spec.name:
        return Candidate(column, 1.0, ["en-tête identique au nom du champ", *reasons[1:]], {"from": column})
    # A free-text field (not informative): only the header can tell, lengths out of bounds count against.
    # Content agreement counts less under a header that looks nothing like the field (a letters-only pattern
    # fits `Oui`): SIRETs under an odd header still win, a yes/no column is no street name.
    if informative:
        score = 0.55 * header + 0.45 * content * min(1.0, 0.4 + header)
    else:
        score = header * (0.95 * content if len(values) else 0.9)
    return Candidate(column, score, reasons, rule)


def _header_score(labels: Mapping[str, str], column: str) -> tuple[float, str | None]:
    folded = fold(column)
    best, why = 0.0, None
    for kind, label in labels.items():
        weight = 0.7 if kind == "description" else 1.0
        score = weight * fuzz.token_sort_ratio(folded, label) / 100
        if kind != "description" and folded and len(folded) >= 3 and (folded in label or label in folded):
            score = max(score, 0.75)
        if score > best:
            best, why = score, f"en-tête ≈ {kind} du champ ({round(100 * score)} %)"
    return best, why if best >= 0.4 else None


def _content(spec: FieldSpec, values: pa.Array, labels: Mapping[str, str],
             ) -> tuple[float, bool, list[str], dict[str, Any]]:
    """Share of sample values passing the field (after the proposed parse or map), and what to add to the rule."""
    extra: dict[str, Any] = {}
    notes: list[str] = []
    texts = values
    if spec.type in ("date", "datetime"):
        iso = pc.mean(pc.match_substring_regex(values, ISO_DATETIME if spec.type == "datetime" else ISO_DATE))
        layout, share = _date_layout(values, DATETIME_FORMATS if spec.type == "datetime" else DATE_FORMATS)
        if (iso.as_py() or 0.0) >= share:
            share = iso.as_py() or 0.0
        elif layout:
            extra["parse"] = {"date": layout}
            notes.append(f"dates au format {layout}")
        return share, True, [*notes, f"{round(100 * share)} % de dates"] if share else notes, extra
    if spec.type in ("number", "integer"):
        share, parse = _numbers(values, spec.type)
        if parse:
            extra["parse"] = parse
            notes.append("nombres à la française (virgule décimale)")
        return share, True, notes + ([f"{round(100 * share)} % de nombres"] if share else []), extra
    if spec.type == "boolean":
        folded = pc.utf8_lower(values)
        yes, no = pc.is_in(folded, pa.array(sorted(TRUE_TEXTS))), pc.is_in(folded, pa.array(sorted(FALSE_TEXTS)))
        share = pc.mean(pc.or_(yes, no)).as_py() or 0.0
        distinct = set(pc.unique(values).to_pylist())
        if distinct - set(spec.true_values) - set(spec.false_values):
            extra["parse"] = {"true": sorted(v for v in distinct if v.lower() in TRUE_TEXTS),
                              "false": sorted(v for v in distinct if v.lower() in FALSE_TEXTS)}
        return share, True, [f"{round(100 * share)} % de oui/non"], extra
    enum = spec.constraints.get("enum")
    if enum:
        share, mapping = _enum_overlap(values, [str(e) for e in enum])
        if mapping:
            extra["map"] = mapping
            notes.append(f"vocabulaire rapproché de l'enum ({len(mapping)} valeurs)")
        return share, True, [*notes, f"{round(100 * share)} % des valeurs dans l'enum"], extra
    checks = []
    pattern = spec.constraints.get("pattern")
    if pattern:
        regex = _re2_pattern(str(pattern))
        if regex is not None:
            checks.append(pc.match_substring_regex(texts, regex))
            notes.append("motif du champ")
    if spec.format == "email":
        checks.append(pc.match_substring_regex(texts, r"^[^@\s]+@[^@\s]+\.[a-zA-Z]+$"))
    elif spec.format == "uri":
        checks.append(pc.match_substring_regex(texts, r"^https?://"))
    lengths = [test(pc.utf8_length(texts), int(spec.constraints[name]))
               for name, test in (("minLength", pc.greater_equal), ("maxLength", pc.less_equal))
               if name in spec.constraints]
    kind = _identifier_kind(spec, labels)
    if kind is not None:
        checker = {"siret": Siret(), "siren": Siren()}[kind]
        checks.append(pa.array([checker.is_valid(v) for v in pc.unique(texts).to_pylist()]).take(
            pc.index_in(texts, pc.unique(texts))))
        notes.append(f"numéros {kind.upper()} valides (frformat)")
    if not checks:
        # Lengths alone say little about a column (any short text fits): they only count against it.
        share = _share(lengths) if lengths else 1.0
        return share, False, [] if share == 1.0 else [f"{round(100 * share)} % des longueurs admises"], extra
    share = _share(checks + lengths)
    notes = [f"{round(100 * share)} % des valeurs respectent les contraintes ({', '.join(notes)})"]
    return share, True, notes, extra


def _share(checks: Sequence[pa.Array]) -> float:
    passing = checks[0]
    for check in checks[1:]:
        passing = pc.and_(passing, check)
    return pc.mean(passing).as_py() or 0.0


def _identifier_kind(spec: FieldSpec, labels: Mapping[str, str]) -> str | None:
    """SIRET or SIREN, when the field's name or title says so or its pattern is 14 digits."""
    words = f"{labels.get('nom', '')} {labels.get('titre', '')}".split()
    pattern = str(spec.constraints.get("pattern", ""))
    if "siret" in words or ("14" in pattern and "d" in pattern):
        return "siret"
    if "siren" in words:
        return "siren"
    return None


def _date_layout(values: pa.Array, layouts: Sequence[str]) -> tuple[str | None, float]:
    best, share = None, 0.0
    for layout in layouts:
        parsed = pc.strptime(values, format=layout, unit="s", error_is_null=True)
        ok = 1 - parsed.null_count / len(values)
        if ok > share:
            best, share = layout, ok
    return best, share


def _numbers(values: pa.Array, kind: str) -> tuple[float, dict[str, str] | None]:
    digits = r"[+-]?\d+" if kind == "integer" else r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?"
    plain = pc.mean(pc.match_substring_regex(values, f"^{digits}$")).as_py() or 0.0
    french = pc.mean(pc.match_substring_regex(values, r"^[+-]?\d{1,3}([  \x{202F}]?\d{3})*(,\d+)?$")).as_py() or 0.0
    if french > plain:
        grouped = pc.any(pc.match_substring_regex(values, r"\d[  \x{202F}]\d{3}")).as_py()
        return french, {"decimal": ",", **({"group": " "} if grouped else {})}
    return plain, None


def _enum_overlap(values: pa.Array, enum: Sequence[str]) -> tuple[float, dict[str, str]]:
    """Share of values that are in the enum once mapped, and the map of the near misses."""
    counts = pc.value_counts(values)
    distinct, hits = counts.field("values").to_pylist(), counts.field("counts").to_pylist()
    keys = {fingerprint(e): e for e in enum}
    folded = [fold(e) for e in enum]
    mapping: dict[str, str] = {}
    matched = 0
    for value, count in zip(distinct, hits, strict=True):
        if value in enum:
            matched += count
            continue
        target = keys.get(fingerprint(value))
        if target is None:
            found = process.extractOne(fold(value), folded, scorer=fuzz.WRatio, score_cutoff=85)
            target = enum[found[2]] if found else None
        if target is not None:
            mapping[value] = target
            matched += count
    return matched / max(sum(hits), 1), mapping


def _re2_pattern(pattern: str) -> str | None:
    """A Table Schema pattern (whole-value match, JavaScript escapes) in RE2 syntax."""
    converted = re.sub(r"\\u([0-9a-fA-F]{4})", r"\\x{\1}", pattern)
    try:
        pc.match_substring_regex(pa.array(["x"]), f"^(?:{converted})$")
    except pa.ArrowInvalid:
        return None
    return f"^(?:{converted})$"


def _assign(scored: Mapping[str, list[Candidate]]) -> dict[str, Candidate]:
    """One column per field, best pairs first, above the threshold."""
    pairs = sorted(((c.score, field, c) for field, cands in scored.items() for c in cands if c.score >= THRESHOLD),
                   key=lambda p: -p[0])
    chosen: dict[str, Candidate] = {}
    taken: set[str] = set()
    for _, field, cand in pairs:
        if field in chosen or cand.column in taken:
            continue
        chosen[field] = cand
        taken.add(cand.column)
    return chosen


def _publisher_const(name: str, descriptor: Mapping[str, Any], organization: Mapping[str, str | None]) -> str | None:
    words = fold(f"{name} {descriptor.get('title', '')}").split()
    # An alternative identifier (`id_alt_orga`: the RNA of an association) is precisely not the SIRET.
    if not any(w.startswith(p) for w in words for p in PUBLISHER_WORDS) or {"alt", "alternatif", "autre"} & set(words):
        return None
    for word, key in PUBLISHER_VALUES:
        if any(w.startswith(word) for w in words) and organization.get(key):
            return f"{{organization.{key}}}"
    return None

