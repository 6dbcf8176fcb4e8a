"""The state store: what moisson published where, and what it saw in each source.

SQLAlchemy Core on a SQLite file by default (`var/state.db`), any SQLAlchemy URL through
`MOISSON_STATE_URL` (PostgreSQL in production). Why not Prefect variables or the task
cache: variables are unencrypted and capped at 5,000 characters, the cache is not a
ledger, and re-finding remote datasets after a lost state must never create duplicates.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Engine,
    MetaData,
    String,
    Table,
    create_engine,
    delete,
    event,
    select,
)
from sqlalchemy.exc import OperationalError

from moisson.core.errors import UnavailableError
from moisson.core.records import RecordState, RemoteState
from moisson.core.settings import state_url

metadata = MetaData()
#: One table creation at a time in a process (runs of a catalog open the store from several threads).
_CREATING = threading.Lock()

publications = Table(
    "moisson_publications", metadata,
    Column("dataset_id", String(200), primary_key=True),
    Column("target", String(200), primary_key=True),
    Column("remote_id", String(500)),
    Column("url", String(2000)),
    Column("content_hash", String(64)),
    Column("metadata_hash", String(64)),
    Column("published_at", DateTime(timezone=True)),
    Column("extra", JSON, default=dict),
)

runs = Table(
    "moisson_dataset_runs", metadata,
    Column("dataset_id", String(200), primary_key=True),
    Column("last_status", String(20)),
    Column("last_attempt_at", DateTime(timezone=True)),
    Column("last_success_at", DateTime(timezone=True)),
)

records = Table(
    "moisson_source_records", metadata,
    Column("source", String(200), primary_key=True),
    Column("record_id", String(500), primary_key=True),
    Column("datestamp", String(64)),
    Column("record_hash", String(64)),
    Column("last_seen", DateTime(timezone=True)),
    Column("missing_since", DateTime(timezone=True)),
)

# Records the source reads but does not offer as datasets (service records under `services: skip`), so a
# collection leaves them out even in runs that only list them.
record_skips = Table(
    "moisson_source_record_skips", metadata,
    Column("source", String(200), primary_key=True),
    Column("record_id", String(500), primary_key=True),
    Column("reason", String(2000)),
)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    # SQLite gives naive datetimes back; everything stored is UTC.
    return value.replace(tzinfo=dt.UTC) if value is not None and value.tzinfo is None else value


class StateStore:
    """Per dataset and target: remote id, hashes, last publication; per source record: change marks.

    Args:
        url: SQLAlchemy URL; default `MOISSON_STATE_URL` or `sqlite:///var/state.db`.
    """

    def __init__(self, url: str | None = None) -> None:
        self.url = url or state_url()
        self.engine: Engine = create_engine(self.url, pool_pre_ping=True)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._create_tables()

    def _create_tables(self) -> None:
        # Concurrent runs opening a new store race to create its tables: whoever loses finds them made.
        for attempt in range(3):
            try:
                with _CREATING:
                    metadata.create_all(self.engine)
                return
            except OperationalError as exc:
                if "already exists" in str(exc.orig) and attempt < 2:
                    continue
                raise UnavailableError(f"la base d'état {self.engine.url.render_as_string()} "
                                       f"ne peut pas être ouverte : {exc.orig}") from exc

    def remote(self, dataset_id: str, target: str) -> RemoteState | None:
        """What was last published for a dataset on a target, if anything."""
        with self.engine.connect() as conn:
            row = conn.execute(select(publications).where(
                publications.c.dataset_id == dataset_id, publications.c.target == target)).first()
        if row is None:
            return None
        return RemoteState(remote_id=row.remote_id, url=row.url, content_hash=row.content_hash,
                           metadata_hash=row.metadata_hash, extra=row.extra or {})

    def save_remote(self, dataset_id: str, target: str, state: RemoteState) -> None:
        """Record a publication (insert or replace)."""
        values = {"remote_id": state.remote_id, "url": state.url, "content_hash": state.content_hash,
                  "metadata_hash": state.metadata_hash, "extra": dict(state.extra),
                  "published_at": _now()}
        self._upsert(publications, {"dataset_id": dataset_id, "target": target}, values)

    def record_run(self, dataset_id: str, status: str) -> None:
        """Remember the outcome of a dataset's run (for `due` and overdue alerts)."""
        now = _now()
        values: dict[str, Any] = {"last_status": status, "last_attempt_at": now}
        if status in ("published", "unchanged"):
            values["last_success_at"] = now
        self._upsert(runs, {"dataset_id": dataset_id}, values)

    def last_success(self, dataset_id: str) -> dt.datetime | None:
        """When the dataset last ended published or unchanged."""
        with self.engine.connect() as conn:
            value = conn.execute(select(runs.c.last_success_at).where(
                runs.c.dataset_id == dataset_id)).scalar()
        return _aware(value)

    def records(self, source: str) -> dict[str, RecordState]:
        """Every record known for a catalog source."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(records).where(records.c.source == source)).all()
        return {r.record_id: RecordState(r.record_id, r.datestamp, r.record_hash, _aware(r.last_seen),
                                         _aware(r.missing_since)) for r in rows}

    def save_records(self, source: str, states: Iterator[RecordState] | list[RecordState]) -> None:
        """Replace the record states of a source in one transaction."""
        with self.engine.begin() as conn:
            conn.execute(delete(records).where(records.c.source == source))
            rows = [{"source": source, "record_id": s.record_id, "datestamp": s.datestamp,
                     "record_hash": s.record_hash, "last_seen": s.last_seen,
                     "missing_since": s.missing_since} for s in states]
            if rows:
                conn.execute(records.insert(), rows)

    def save_record(self, source: str, state: RecordState) -> None:
        """Record one record of a source (insert or replace), leaving its other records alone."""
        self._upsert(records, {"source": source, "record_id": state.record_id},
                     {"datestamp": state.datestamp, "record_hash": state.record_hash, "last_seen": state.last_seen,
                      "missing_since": state.missing_since})

    def record_skips(self, source: str) -> dict[str, str]:
        """Records of a source that are not datasets, with the reason."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(record_skips).where(record_skips.c.source == source)).all()
        return {r.record_id: r.reason for r in rows}

    def save_record_skips(self, source: str, skipped: Mapping[str, str], readable: Iterable[str]) -> None:
        """Remember the records a run skipped (identifier → reason) and forget those it read as datasets."""
        ids = sorted(set(skipped) | set(readable))
        with self.engine.begin() as conn:
            for start in range(0, len(ids), 500):  # stay under SQLite's bound-parameter limit
                conn.execute(delete(record_skips).where(record_skips.c.source == source,
                                                        record_skips.c.record_id.in_(ids[start:start + 500])))
            if skipped:
                conn.execute(record_skips.insert(), [{"source": source, "record_id": r, "reason": why}
                                                     for r, why in skipped.items()])

    def _upsert(self, table: Table, key: Mapping[str, Any], values: Mapping[str, Any]) -> None:
        # Portable upsert: the row is keyed by its primary key, so update-then-insert in one transaction.
        with self.engine.begin() as conn:
            where = [table.c[k] == v for k, v in key.items()]
            if conn.execute(table.update().where(*where).values(**values)).rowcount == 0:
                conn.execute(table.insert().values(**key, **values))


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # WAL + a busy timeout: parallel flow runs write their own rows without "database is locked".
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
