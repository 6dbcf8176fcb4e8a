"""The table to publish: the cells as text, in the Table Schema's layout and representation.

Typed values serve the checks only. Written back, they are no longer what the schema describes nor what the
producer wrote (`non` becomes `false`, `13760` becomes `13760.0`), so the published cell is the source's own
text — already in the field's representation when it passed the checks —, or the text normalisation put in its
place (a French date or number), or the schema's first missing value for an empty cell.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Literal

import pandas as pd

from moisson.quality.cast import TEXT, keep_where
from moisson.quality.messages import DEFAULT_LANG, Lang
from moisson.quality.schema import REGISTRY, TableSchemaRef

ExtraColumns = Literal["keep", "drop"]

NOTES: dict[str, dict[Lang, str]] = {
    "added": {"fr": "colonnes facultatives du schéma national absentes de la source, publiées vides : {columns}",
              "en": "optional columns of the national schema missing from the source, published empty: {columns}"},
    "dropped": {"fr": "colonnes inconnues du schéma laissées hors du fichier publié (extra_columns: drop) : "
                      "{columns}",
                "en": "columns unknown to the schema left out of the published file (extra_columns: drop): "
                      "{columns}"},
}


def national(schema: TableSchemaRef) -> bool:
    """Whether the schema is a schema.data.gouv.fr one (by name or URL), whose full layout consolidations expect."""
    return "/" in (schema.name or "") or schema.source.startswith(REGISTRY)


def published_table(source: pd.DataFrame, schema: TableSchemaRef, text: pd.DataFrame, *,
                    rewritten: Collection[str] = (), geometry: str | None = None,
                    extra_columns: ExtraColumns = "keep",
                    lang: Lang = DEFAULT_LANG) -> tuple[pd.DataFrame, list[str]]:
    """Lay out the text cells to publish (without a schema, the source's columns are published as they are).

    Args:
        source: The extract's columns as read (text, nulls for empty cells), one per label.
        schema: The dataset's Table Schema.
        text: The schema fields present in `source` after normalisation, missing values as nulls.
        rewritten: Fields whose French dates or numbers normalisation rewrote (their cells come from `text`).
        geometry: Column of geometries, kept whatever `extra_columns` says.
        extra_columns: Keep the columns the schema does not know (after its own) or drop them.
        lang: Language of the notes.

    Returns:
        The table of text columns, and notes saying which columns were added or left out.
    """
    missing = schema.missing_values[0] if schema.missing_values else ""
    names = [f.name for f in schema.fields]
    columns: dict[str, pd.Series] = {}
    added = []
    for spec in schema.fields:
        if spec.name in text.columns:
            cells = text[spec.name] if spec.name in rewritten else source[spec.name]
            columns[spec.name] = keep_where(cells.astype(TEXT), text[spec.name].notna().to_numpy(bool), missing)
        elif not spec.required and national(schema):
            columns[spec.name] = pd.Series(missing, index=source.index, dtype=TEXT)
            added.append(spec.name)
    extras = [c for c in source.columns if c not in names]
    dropped = [c for c in extras if c != geometry] if extra_columns == "drop" else []
    columns.update({c: source[c] for c in extras if c not in dropped})
    notes = [NOTES[key][lang].format(columns=", ".join(found)) for key, found in (("added", added),
                                                                                   ("dropped", dropped)) if found]
    return pd.DataFrame(columns, index=source.index), notes
