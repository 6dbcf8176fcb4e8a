"""GeoPackage source: each feature or attribute table of a `.gpkg` file, read-only, to Parquet in WGS84."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote

from pydantic import BaseModel, Field

from moisson.connectors.base import ConnectorConfig, DatasetDescriptor, Extract
from moisson.connectors.geo import GeometryOutput, GeometryStats, transformer_to_wgs84
from moisson.connectors.sqlrows import ColumnPlan, GeometryRead, RowsLocator, parse_locator, plan_columns, write_parquet
from moisson.core.errors import ConfigError, ConnectorError, NotFoundError, RejectedError
from moisson.core.ids import unique_slugs
from moisson.core.lazy import lazy
from moisson.core.metadata import DatasetMetadata, Spatial
from moisson.core.notes import Note

# The catalog reads the `Config` and `Locator`: SQLAlchemy and PROJ are imported only when the file is opened.
if TYPE_CHECKING:
    import pyproj
    import sqlalchemy
    from sqlalchemy import Connection
else:
    pyproj, sqlalchemy = lazy("pyproj"), lazy("sqlalchemy")

GPKG_APPLICATION_ID = 0x47504B47  # "GPKG" in `PRAGMA application_id`
#: srs_id values the GeoPackage standard reserves for "undefined" (cartesian, geographic).
UNDEFINED_SRS = (-1, 0)
# Envelope indicator (flags bits 1-3) → number of doubles: none, xy, xyz, xym, xyzm.
_ENVELOPE_DOUBLES = (0, 4, 6, 6, 8)
_HOW_TO_SET_CRS = ("définissez-le dans QGIS (Propriétés de la couche › Source › Système de coordonnées de "
                   "référence assigné, puis enregistrez la couche) ou ajoutez son code EPSG au `locator` du jeu de "
                   "données dans le catalogue, par exemple `crs: 2154` pour le Lambert-93")


def gpkg_to_wkb(blob: bytes) -> bytes:
    """Return the standard WKB inside a GeoPackageBinary geometry blob.

    The blob is a header followed by WKB (GeoPackage 1.3, §2.1.3.1.1): magic `GP`,
    a version byte, a flags byte, the int32 srs_id, then an optional envelope. Flags:
    bit 0 is the byte order of the srs_id and envelope, bits 1-3 the envelope indicator
    (0 none, 1 xy, 2 xyz, 3 xym, 4 xyzm: 0, 4, 6, 6 or 8 doubles), bit 4 marks an empty
    geometry (its WKB follows all the same), bit 5 an extension's own geometry type.
    Only the envelope's size matters here: the WKB carries its own byte order, and the
    layer's CRS comes from `gpkg_geometry_columns`.

    Raises:
        ValueError: Not a GeoPackage geometry, an extension type, or a truncated blob.
    """
    if len(blob) < 8 or blob[:2] != b"GP":
        raise ValueError("not a GeoPackage geometry (no 'GP' header)")
    flags = blob[3]
    if flags & 0b100000:
        raise ValueError("extended GeoPackage geometry type, not standard WKB")
    indicator = (flags >> 1) & 0b111
    if indicator >= len(_ENVELOPE_DOUBLES):
        raise ValueError(f"invalid envelope indicator {indicator}")
    start = 8 + 8 * _ENVELOPE_DOUBLES[indicator]
    if len(blob) <= start:
        raise ValueError("truncated GeoPackage geometry")
    return blob[start:]


def wkb_or_damaged(blob: bytes | None) -> bytes | None:
    """WKB of a GeoPackage blob; `b""` for a damaged one, which `add_geometry_columns` counts as unreadable."""
    if blob is None:
        return None
    try:
        return gpkg_to_wkb(blob)
    except ValueError:
        return b""


class GeoPackageConfig(ConnectorConfig):
    """A GeoPackage file (`.gpkg`), opened read-only."""

    path: Path = Field(description="the .gpkg file")


class GeoPackageLocator(RowsLocator):
    """Which table of the GeoPackage a dataset is, and how to write it (`locator:` in the catalog).

    Besides `columns` (default: every attribute, without the feature id) and `where`:

    Attributes:
        layer: Table name, as listed in `gpkg_contents`.
        crs: EPSG code of the geometries, for a layer whose CRS is undefined (or wrong).
        geometry: Text columns written from the geometry.
    """

    layer: str = Field(min_length=1)
    crs: int | None = Field(None, gt=0)
    geometry: GeometryOutput = Field(default_factory=GeometryOutput)


@dataclass(frozen=True)
class _Layer:
    """One row of `gpkg_contents`, with its geometry column when it has one."""

    table: str
    identifier: str | None
    description: str | None
    last_change: str | None
    bbox: tuple[float | None, ...]
    srs_id: int | None
    geometry_column: str | None

    @property
    def modified(self) -> dt.datetime | None:
        try:
            return dt.datetime.fromisoformat(self.last_change) if self.last_change else None
        except ValueError:
            return None


class GeoPackageSource:
    """Reads the feature and attribute tables of a GeoPackage, never writing to the file.

    Geometries are converted to WGS84 and written as GeoJSON text (plus longitude/latitude,
    `[lon,lat]` or WKT columns on request); every attribute is written as text.
    """

    kind: ClassVar[str] = "geopackage"
    #: The keys of a dataset's `locator:`, checked when the catalog is loaded.
    Locator: ClassVar[type[BaseModel]] = GeoPackageLocator
    Config: ClassVar[type[BaseModel]] = GeoPackageConfig

    def __init__(self, config: GeoPackageConfig) -> None:
        self.config = config

    @property
    def _name(self) -> str:
        return self.config.path.name

    def check(self) -> None:
        """Open the file read-only and make sure it is a GeoPackage.

        Raises:
            NotFoundError: The file does not exist.
            ConfigError: The path is a folder, or a SQLite file that is not a GeoPackage.
            RejectedError: The file is damaged or not a database at all.
        """
        with self._connect():
            pass

    def discover(self) -> Iterator[DatasetDescriptor]:
        """Yield one dataset per feature or attribute table of `gpkg_contents`.

        The id is the table name as `[a-z0-9-]+`; title, description and last change
        come from `gpkg_contents`, the bbox (converted to WGS84) too when the CRS is known.

        Raises:
            NotFoundError, ConfigError, RejectedError: As `check`.
        """
        with self._connect() as conn:
            layers = self._layers(conn)
            crs = {layer.srs_id: self._declared_crs(conn, layer.srs_id) for layer in layers}
        for layer, dataset_id in zip(layers, unique_slugs((layer.table for layer in layers), default="layer"),
                                     strict=True):
            bbox = _wgs84_bbox(layer.bbox, crs[layer.srs_id])
            known = {"title": layer.identifier, "description": layer.description, "modified": layer.modified,
                     "spatial": Spatial(bbox=bbox) if bbox else None}
            # Only the fields the file fills, so they never blank out the catalog's when merged.
            metadata = DatasetMetadata(**{key: value for key, value in known.items() if value})
            yield DatasetDescriptor(id=dataset_id, locator={"layer": layer.table}, metadata=metadata)

    def extract(self, dataset: DatasetDescriptor, dest: Path) -> Extract:
        """Write the layer as `dest/<id>.parquet`, every column as text, geometries as WGS84 text.

        Rows are read and written by chunks of `CHUNK_ROWS`, so a large layer never sits in
        memory. Damaged, empty and invalid geometries are kept (null or as they are) and
        counted in the notes, for the quality report.

        Args:
            dataset: The dataset; its locator follows `GeoPackageLocator`.
            dest: Existing or new directory for the Parquet file.

        Returns:
            The Parquet path, row count, WGS84 bbox and last change, the geometry column
            and notes (source CRS, geometry problems).

        Raises:
            ConfigError: Bad locator, unknown column, not a GeoPackage.
            NotFoundError: No such file, or no such layer (the message lists the layers).
            RejectedError: Damaged file, undefined CRS, or a `where` filter SQLite refuses.
        """
        locator = parse_locator(GeoPackageLocator, dataset, self.kind,
                                "`layer` (obligatoire), `columns`, `where`, `crs` et `geometry`")
        with self._connect(dataset.id) as conn:
            layer = self._layer(conn, locator.layer, dataset)
            notes: list[str] = []
            crs = self._crs(conn, layer, locator, dataset, notes) if layer.geometry_column else None
            plan = self._columns(conn, layer, locator, dataset)
            notes += plan.note()
            columns = [*plan.read, layer.geometry_column] if layer.geometry_column else plan.read
            sql = f"SELECT {', '.join(map(_quote, columns))} FROM {_quote(layer.table)}"
            if locator.where:
                sql += f" WHERE ({locator.where})"
            dest.mkdir(parents=True, exist_ok=True)
            path = dest / f"{dataset.id}.parquet"
            stats = GeometryStats()
            try:
                # exec_driver_sql, not text(): a filter such as `heure = '08:30'` holds no bind parameter.
                result = conn.exec_driver_sql(sql, execution_options={"stream_results": True})
                geometry = GeometryRead(wkb_or_damaged, crs, locator.geometry) if crs is not None else None
                rows = write_parquet(result, path, plan, geometry, stats)
            except sqlalchemy.exc.DBAPIError as exc:
                path.unlink(missing_ok=True)
                names = ", ".join(row[1] for row in self._table_info(conn, layer.table))
                hint = (f"vérifiez le filtre `where: {locator.where}` (colonnes de la couche : {names})"
                        if locator.where
                        else "le fichier est peut-être abîmé : ouvrez-le dans QGIS et enregistrez-le à nouveau")
                raise self._error(RejectedError, dataset, f"la lecture de la couche {layer.table!r} de {self._name} "
                                  f"a échoué ({exc.orig}) : {hint}") from exc
        metadata: dict[str, Any] = {}
        if layer.modified:
            metadata["modified"] = layer.modified.isoformat()
        if stats.bounds:
            metadata["spatial"] = {"bbox": stats.bounds}
        return Extract(path=path, rows=rows, metadata=metadata,
                       geometry=locator.geometry.geometry_column if layer.geometry_column else None,
                       notes=notes + stats.notes(first_row=2), first_row=2)

    @contextmanager
    def _connect(self, dataset_id: str | None = None) -> Iterator[Connection]:
        """A read-only connection (SQLite URI `mode=ro`) to the file, checked to be a GeoPackage."""
        path = self.config.path
        if not path.exists():
            raise NotFoundError(f"le GeoPackage {path} n'existe pas : vérifiez le `path` de la source dans "
                                "le catalogue", dataset_id=dataset_id, connector=self.kind)
        if not path.is_file():
            raise ConfigError(f"{path} est un dossier : le `path` de la source doit être un fichier .gpkg",
                              dataset_id=dataset_id, connector=self.kind)
        uri = f"file:{quote(str(path.resolve()))}?mode=ro"
        engine = sqlalchemy.create_engine("sqlite://", creator=lambda: sqlite3.connect(uri, uri=True),
                                          poolclass=sqlalchemy.NullPool)
        try:
            with engine.connect() as conn:
                try:
                    app_id = conn.exec_driver_sql("PRAGMA application_id").scalar()
                    has_contents = conn.exec_driver_sql(
                        "SELECT 1 FROM sqlite_master WHERE name = 'gpkg_contents'").first()
                except sqlalchemy.exc.DBAPIError as exc:
                    raise RejectedError(f"{path} ne peut pas être lu ({exc.orig}) : le fichier est abîmé ou "
                                        "n'est pas un GeoPackage ; exportez à nouveau la couche depuis votre SIG",
                                        dataset_id=dataset_id, connector=self.kind) from exc
                if app_id != GPKG_APPLICATION_ID and not has_contents:
                    raise ConfigError(f"{path} est une base SQLite mais pas un GeoPackage (pas de table "
                                      "gpkg_contents) : faites pointer la source sur un fichier .gpkg",
                                      dataset_id=dataset_id,
                                      connector=self.kind)
                yield conn
        finally:
            engine.dispose()

    def _layers(self, conn: Connection) -> list[_Layer]:
        rows = conn.exec_driver_sql(
            "SELECT c.table_name, c.identifier, c.description, c.last_change, "
            "c.min_x, c.min_y, c.max_x, c.max_y, coalesce(g.srs_id, c.srs_id), g.column_name "
            "FROM gpkg_contents c LEFT JOIN gpkg_geometry_columns g ON g.table_name = c.table_name "
            "WHERE c.data_type IN ('features', 'attributes') ORDER BY c.table_name").all()
        return [_Layer(r[0], r[1], r[2], r[3], tuple(r[4:8]), r[8], r[9]) for r in rows]

    def _layer(self, conn: Connection, table: str, dataset: DatasetDescriptor) -> _Layer:
        layers = self._layers(conn)
        for layer in layers:
            if layer.table == table:
                return layer
        names = ", ".join(layer.table for layer in layers) or "aucune"
        raise self._error(NotFoundError, dataset, f"{self._name} n'a pas de couche {table!r} ; ses couches sont : "
                          f"{names}. Corrigez `layer` dans le `locator` du jeu de données")

    @staticmethod
    def _declared_crs(conn: Connection, srs_id: int | None) -> str | None:
        """`EPSG:<code>` or the WKT of a srs_id; `None` when undefined."""
        if srs_id is None or srs_id in UNDEFINED_SRS:
            return None
        row = conn.exec_driver_sql("SELECT organization, organization_coordsys_id, definition "
                                   "FROM gpkg_spatial_ref_sys WHERE srs_id = ?", (srs_id,)).first()
        if row is None:
            return None
        organization, code, definition = row
        if (organization or "").upper() == "EPSG":
            return f"EPSG:{code}"
        return definition if definition and definition != "undefined" else None

    def _crs(self, conn: Connection, layer: _Layer, locator: GeoPackageLocator, dataset: DatasetDescriptor,
             notes: list[str]) -> str | int:
        declared = self._declared_crs(conn, layer.srs_id)
        crs = locator.crs or declared
        if crs is None:
            raise self._error(RejectedError, dataset, f"la couche {layer.table!r} de {self._name} n'a pas de système "
                              f"de coordonnées (srs_id {layer.srs_id}) : ses coordonnées ne peuvent pas être placées "
                              f"sur une carte ; {_HOW_TO_SET_CRS}")
        try:
            name = transformer_to_wgs84(crs).source_crs.name
        except ConfigError as exc:
            raise self._error(ConfigError, dataset, f"couche {layer.table!r} : {exc.message}") from exc
        if locator.crs:
            notes.append(Note("crs.from-catalog", crs=crs, name=name))
            if declared and declared != f"EPSG:{crs}":
                notes.append(Note("crs.file-declares", declared=_crs_label(declared), crs=crs))
        else:
            notes.append(Note("crs.from-file", crs=_crs_label(crs), name=name))
        return crs

    @staticmethod
    def _table_info(conn: Connection, table: str) -> list[Any]:
        """`PRAGMA table_info` rows: (cid, name, type, notnull, default, pk)."""
        return conn.exec_driver_sql(f"PRAGMA table_info({_quote(table)})").all()

    def _columns(self, conn: Connection, layer: _Layer, locator: GeoPackageLocator,
                 dataset: DatasetDescriptor) -> ColumnPlan:
        """Plan the attribute columns to read and the order of the written columns."""
        info = self._table_info(conn, layer.table)
        # The integer primary key is the feature id (OGR's FID), not an attribute.
        keys = [row for row in info if row[5]]
        fid = keys[0][1] if len(keys) == 1 and keys[0][2].upper() == "INTEGER" else None
        available = [row[1] for row in info if row[1] != layer.geometry_column]
        outputs = locator.geometry.columns if layer.geometry_column else []
        if not layer.geometry_column and "geometry" in locator.model_fields_set:
            raise self._error(ConfigError, dataset, f"la couche {layer.table!r} est une table sans géométrie : "
                              "retirez `geometry` du `locator` du jeu de données")
        try:
            return plan_columns(available, locator.columns or [c for c in available if c != fid], outputs,
                                f"la couche {layer.table!r}")
        except ConfigError as exc:
            raise self._error(ConfigError, dataset, exc.message) from exc

    def _error(self, kind: type[ConnectorError], dataset: DatasetDescriptor, message: str) -> ConnectorError:
        return kind(message, dataset_id=dataset.id, connector=self.kind)


def _quote(identifier: str) -> str:
    """An SQLite identifier in double quotes, so any table or column name is safe to use."""
    return '"' + identifier.replace('"', '""') + '"'


def _crs_label(crs: str) -> str:
    return crs if crs.startswith("EPSG:") else Note("crs.custom")


def _wgs84_bbox(bbox: tuple[float | None, ...], crs: str | None) -> tuple[float, float, float, float] | None:
    """The `gpkg_contents` extent in WGS84, or `None` when it is missing or cannot be converted."""
    if crs is None or any(v is None for v in bbox):
        return None
    try:
        west, south, east, north = transformer_to_wgs84(crs).transform_bounds(*bbox, densify_pts=21)
    except (ConfigError, pyproj.exceptions.ProjError):  # a bad extent loses the bbox, never the layer
        return None
    if not (-180 <= west <= east <= 180 and -90 <= south <= north <= 90):
        return None
    return (round(west, 7), round(south, 7), round(east, 7), round(north, 7))
