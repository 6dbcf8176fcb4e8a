"""Stream SQL result rows into a Parquet file of text columns, geometries to WGS84: shared by the database sources.

The GeoPackage and SQL sources differ in how they find layers and decode geometries, but
once a query is running they do the same thing: read it in chunks through a server-side
cursor, write every value as text, turn the geometry into the columns the catalog asks
for, and check the locator's `columns` against what the database has.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from moisson.connectors.base import DatasetDescriptor
from moisson.connectors.geo import GeometryOutput, GeometryStats, add_geometry_columns
from moisson.core.errors import ConfigError
from moisson.core.lazy import lazy
from moisson.core.notes import Note
from moisson.core.validation import described

# Catalogs read `RowsLocator`: pandas and pyarrow are imported only when rows are written.
if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq
    from sqlalchemy import CursorResult
else:
    pd, pa, pq = lazy("pandas"), lazy("pyarrow"), lazy("pyarrow.parquet")

#: Rows read, converted and written at a time: bounds memory whatever the table size (20,000 rows
#: cost ~60 MiB of working memory in the benchmark, 50,000 ~120 MiB, for the same speed).
CHUNK_ROWS = 20_000

Locator = TypeVar("Locator", bound=BaseModel)


class RowsLocator(BaseModel):
    """Locator keys every database source shares (`locator:` in the catalog).

    Attributes:
        columns: Columns to keep, in this order (default: every attribute). A column the
            geometry options write (such as `coordonneesxy`) may be listed to set its position.
        where: SQL filter, e.g. `etat = 'en service'`.
    """

    model_config = ConfigDict(extra="forbid")

    columns: list[str] | None = Field(None, min_length=1)
    where: str | None = None

    @field_validator("columns")
    @classmethod
    def _distinct(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and len(set(value)) < len(value):
            raise ValueError(f"une colonne est citée deux fois : {sorted({c for c in value if value.count(c) > 1})}")
        return value

    @field_validator("where")
    @classmethod
    def _single_statement(cls, value: str | None) -> str | None:
        if value is not None and ";" in value:
            raise ValueError("le filtre doit être une seule condition SQL, sans ';'")
        return value


def parse_locator(model: type[Locator], dataset: DatasetDescriptor, connector: str, keys: str) -> Locator:
    """Validate a dataset's locator, or raise one message naming the dataset and every wrong key.

    Args:
        model: The source's locator model.
        dataset: The dataset whose locator to read.
        connector: The source kind, for the message.
        keys: The keys the locator takes, in words, for the message.

    Raises:
        ConfigError: The locator does not fit `model`.
    """
    try:
        return model.model_validate(dict(dataset.locator))
    except ValidationError as exc:
        raise ConfigError(f"le `locator` est incorrect ({described(exc, model.model_fields)}) ; il prend {keys}",
                          dataset_id=dataset.id, connector=connector) from exc


@dataclass(frozen=True)
class ColumnPlan:
    """Which columns to read from the database and in which order to write them.

    Attributes:
        read: Attribute columns selected from the database, in reading order.
        order: Every written column (attributes and geometry outputs), in writing order.
        replaced: Database columns overwritten by values computed from the geometry.
    """

    read: list[str]
    order: list[str]
    replaced: list[str]

    def note(self) -> list[str]:
        """The sentence telling the data officer which columns were replaced, if any."""
        if not self.replaced:
            return []
        return [Note("geometry.replaced", columns=", ".join(self.replaced))]


def plan_columns(available: Sequence[str], wanted: Sequence[str] | None, outputs: Sequence[str],
                 what: str) -> ColumnPlan:
    """Check the locator's `columns` against the database's and plan reading and writing.

    Args:
        available: Attribute columns of the table, view or query (geometry excluded).
        wanted: The locator's `columns`, or `None` for every available column.
        outputs: Columns the geometry options write (empty without a geometry).
        what: The table, view or query, as the message should name it (`layer 'x'`).

    Raises:
        ConfigError: A wanted column exists neither in the database nor in `outputs`
            (the message lists the available columns; the caller adds the dataset).
    """
    chosen = list(wanted or available)
    unknown = [c for c in chosen if c not in available and c not in outputs]
    if unknown:
        raise ConfigError(f"{what} n'a pas de colonne {', '.join(map(repr, unknown))} ; ses colonnes sont : "
                          f"{', '.join(available)}. Corrigez `columns` dans le `locator` du jeu de données")
    replaced = [c for c in outputs if c in chosen and c in available]
    return ColumnPlan(read=[c for c in chosen if c not in outputs],
                      order=chosen + [c for c in outputs if c not in chosen], replaced=replaced)


def text_column(values: Sequence[Any]) -> Sequence[str | None]:
    """A column of database values as text, like `text` on each, without a call per value where possible.

    A driver gives one Python type per column (plus `None`): text columns pass through
    as they are and numbers go through `str` directly, which keeps million-row tables fast.
    """
    kinds = set(map(type, values)) - {type(None)}
    if kinds <= {str}:
        return values
    if kinds <= {int} or kinds <= {float}:
        return [None if v is None else str(v) for v in values]
    return list(map(text, values))


def text(value: Any) -> str | None:
    """A database value as the text the quality stage casts.

    Integers stay `12` (never `12.0`), booleans `true`/`false` (the Table Schema
    defaults), dates and times ISO 8601, JSON values compact JSON, bytes hexadecimal.
    """
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


@dataclass(frozen=True)
class GeometryRead:
    """How to turn the last selected column of each row into WGS84 text columns.

    Attributes:
        to_wkb: Returns the standard WKB of one database value (`b""` for damaged data,
            which counts as unreadable; `None` for a missing geometry).
        crs: CRS of that WKB (`4326` when the database already converted it).
        output: Which text columns to write.
    """

    to_wkb: Callable[[Any], bytes | None]
    crs: int | str
    output: GeometryOutput


def write_parquet(result: CursorResult[Any], path: Path, columns: ColumnPlan, geometry: GeometryRead | None,
                  stats: GeometryStats) -> int:
    """Write a running query into `path`, one row group per chunk of `CHUNK_ROWS`; return the row count.

    Args:
        result: A query selecting `columns.read`, then the geometry when `geometry` is given,
            executed with `stream_results` so that the driver does not hold every row.
        path: The Parquet file to write.
        columns: The columns plan.
        geometry: How to convert the geometry, or `None` for a table without one.
        stats: Geometry counters to update.
    """
    schema = pa.schema([(name, pa.string()) for name in columns.order])
    rows = 0
    with pq.ParquetWriter(path, schema) as writer:
        for chunk in result.partitions(CHUNK_ROWS):
            values = list(zip(*chunk, strict=True))
            frame = pd.DataFrame({name: text_column(values[i]) for i, name in enumerate(columns.read)},
                                 index=pd.RangeIndex(len(chunk)))
            if geometry is not None:
                wkb = [geometry.to_wkb(v) for v in values[len(columns.read)]]
                add_geometry_columns(frame, wkb, geometry.crs, geometry.output, stats)
            writer.write_table(pa.Table.from_pandas(frame[columns.order], schema=schema, preserve_index=False))
            rows += len(chunk)
    return rows
