"""Memory and speed of the sql source on a large PostGIS table, against `pandas.read_sql` of the whole table.

Creates a table of N rows (default 1,000,000) of Lambert-93 points with five attributes in a schema of
its own in the real PostgreSQL (127.0.0.1:5432, database `test`, dropped at the end), then exports it
to Parquet in two fresh subprocesses:

- moisson: `SqlSource.extract` (server-side cursor, chunks of `CHUNK_ROWS`, WGS84 by PostGIS, text
  columns, GeoJSON geometry);
- baseline: `pandas.read_sql` of the whole table with the geometry as WKB, the same conversion without
  geopandas (shapely + pyproj to WGS84, GeoJSON text, every column as text), then `DataFrame.to_parquet`.

Prints rows, seconds, rows/s, peak RSS (`resource.getrusage`) and the RSS the work added above the
process after its imports, plus the size of the table as a pandas frame (`memory_usage(deep=True)`).

    .venv/bin/python benchmarks/sql_large_table.py [--rows 1000000] [--url postgresql+psycopg://…]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TABLE = "equipements"
FILL = """
CREATE TABLE {s}.{t} (id integer PRIMARY KEY, nom text, categorie text, capacite integer, maj timestamptz,
                      geom geometry(Point, 2154));
INSERT INTO {s}.{t}
SELECT i, 'Équipement n°' || i, (ARRAY['sport', 'culture', 'social', 'école'])[1 + i % 4], i % 500,
       timestamptz '2026-01-01' + i * interval '1 second',
       ST_SetSRID(ST_MakePoint(650000 + (i * 7919) % 100000, 6850000 + (i * 104729) % 100000), 2154)
FROM generate_series(1::bigint, {n}) i;
ANALYZE {s}.{t};
"""


def rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_ours(url: str, schema: str, out: Path) -> dict:
    """Export the table with the sql source."""
    from moisson.connectors.base import DatasetDescriptor
    from moisson.connectors.sources.sql import SqlSource

    start_rss = rss_mb()
    start = time.perf_counter()
    source = SqlSource(SqlSource.Config(url=url, schema=schema))
    result = source.extract(DatasetDescriptor(id="bench", locator={"table": TABLE, "geometry": "geom"}), out)
    return {"rows": result.rows, "seconds": time.perf_counter() - start, "start_rss": start_rss}


def run_baseline(url: str, schema: str, out: Path) -> dict:
    """Export the table with pandas.read_sql of the whole table, then the same conversion in one go."""
    import pandas as pd
    import shapely
    from sqlalchemy import create_engine

    from moisson.connectors.geo import reproject, rounded, to_geojson_text

    start_rss = rss_mb()
    start = time.perf_counter()
    engine = create_engine(url)
    frame = pd.read_sql(f"SELECT id, nom, categorie, capacite, maj, ST_AsBinary(geom) AS geom "
                        f"FROM {schema}.{TABLE} ORDER BY id", engine)
    frame_bytes = int(frame.memory_usage(deep=True).sum())
    geoms = rounded(reproject(shapely.from_wkb(frame.pop("geom").map(bytes).to_numpy()), 2154))
    text = frame.astype("string")
    text["geometry"] = to_geojson_text(geoms)
    text.to_parquet(out / "bench.parquet", index=False)
    return {"rows": len(text), "seconds": time.perf_counter() - start, "start_rss": start_rss,
            "frame_mb": frame_bytes / 2**20}


def measure(which: str, url: str, schema: str) -> dict:
    """Run one side in a fresh interpreter, so that each peak RSS is its own."""
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run([sys.executable, __file__, "--child", which, "--url", url, "--schema", schema,
                               "--out", tmp], capture_output=True, text=True, cwd=REPO, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{which} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    """Fill the table, measure both sides in subprocesses, print the comparison, drop the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--url", default=URL, help="SQLAlchemy URL of a PostgreSQL database with PostGIS")
    parser.add_argument("--child", choices=("ours", "baseline"), help=argparse.SUPPRESS)
    parser.add_argument("--schema", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        sys.path.insert(0, str(REPO))
        result = (run_ours if args.child == "ours" else run_baseline)(args.url, args.schema, args.out)
        print(json.dumps({**result, "peak_rss": rss_mb()}))
        return

    from sqlalchemy import create_engine

    schema = f"moisson_bench_{uuid.uuid4().hex[:8]}"
    engine = create_engine(args.url)
    print(f"filling {schema}.{TABLE} with {args.rows:,} rows…", flush=True)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS postgis")
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
        conn.exec_driver_sql(FILL.format(s=schema, t=TABLE, n=args.rows), execution_options={"no_parameters": True})
        size = conn.exec_driver_sql(f"SELECT pg_total_relation_size('{schema}.{TABLE}')").scalar()
    try:
        results = {which: measure(which, args.url, schema) for which in ("ours", "baseline")}
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        engine.dispose()

    print(f"\ntable: {args.rows:,} rows, {size / 2**20:.0f} MiB in PostgreSQL, "
          f"{results['baseline']['frame_mb']:.0f} MiB as a pandas frame (read_sql, before conversion)\n")
    print(f"{'':<28}{'rows':>10}{'seconds':>10}{'rows/s':>10}{'peak RSS MiB':>14}{'added MiB':>11}")
    for which, label in (("ours", "moisson SqlSource.extract"), ("baseline", "pandas.read_sql + convert")):
        r = results[which]
        print(f"{label:<28}{r['rows']:>10,}{r['seconds']:>10.1f}{r['rows'] / r['seconds']:>10,.0f}"
              f"{r['peak_rss']:>14.0f}{r['peak_rss'] - r['start_rss']:>11.0f}")
    ours, base = results["ours"], results["baseline"]
    print(f"\nmoisson: {base['peak_rss'] / ours['peak_rss']:.1f}× less peak memory, "
          f"{base['seconds'] / ours['seconds']:.2f}× the baseline's speed")


if __name__ == "__main__":
    main()
