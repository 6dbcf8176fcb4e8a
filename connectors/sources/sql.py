"""SQL source: tables, views or SELECT queries of any SQLAlchemy database (PostGIS first), streamed to Parquet.

PostGIS converts geometries to WGS84 itself (`ST_Transform`) and sends them as WKB;
other databases send WKB, GeoPackage blobs or WKT that pyproj converts. Every session is
read-only with a connect and a statement timeout, and the URL (which holds the password)
is a secret: messages name the host only.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import shapely
import sqlglot
from pydantic import BaseModel, Field, model_validator
from pyproj import CRS
from sqlalchemy import URL, Connection, Engine, NullPool, create_engine, inspect, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SAWarning

from moisson.connectors.base import ConnectorConfig, DatasetDescriptor, Extract
from moisson.connectors.geo import GeometryOutput, GeometryStats, transformer_to_wgs84
from moisson.connectors.sources.geopackage import wkb_or_damaged
from moisson.connectors.sqlrows import GeometryRead, RowsLocator, parse_locator, plan_columns, write_parquet
from moisson.core.errors import ConfigError, ConnectorError, NotFoundError, RejectedError, UnavailableError
from moisson.core.ids import unique_slugs
from moisson.core.metadata import DatasetMetadata
from moisson.core.notes import Note
from moisson.core.secrets import Secret, reveal

#: sqlglot dialect of each SQLAlchemy backend, to parse `query` as the database would.
SQLGLOT_DIALECTS = {"postgresql": "postgres", "sqlite": "sqlite", "mysql": "mysql", "mariadb": "mysql",
                    "mssql": "tsql", "oracle": "oracle"}
#: Statements or clauses that write or lock, refused anywhere in a `query` (also inside a CTE).
_WRITES = (sqlglot.exp.DML, sqlglot.exp.DDL, sqlglot.exp.Into, sqlglot.exp.Lock, sqlglot.exp.Command)
#: SQLSTATE classes meaning "try again later": connection lost, out of resources, shutdown, deadlock.
_TRANSIENT = ("08", "53", "57P", "40")
_KEYS = "l'une des clés `table`, `view` ou `query`, puis `columns`, `where`, `geometry`, `id` et `updated_at`"


class SqlConfig(ConnectorConfig):
    """A database reachable through a SQLAlchemy URL, read in read-only sessions."""

    url: Secret = Field(description="SQLAlchemy URL with its password, e.g. "
                                    "postgresql+psycopg://sig:password@db.example.fr:5432/sig, given as "
                                    '{env: NAME} or {block: "secret/NAME"}')
    db_schema: str | None = Field(None, alias="schema", description="schema of the tables and views "
                                                                    "(default: the database's, `public`)")
    connect_timeout: int = Field(10, gt=0, description="seconds to wait for a connection")
    statement_timeout: int = Field(600, gt=0, description="seconds a query may run (PostgreSQL) before it "
                                                          "is cancelled")


class SqlGeometry(GeometryOutput):
    """Where the geometry is and which text columns to write from it (`geometry:` in the locator).

    `geometry: geom` is short for `geometry: {column: geom}`.

    Attributes:
        column: Geometry column; default: the PostGIS geometry or geography column of the
            table, view or query, when there is exactly one.
        crs: EPSG code of the geometries when the database does not know it (SRID 0) or
            is wrong, and for databases without PostGIS.
    """

    column: str | None = None
    crs: int | None = Field(None, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _column_name(cls, value: Any) -> Any:
        return {"column": value} if isinstance(value, str) else value


class SqlLocator(RowsLocator):
    """Which rows of the database a dataset is (`locator:` in the catalog).

    Besides `columns` and `where`:

    Attributes:
        table: A table of the source's schema.
        view: A view (or materialized view) of the source's schema.
        query: One read-only SELECT (CTEs and UNIONs allowed).
        geometry: The geometry column and the text columns written from it.
        id: Column ordering the rows, so that unchanged data gives the same file (default:
            the table's primary key).
        updated_at: Column of last modification times: when neither its maximum nor the
            row count moved since the last run, the dataset is not exported again.
    """

    table: str | None = Field(None, min_length=1)
    view: str | None = Field(None, min_length=1)
    query: str | None = Field(None, min_length=1)
    geometry: SqlGeometry = Field(default_factory=SqlGeometry)
    id: str | None = None
    updated_at: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> SqlLocator:
        given = [k for k in ("table", "view", "query") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError("indiquez une seule des clés `table`, `view` ou `query` "
                             f"(trouvé : {', '.join(given) or 'aucune'})")
        return self

    @property
    def relation(self) -> str | None:
        """The table or view name, `None` for a query."""
        return self.table or self.view


@dataclass(frozen=True)
class ColumnInfo:
    """One column as the database describes it."""

    name: str
    type: str
    description: str | None = None


@dataclass(frozen=True)
class RelationInfo:
    """A table or view, as `discover()` reports it in `metadata.extras["source"]`.

    Attributes:
        name: Table or view name.
        kind: `table` or `view` (materialized views and foreign tables count as views).
        columns: Its columns, in order.
        description: Its comment (`COMMENT ON TABLE`).
        rows_estimate: The planner's row estimate (`pg_class.reltuples`), `None` when unknown.
        geometry: Geometry column, when it has one (the first, if several).
        geometry_type: `POINT`, `MULTIPOLYGON`… as `geometry_columns` says.
        srid: SRID of the geometry column (0: unknown).
    """

    name: str
    kind: Literal["table", "view"]
    columns: list[ColumnInfo] = field(default_factory=list)
    description: str | None = None
    rows_estimate: int | None = None
    geometry: str | None = None
    geometry_type: str | None = None
    srid: int | None = None


@dataclass(frozen=True)
class _Source:
    """What one locator reads: the FROM clause, its columns and its geometry."""

    sql: str
    label: str
    columns: list[str]
    geometry: str | None
    geography: bool
    srid: int | None
    key: str | None
    postgis: bool


class SqlSource:
    """Reads tables, views and SELECT queries of a SQL database, in read-only sessions.

    Every value is written as text; geometries are converted to WGS84 (by PostGIS when
    the database has it) and written as GeoJSON, plus lon/lat, `[lon,lat]` or WKT columns
    on request. Rows stream through a server-side cursor in chunks, whatever the table size.
    """

    kind: ClassVar[str] = "sql"
    Config: ClassVar[type[BaseModel]] = SqlConfig
    #: The keys of a dataset's `locator:`, checked when the catalog is loaded.
    Locator: ClassVar[type[BaseModel]] = SqlLocator

    def __init__(self, config: SqlConfig) -> None:
        self.config = config

    # Public API

    def check(self) -> None:
        """Connect once.

        Raises:
            ConfigError: Bad URL, unknown driver, wrong credentials or database name.
            UnavailableError: The database is down or unreachable (retryable).
        """
        with self._connect():
            pass

    def describe(self) -> list[RelationInfo]:
        """Every table and view of the source's schema, with columns, geometry, row estimate and comments.

        Raises:
            ConfigError, UnavailableError: As `check`.
        """
        with self._connect() as conn:
            if _is_postgres(conn):
                return self._pg_relations(conn)
            return self._relations(conn)

    def discover(self) -> Iterator[DatasetDescriptor]:
        """Yield one dataset per table or view; `metadata.extras["source"]` holds its `RelationInfo`.

        Raises:
            ConfigError, UnavailableError: As `check`.
        """
        relations = self.describe()
        for relation, dataset_id in zip(relations, unique_slugs((r.name for r in relations), default="table"),
                                        strict=True):
            known = {"title": relation.name, "description": relation.description,
                     "extras": {"source": asdict(relation)}}
            yield DatasetDescriptor(id=dataset_id, locator={relation.kind: relation.name},
                                    metadata=DatasetMetadata(**{k: v for k, v in known.items() if v}))

    def fingerprint(self, dataset: DatasetDescriptor) -> str | None:
        """Return `max(updated_at)` and the row count as one text, or `None` without `updated_at`.

        A cheap query (one index or sequential scan, no transfer): when it equals the
        fingerprint of the last published extract, no row was added, changed or deleted.

        Raises:
            ConfigError, NotFoundError, UnavailableError: As `extract`.
        """
        locator = parse_locator(SqlLocator, dataset, self.kind, _KEYS)
        if not locator.updated_at:
            return None
        with self._connect(dataset.id) as conn:
            source = self._source(conn, locator, dataset)
            self._check_column(source, dataset, locator.updated_at, "updated_at")
            sql = f"SELECT max({_quote(conn, locator.updated_at)}), count(*) FROM {source.sql}{_where(locator)}"
            latest, count = self._run(conn, sql, dataset, locator).one()
        return f"{_iso(latest)}|{count}"

    def extract(self, dataset: DatasetDescriptor, dest: Path) -> Extract:
        """Write the table, view or query as `dest/<id>.parquet`, every column as text, geometries in WGS84.

        Args:
            dataset: The dataset; its locator follows `SqlLocator`.
            dest: Existing or new directory for the Parquet file.

        Returns:
            The Parquet path, row count, metadata (table comment, last `updated_at`, WGS84
            bbox), the geometry column and notes (source CRS, geometry problems).

        Raises:
            ConfigError: Bad locator or column, a query that is not a single SELECT, wrong credentials.
            NotFoundError: No such table or view (the message lists them).
            RejectedError: Geometries without a CRS, or a query the database refuses to run read-only.
            UnavailableError: The database is down, or the statement timeout was hit (retryable).
        """
        locator = parse_locator(SqlLocator, dataset, self.kind, _KEYS)
        with self._connect(dataset.id) as conn:
            source = self._source(conn, locator, dataset)
            notes: list[str] = []
            read = self._geometry(conn, source, locator, dataset, notes)
            outputs = locator.geometry.columns if read else []
            attributes = [c for c in source.columns if c != source.geometry]
            try:
                plan = plan_columns(attributes, locator.columns, outputs, source.label)
            except ConfigError as exc:
                raise self._error(ConfigError, dataset, exc.message) from exc
            notes += plan.note()
            key = locator.id or source.key
            self._check_column(source, dataset, key, "id")
            self._check_column(source, dataset, locator.updated_at, "updated_at")
            if key is None:
                notes.append(Note("sql.no-id"))
            selected = [_quote(conn, c) for c in plan.read] + ([_geometry_sql(conn, source, locator)] if read else [])
            sql = f"SELECT {', '.join(selected)} FROM {source.sql}{_where(locator)}"
            if key:
                sql += f" ORDER BY {_quote(conn, key)}"
            dest.mkdir(parents=True, exist_ok=True)
            path = dest / f"{dataset.id}.parquet"
            stats = GeometryStats()
            try:
                rows = write_parquet(self._run(conn, sql, dataset, locator, stream=True), path, plan, read, stats)
            except ConnectorError:
                path.unlink(missing_ok=True)
                raise
            except DBAPIError as exc:
                path.unlink(missing_ok=True)
                raise self._query_error(exc, dataset, locator) from exc
            metadata = self._metadata(conn, source, locator, dataset, stats)
        return Extract(path=path, rows=rows, metadata=metadata,
                       geometry=locator.geometry.geometry_column if read else None,
                       notes=notes + stats.notes(first_row=1), first_row=1)

    def _check_column(self, source: _Source, dataset: DatasetDescriptor, name: str | None, role: str) -> None:
        if name and name not in source.columns:
            raise self._error(ConfigError, dataset, f"{source.label} n'a pas de colonne {name!r} (`{role}`) ; ses "
                              f"colonnes sont : {', '.join(source.columns)}. Corrigez `{role}` dans le `locator` du "
                              "jeu de données")

    # Connections and errors

    @property
    def _url(self) -> URL:
        raw = reveal(self.config.url, what="l'URL de la base de données (`url`)")
        try:
            url = make_url(raw)
        except ArgumentError:
            raise ConfigError("l'`url` de la base de données n'est pas une URL SQLAlchemy : écrivez-la sous la "
                              "forme postgresql+psycopg://utilisateur:mot-de-passe@hote:5432/base",
                              connector=self.kind) from None
        if url.drivername == "postgresql":  # SQLAlchemy's default driver is psycopg2; moisson ships psycopg 3
            url = url.set(drivername="postgresql+psycopg")
        return url

    @property
    def _host(self) -> str:
        """The database as messages may name it: host and port, or the file name, never credentials."""
        url = self._url
        if url.get_backend_name() == "sqlite":
            return f"fichier {Path(url.database or ':memory:').name}"
        return f"{url.host or 'localhost'}{f':{url.port}' if url.port else ''}"

    def _engine(self) -> Engine:
        url = self._url
        timeout = self.config.connect_timeout
        connect_args: dict[str, Any] = {}
        if url.get_backend_name() == "postgresql":
            # Server-side settings for the whole session: every query is cancelled after the
            # statement timeout, and the session cannot write even if a query tries.
            options = (f"-c statement_timeout={self.config.statement_timeout * 1000} "
                       "-c default_transaction_read_only=on")
            connect_args = {"connect_timeout": timeout, "options": options, "application_name": "moisson"}
        elif url.get_backend_name() == "sqlite" and url.database:
            connect_args = {"timeout": timeout}
            url = url.set(database=f"file:{url.database}?mode=ro", query={"uri": "true"})
        try:
            return create_engine(url, poolclass=NullPool, connect_args=connect_args)
        except (NoSuchModuleError, ImportError) as exc:
            raise ConfigError(f"aucun pilote pour le schéma {url.drivername!r} de l'`url` de la base ({exc}) : "
                              "utilisez postgresql+psycopg:// ou sqlite:///, ou installez le pilote",
                              connector=self.kind) from None

    @contextmanager
    def _connect(self, dataset_id: str | None = None) -> Iterator[Connection]:
        engine = self._engine()
        try:
            try:
                conn = engine.connect()
            except DBAPIError as exc:
                raise self._connect_error(exc, dataset_id) from None
            with conn:
                yield conn
        finally:
            engine.dispose()

    def _connect_error(self, exc: DBAPIError, dataset_id: str | None) -> ConnectorError:
        detail = self._detail(exc)
        # libpq reports a refused login without a SQLSTATE: only the server's message tells why.
        if "authentication failed" in detail or ("role" in detail and "does not exist" in detail):
            return ConfigError(f"la base de données {self._host} a refusé les identifiants ({detail}) : vérifiez "
                               "l'utilisateur et le mot de passe du secret `url` de la source", dataset_id=dataset_id,
                               connector=self.kind)
        if "database" in detail and "does not exist" in detail:
            return ConfigError(f"la base de données {self._host} n'existe pas ({detail}) : corrigez le nom de la base "
                               "dans l'`url` de la source", dataset_id=dataset_id, connector=self.kind)
        return UnavailableError(f"la base de données {self._host} est injoignable ({detail}) : vérifiez qu'elle "
                                "tourne et qu'elle est joignable depuis cette machine ; moisson réessaiera",
                                dataset_id=dataset_id, connector=self.kind)

    def _detail(self, exc: DBAPIError) -> str:
        """The driver's first line of error, without the URL's password nor the user name the server quotes.

        PostgreSQL quotes the user (`role "…" does not exist`): with user and password swapped in
        the URL, a common typo, that is the password, which the run's scrubber does not know as one.
        """
        lines = str(exc.orig).strip().splitlines() or [type(exc.orig).__name__]
        url = self._url
        detail = lines[0].replace(f'"{url.username}"', '"***"') if url.username else lines[0]
        return detail.replace(str(url.password), "***") if url.password else detail

    def _query_error(self, exc: DBAPIError, dataset: DatasetDescriptor, locator: SqlLocator) -> ConnectorError:
        state = _sqlstate(exc)
        detail = self._detail(exc)
        if state == "57014":
            return self._error(UnavailableError, dataset, f"la requête a été annulée après le délai "
                               f"`statement_timeout` de {self.config.statement_timeout} s ({detail}) : ajoutez un "
                               "index pour `where`/`id`, ou relevez `statement_timeout` dans la configuration de la "
                               "source")
        if state.startswith(_TRANSIENT) or (not state and exc.connection_invalidated):
            return self._error(UnavailableError, dataset, f"la base de données {self._host} a échoué ({detail}) ; "
                               "moisson réessaiera")
        if state == "25006":
            return self._error(RejectedError, dataset, f"la requête tente d'écrire ({detail}) ; moisson ne fait "
                               "que lire : utilisez un SELECT")
        what = "`query`" if locator.query else "`where`, `columns` ou `id`" if locator.where else "`columns` ou `id`"
        return self._error(ConfigError, dataset, f"la base de données a refusé la requête ({detail}) : vérifiez "
                           f"{what} dans le `locator` du jeu de données")

    def _run(self, conn: Connection, sql: str, dataset: DatasetDescriptor, locator: SqlLocator, *,
             stream: bool = False) -> Any:
        # no_parameters: the SQL is passed untouched, so a `%` in a LIKE filter is no placeholder.
        options: dict[str, Any] = {"no_parameters": True, "stream_results": stream}
        try:
            return conn.exec_driver_sql(sql, execution_options=options)
        except DBAPIError as exc:
            raise self._query_error(exc, dataset, locator) from exc

    def _error(self, kind: type[ConnectorError], dataset: DatasetDescriptor, message: str) -> ConnectorError:
        return kind(message, dataset_id=dataset.id, connector=self.kind)

    # Locators

    def _schema(self, conn: Connection) -> str | None:
        return self.config.db_schema or conn.dialect.default_schema_name

    def _source(self, conn: Connection, locator: SqlLocator, dataset: DatasetDescriptor) -> _Source:
        """Resolve the table, view or query: FROM clause, columns, geometry column and key."""
        if locator.query:
            query = self._checked_query(conn, locator.query, dataset)
            sql, label, key = f"({query}) AS src", "la requête", None
        else:
            relation = locator.relation or ""
            schema = self._schema(conn)
            names = self._relation_names(conn, schema)
            if relation not in names:
                raise self._error(NotFoundError, dataset, f"la base de données {self._host} n'a ni table ni vue "
                                  f"{relation!r} dans le schéma {schema!r} ; il y a : {', '.join(names) or 'aucune'}. "
                                  "Corrigez `table`/`view` dans le `locator` du jeu de données, ou `schema` dans la "
                                  "source")
            quoted = f"{_quote(conn, schema)}.{_quote(conn, relation)}" if schema else _quote(conn, relation)
            sql, label = f"{quoted} AS src", f"{'la vue' if locator.view else 'la table'} {relation!r}"
            keys = inspect(conn).get_pk_constraint(relation, schema=schema)["constrained_columns"]
            key = keys[0] if len(keys) == 1 else None
        probe = self._run(conn, f"SELECT * FROM {sql} LIMIT 0", dataset, locator)
        columns = list(probe.keys())
        types = {d[0]: d[1] for d in probe.cursor.description or ()}
        probe.close()
        spatial = _postgis_types(conn)
        geometry, geography, srid = self._find_geometry(conn, locator, columns, types, spatial, dataset, label)
        return _Source(sql, label, columns, geometry, geography, srid, key, postgis=bool(spatial))

    def _checked_query(self, conn: Connection, query: str, dataset: DatasetDescriptor) -> str:
        """The query without its final `;`, once parsed as exactly one read-only SELECT.

        Parsed, not pattern-matched: `WITH x AS (DELETE … RETURNING *) SELECT …` starts like a
        SELECT. PostgreSQL sessions are read-only besides, which also stops writing functions.
        """
        dialect = SQLGLOT_DIALECTS.get(conn.dialect.name)
        try:
            statements = [s for s in sqlglot.parse(query, read=dialect) if s is not None]
        except sqlglot.errors.SqlglotError as exc:
            raise self._error(ConfigError, dataset, "la `query` ne peut pas être lue comme du SQL "
                              f"({str(exc).splitlines()[0]}) : écrivez un seul SELECT, ou faites-en une vue dans la "
                              "base et utilisez `view`") from None
        if len(statements) != 1:
            raise self._error(ConfigError, dataset, f"la `query` contient {len(statements)} instructions : moisson "
                              "exécute un seul SELECT")
        statement = statements[0]
        writes = [node.key.upper() for node in statement.walk() if isinstance(node, _WRITES)]
        if not isinstance(statement, sqlglot.exp.Query) or writes:
            found = writes[0] if writes else statement.key.upper()
            raise self._error(ConfigError, dataset, f"la `query` n'est pas un SELECT en lecture seule (elle contient "
                              f"{found}) : moisson ne fait que lire, écrivez un SELECT")
        return query.strip().rstrip(";").strip()

    def _relation_names(self, conn: Connection, schema: str | None) -> list[str]:
        inspector = inspect(conn)
        names = inspector.get_table_names(schema=schema) + inspector.get_view_names(schema=schema)
        if _is_postgres(conn):
            names += inspector.get_materialized_view_names(schema=schema)
        return sorted(names)

    def _find_geometry(self, conn: Connection, locator: SqlLocator, columns: list[str], types: dict[str, Any],
                       spatial: dict[int, str], dataset: DatasetDescriptor,
                       label: str) -> tuple[str | None, bool, int | None]:
        """The geometry column, whether it is a PostGIS geography, and its declared SRID."""
        wanted = locator.geometry.column
        if wanted and wanted not in columns:
            raise self._error(ConfigError, dataset, f"{label} n'a pas de colonne de géométrie {wanted!r} ; ses "
                              f"colonnes sont : {', '.join(columns)}. Corrigez `geometry` dans le `locator` du jeu "
                              "de données")
        found = [c for c in columns if types.get(c) in spatial]
        if wanted is None:
            if len(found) > 1:
                raise self._error(ConfigError, dataset, f"{label} a plusieurs colonnes de géométrie "
                                  f"({', '.join(found)}) : choisissez-en une avec `geometry: <colonne>` dans le "
                                  "`locator` du jeu de données")
            wanted = found[0] if found else None
        if wanted is None:
            return None, False, None
        geography = spatial.get(types.get(wanted)) == "geography"
        srid = None
        if types.get(wanted) in spatial and locator.relation:
            srid = conn.exec_driver_sql(
                "SELECT srid FROM geometry_columns WHERE f_table_schema = %(s)s AND f_table_name = %(t)s "
                "AND f_geometry_column = %(c)s UNION ALL SELECT srid FROM geography_columns "
                "WHERE f_table_schema = %(s)s AND f_table_name = %(t)s AND f_geography_column = %(c)s",
                {"s": self._schema(conn), "t": locator.relation, "c": wanted}).scalar()
        return wanted, geography, srid

    def _geometry(self, conn: Connection, source: _Source, locator: SqlLocator, dataset: DatasetDescriptor,
                  notes: list[str]) -> GeometryRead | None:
        """How to read the geometry, with a note saying where its coordinates came from."""
        if source.geometry is None:
            if "geometry" in locator.model_fields_set:
                raise self._error(ConfigError, dataset, f"{source.label} n'a pas de colonne de géométrie : "
                                  "retirez `geometry` du `locator` du jeu de données, ou nommez la colonne qui porte "
                                  "les géométries")
            return None
        output = GeometryOutput(**locator.geometry.model_dump(exclude={"column", "crs"}))
        postgis = source.postgis
        crs = locator.geometry.crs or (4326 if source.geography else source.srid or None)
        if crs is None and not (postgis and locator.query):
            where = "SRID 0 dans PostGIS" if postgis else "une base sans PostGIS"
            raise self._error(RejectedError, dataset, f"les géométries de {source.label} n'ont pas de système de "
                              f"coordonnées ({where}) : elles ne peuvent pas être placées sur une carte ; ajoutez leur "
                              "code EPSG au `locator`, par exemple `geometry: {column: geom, crs: 2154}` pour le "
                              "Lambert-93")
        name = self._crs_name(crs, dataset) if crs else None
        how = Note("crs.by-postgis") if postgis else Note("crs.by-proj")
        said = Note("crs.as-catalog" if locator.geometry.crs else "crs.as-geometry" if crs is None
                    else "crs.as-database")
        shown = f"EPSG:{crs} ({name})" if crs else Note("crs.srid")
        notes.append(Note("crs.database", how=how, shown=shown, said=said))
        if locator.geometry.crs and source.srid and source.srid != locator.geometry.crs:
            notes.append(Note("crs.database-declares", srid=source.srid, crs=locator.geometry.crs))
        if postgis:
            return GeometryRead(_wkb_bytes, 4326, output)
        return GeometryRead(_any_wkb, crs or 4326, output)

    def _crs_name(self, crs: int, dataset: DatasetDescriptor) -> str:
        try:
            transformer_to_wgs84(crs)  # PROJ knows it, or a ConfigError says so
        except ConfigError as exc:
            raise self._error(ConfigError, dataset, exc.message) from exc
        return CRS.from_epsg(crs).name  # the transformer's source CRS has its axes swapped, and renamed

    def _metadata(self, conn: Connection, source: _Source, locator: SqlLocator, dataset: DatasetDescriptor,
                  stats: GeometryStats) -> dict[str, Any]:
        metadata: dict[str, Any] = {}
        if locator.relation and conn.dialect.supports_comments:
            comment = inspect(conn).get_table_comment(locator.relation, schema=self._schema(conn)).get("text")
            if comment:
                metadata["description"] = comment
        if locator.updated_at:
            sql = f"SELECT max({_quote(conn, locator.updated_at)}) FROM {source.sql}{_where(locator)}"
            latest = self._run(conn, sql, dataset, locator).scalar()
            if isinstance(latest, dt.date):
                metadata["modified"] = _iso(latest)
        if stats.bounds:
            metadata["spatial"] = {"bbox": stats.bounds}
        return metadata

    # Discovery

    def _pg_relations(self, conn: Connection) -> list[RelationInfo]:
        schema = self._schema(conn)
        rows = conn.exec_driver_sql(
            "SELECT c.relname, c.relkind, obj_description(c.oid, 'pg_class'), c.reltuples::bigint, a.attname, "
            "format_type(a.atttypid, a.atttypmod), col_description(c.oid, a.attnum) "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
            "WHERE n.nspname = %(s)s AND c.relkind IN ('r', 'p', 'v', 'm', 'f') ORDER BY c.relname, a.attnum",
            {"s": schema}).all()
        geometries: dict[str, tuple[str, str, int]] = {}
        if _postgis_types(conn):
            for table, column, kind, srid in conn.exec_driver_sql(
                    "SELECT f_table_name, f_geometry_column, type, srid FROM geometry_columns "
                    "WHERE f_table_schema = %(s)s UNION ALL SELECT f_table_name, f_geography_column, type, srid "
                    "FROM geography_columns WHERE f_table_schema = %(s)s ORDER BY 1, 2", {"s": schema}):
                geometries.setdefault(table, (column, kind, srid))
        relations: dict[str, RelationInfo] = {}
        for name, relkind, comment, tuples, column, type_, column_comment in rows:
            if name not in relations:
                geometry, kind, srid = geometries.get(name, (None, None, None))
                is_table = relkind in ("r", "p")
                relations[name] = RelationInfo(
                    name=name, kind="table" if is_table else "view", description=comment,
                    rows_estimate=int(tuples) if is_table and tuples >= 0 else None,
                    geometry=geometry, geometry_type=kind, srid=srid)
            relations[name].columns.append(ColumnInfo(column, type_, column_comment))
        return list(relations.values())

    def _relations(self, conn: Connection) -> list[RelationInfo]:
        """Tables and views of a database without PostgreSQL's catalog, through SQLAlchemy's inspector."""
        inspector = inspect(conn)
        schema = self._schema(conn)
        relations = []
        kinds: list[tuple[Literal["table", "view"], str]] = [
            *(("table", n) for n in inspector.get_table_names(schema=schema)),
            *(("view", n) for n in inspector.get_view_names(schema=schema))]
        for kind, name in sorted(kinds, key=lambda k: k[1]):
            with warnings.catch_warnings():  # unknown column types (geometry blobs) are fine: shown as text
                warnings.simplefilter("ignore", SAWarning)
                columns = [ColumnInfo(c["name"], str(c["type"]), c.get("comment"))
                           for c in inspector.get_columns(name, schema=schema)]
            relations.append(RelationInfo(name=name, kind=kind, columns=columns))
        return relations


def _is_postgres(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


def _postgis_types(conn: Connection) -> dict[int, str]:
    """Type OIDs of PostGIS `geometry` and `geography` in this database; empty without PostGIS."""
    if not _is_postgres(conn):
        return {}
    rows = conn.exec_driver_sql("SELECT oid, typname FROM pg_type WHERE typname IN ('geometry', 'geography')")
    return {int(oid): name for oid, name in rows}


def _geometry_sql(conn: Connection, source: _Source, locator: SqlLocator) -> str:
    """The select-list expression giving the geometry: WGS84 WKB from PostGIS, the raw value elsewhere."""
    column = _quote(conn, source.geometry or "")
    if not source.postgis:
        return column
    if source.geography:
        return f"ST_AsBinary({column}::geometry)"
    crs = locator.geometry.crs
    geom = f"ST_SetSRID({column}, {int(crs)})" if crs else column
    return f"ST_AsBinary(ST_Transform({geom}, 4326))"


def _where(locator: SqlLocator) -> str:
    return f" WHERE ({locator.where})" if locator.where else ""


def _quote(conn: Connection, identifier: str) -> str:
    return conn.dialect.identifier_preparer.quote_identifier(identifier)


def _sqlstate(exc: DBAPIError) -> str:
    return getattr(exc.orig, "sqlstate", None) or ""


def _iso(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, dt.date | dt.datetime) else None if value is None else str(value)


def _wkb_bytes(value: Any) -> bytes | None:
    """PostGIS `ST_AsBinary` output (bytes or memoryview, by driver) as bytes."""
    return None if value is None else bytes(value)


def _any_wkb(value: Any) -> bytes | None:
    """WKB from what a database without PostGIS stores: WKB, a GeoPackage blob, hex WKB or WKT.

    Undecodable values give `b""`, which the geometry statistics count as unreadable.
    """
    if value is None:
        return None
    if isinstance(value, bytes | bytearray | memoryview):
        blob = bytes(value)
        return wkb_or_damaged(blob) if blob[:2] == b"GP" else blob
    geom = shapely.from_wkb(value, on_invalid="ignore") if _is_hex(value) else shapely.from_wkt(
        str(value), on_invalid="ignore")
    return b"" if geom is None else shapely.to_wkb(geom)


def _is_hex(value: Any) -> bool:
    return isinstance(value, str) and len(value) % 2 == 0 and all(c in "0123456789abcdefABCDEF" for c in value)
