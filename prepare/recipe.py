"""A preparation recipe: the `prepare:` block of a dataset, keyed by target schema field.

Checked statically when the catalog loads (unknown operation, bad date format, bad regular expression);
`check_recipe` adds what needs the schema (unknown field) and the source header (unknown column).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import re2
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from moisson.prepare.geocode import GeocodeStep

#: strftime/strptime directives Arrow's parser understands (a recipe's `parse.date` may use only these).
DATE_DIRECTIVES = set("dmyYHMSIpbBaAjzZfe%")
PLACEHOLDER = re.compile(r"\{(organization|dataset)\.([a-z_]+)\}")
#: The placeholders a `const` may use.
PLACEHOLDER_KEYS = {"organization": {"name", "siren", "siret", "insee"}, "dataset": {"id", "title"}}

#: A source column: its header text, or its 0-based position in the file.
Column = str | int


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Organization(_Strict):
    """The publishing organisation, which `{organization.*}` placeholders of `const` rules name.

    Attributes:
        name: Its name (`Commune de Moisson-sur-Lys`).
        siren: SIREN (9 digits).
        siret: SIRET of its head office (14 digits).
        insee: INSEE code of the commune (5 characters).
    """

    name: str | None = None
    siren: str | None = Field(None, pattern=r"^\d{9}$")
    siret: str | None = Field(None, pattern=r"^\d{14}$")
    insee: str | None = Field(None, pattern=r"^[0-9][0-9AB][0-9]{3}$")


class Parse(_Strict):
    """How to read a source text into the schema's form (applied in this order: trim, case, date/number/boolean).

    Attributes:
        trim: Strip spaces around the text.
        case: Rewrite the letters' case.
        date: strptime format of the source (`%d/%m/%Y`); rewritten in the field's format (ISO by default).
        decimal: Decimal mark of the source (`,`), rewritten as a dot.
        group: Thousands separator of the source (` `), removed (non-breaking spaces too).
        true: Source texts meaning true (rewritten as the field's first true value).
        false: Source texts meaning false.
    """

    trim: bool = False
    case: Literal["lower", "upper", "title"] | None = None
    date: str | None = None
    decimal: str | None = Field(None, min_length=1, max_length=1)
    group: str | None = Field(None, min_length=1, max_length=1)
    true: list[str] = Field(default_factory=list)
    false: list[str] = Field(default_factory=list)

    @field_validator("date")
    @classmethod
    def _date(cls, value: str | None) -> str | None:
        if value is None:
            return None
        directives = re.findall(r"%(.)", value)
        unknown = sorted(set(directives) - DATE_DIRECTIVES)
        if not directives or unknown:
            raise ValueError(f"le format de date {value!r} n'est pas un format strptime comme '%d/%m/%Y'"
                             + (f" (directive inconnue %{unknown[0]})" if unknown else ""))
        return value


class Split(_Strict):
    """Keep one part of a text cut at a separator (0-based `index`; an absent part is empty)."""

    sep: str = Field(min_length=1)
    index: int = Field(0, ge=0)


class FieldRule(_Strict):
    """How one schema field is made. One source (`from`, `const` or `concat`), then the transforms in order.

    Order: source → split → extract → parse (trim, case) → map → parse (date, number, boolean) → default.

    Attributes:
        from_: Source column (header text, or 0-based position).
        const: Constant text; `{organization.siret}`, `{dataset.id}`… are replaced.
        concat: Source columns joined with `sep` (empty cells skipped).
        sep: Separator of `concat`.
        split: Keep one part of the text.
        extract: RE2 regular expression; the first group (or the whole match) is kept, no match gives empty.
        parse: Trimming, case, dates, numbers, booleans.
        map: Source value → schema value.
        unmapped: What a value missing from `map` becomes: an error (kept and reported), kept, or emptied.
        default: Value of empty cells.
    """

    from_: Column | None = Field(None, alias="from")
    const: str | None = None
    concat: list[Column] | None = Field(None, min_length=1)
    sep: str = " "
    split: Split | None = None
    extract: str | None = None
    parse: Parse | None = None
    map: dict[str, str] | None = None
    unmapped: Literal["error", "keep", "empty"] = "error"
    default: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> FieldRule:
        given = [k for k in ("from", "const", "concat") if getattr(self, "from_" if k == "from" else k) is not None]
        if len(given) > 1:
            raise ValueError(f"un champ a une seule origine, pas {' et '.join(given)} : gardez-en une")
        if not given and self.default is None:
            raise ValueError("indiquez d'où vient le champ : `from`, `const` ou `concat` (ou donnez un `default`)")
        return self

    @field_validator("extract")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re2.compile(value)
            except re2.error as exc:
                raise ValueError(f"l'expression régulière {value!r} n'est pas une expression RE2 valide "
                                 f"({exc})") from None
        return value

    @field_validator("map", mode="before")
    @classmethod
    def _map_texts(cls, value: object) -> object:
        # YAML reads Oui/Non/yes as booleans and 1 as a number: a map is text to text.
        if isinstance(value, dict):
            return {_yaml_text(k): _yaml_text(v) for k, v in value.items()}
        return value

    @property
    def columns(self) -> list[Column]:
        """The source columns this rule reads."""
        if self.from_ is not None:
            return [self.from_]
        return list(self.concat or [])


class Filter(_Strict):
    """Keep the rows whose source `column` is among `in` (or not among `not_in`)."""

    column: Column
    in_: list[str] | None = Field(None, alias="in")
    not_in: list[str] | None = None

    @model_validator(mode="after")
    def _one_test(self) -> Filter:
        if (self.in_ is None) == (self.not_in is None):
            raise ValueError("un filtre indique soit `in`, soit `not_in` : un seul des deux")
        return self

    @field_validator("in_", "not_in", mode="before")
    @classmethod
    def _texts(cls, value: object) -> object:
        return [_yaml_text(v) for v in value] if isinstance(value, list) else value


class RowRules(_Strict):
    """Rules on whole rows; every dropped row is counted in the report.

    Attributes:
        filter: Source-column tests, applied first.
        drop_if_empty: Schema fields whose empty cell drops the row.
        unique: Schema fields making a key: of rows sharing it, the last is kept.
    """

    filter: list[Filter] = Field(default_factory=list)
    drop_if_empty: list[str] = Field(default_factory=list)
    unique: list[str] = Field(default_factory=list)


class Recipe(_Strict):
    """The `prepare:` block of a dataset.

    Attributes:
        fields: Schema field → rule. A field without a rule takes the source column of the same name, if any.
        rows: Row rules.
        keep_unmapped: Also publish the source columns no rule reads (else they are listed as left out).
        header: Fingerprint of the source header the recipe was made for (`moisson prepare suggest` writes it).
        on_failure: When a rule cannot run (a column it reads is gone, a value its map does not know):
            `block` publishes nothing, `warn` publishes what the other rules made.
        geocode: Coordinates from the address columns, written to `into` before the field rules
            (a field without a rule takes them, as any column of its name).
    """

    fields: dict[str, FieldRule] = Field(default_factory=dict)
    rows: RowRules = Field(default_factory=RowRules)
    keep_unmapped: bool = False
    header: str | None = None
    on_failure: Literal["block", "warn"] = "block"
    geocode: GeocodeStep | None = None


@dataclass(frozen=True)
class Problem:
    """A recipe error with its key path inside the `prepare:` block."""

    path: tuple[str | int, ...]
    message: str


def header_fingerprint(columns: Sequence[str]) -> str:
    """A short, order-sensitive fingerprint of a source header."""
    return "sha256:" + hashlib.sha256("\x1f".join(columns).encode()).hexdigest()[:16]


def check_recipe(recipe: Recipe, fields: Sequence[str], columns: Sequence[str] | None = None) -> list[Problem]:
    """Problems of a recipe against its schema's field names and, when known, the source header."""
    known = set(fields)
    problems = [Problem(("fields", name), f"{name!r} n'est pas un champ du schéma ; ses champs : "
                        f"{', '.join(fields)}")
                for name in recipe.fields if name not in known]
    for key in ("drop_if_empty", "unique"):
        problems += [Problem(("rows", key, i), f"{name!r} n'est pas un champ du schéma")
                     for i, name in enumerate(getattr(recipe.rows, key)) if name not in known]
    for name, rule in recipe.fields.items():
        if rule.const is not None:
            problems += [Problem(("fields", name, "const"), f"variable inconnue {{{m.group(1)}.{m.group(2)}}}")
                         for m in PLACEHOLDER.finditer(rule.const) if m.group(2) not in PLACEHOLDER_KEYS[m.group(1)]]
    if columns is not None:
        problems += [Problem(path, message) for path, message in missing_columns(recipe, columns)]
    return problems




def missing_columns(recipe: Recipe, columns: Sequence[str]) -> list[tuple[tuple[str | int, ...], str]]:
    """Key paths of the rules reading a column the source header lacks, with a message naming it."""
    out = []
    for name, rule in recipe.fields.items():
        key = "from" if rule.from_ is not None else "concat"
        out += [(("fields", name, key), _absent(col, columns)) for col in rule.columns if not _present(col, columns)]
    out += [(("rows", "filter", i, "column"), _absent(f.column, columns))
            for i, f in enumerate(recipe.rows.filter) if not _present(f.column, columns)]
    return out


def _present(column: Column, columns: Sequence[str]) -> bool:
    return column < len(columns) if isinstance(column, int) else column in columns


def _absent(column: Column, columns: Sequence[str]) -> str:
    if isinstance(column, int):
        return f"la source a {len(columns)} colonnes, aucune à la position {column}"
    return f"la source n'a pas de colonne {column!r} ; ses colonnes : {', '.join(columns)}"


def _yaml_text(value: object) -> object:
    if isinstance(value, bool):
        raise ValueError(f"YAML a lu {value} comme un booléen (yes/no/true/false/on/off) : "
                         "mettez le texte entre guillemets")
    return str(value) if isinstance(value, int | float) else value
