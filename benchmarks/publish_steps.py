"""Peak memory and time of each step of publishing a big table to the local portal, each in a fresh process.

A diagnostic of the product's own functions (the README's figures for the whole run come from `run_speed.py`):
the checked table is the spreadsheet source's extract of the generated SCDL subventions file (text columns, as the
quality gate publishes them) with `latitude`/`longitude` text columns added, so the portal also writes the map's
points. Each step runs in its own interpreter; the GeoJSON points and the charts also run as they were written
before they were streamed (the code of commit `BASELINE`, read from git), side by side.

    .venv/bin/python benchmarks/publish_steps.py [--rows 1000000] [--data DIR]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.harness import HEADER, REPO, SCHEMA, data_dir, measure, result_line, row, scdl_file

#: The commit whose per-row GeoJSON writer and whole-column charts are the baseline.
BASELINE = "7a9bd92"
PREPARE = """
import sys
from pathlib import Path
import numpy as np, pyarrow as pa, pyarrow.compute as pc, pyarrow.parquet as pq
from moisson.connectors.base import DatasetDescriptor
from moisson.connectors.sources.spreadsheet import SpreadsheetSource
csv, out = Path(sys.argv[1]), Path(sys.argv[2])
extract = SpreadsheetSource(SpreadsheetSource.Config(root=csv.parent)).extract(
    DatasetDescriptor(id="texte", locator={"path": csv.name}), out.parent)
rng = np.random.default_rng(7)
source = pq.ParquetFile(extract.path)
schema = source.schema_arrow.append(pa.field("latitude", pa.string())).append(pa.field("longitude", pa.string()))
with pq.ParquetWriter(out, schema) as writer:
    for batch in source.iter_batches(65_536):
        lat = pc.cast(pa.array(np.round(rng.uniform(42, 51, batch.num_rows), 6)), pa.string())
        lon = pc.cast(pa.array(np.round(rng.uniform(-4, 8, batch.num_rows), 6)), pa.string())
        writer.write_batch(pa.RecordBatch.from_arrays([*batch.columns, lat, lon], schema=schema))
"""
#: Each step: the code run in a fresh interpreter, given the table, an output folder and the schema.
STEPS = {
    "CSV (render_csv)": "from moisson.connectors.csvfile import render_csv\nrender_csv(data, out / 'x.csv')",
    "rows digest (core.digest)": "from moisson.core.digest import parquet_digest\nparquet_digest(data)",
    "charts": "from moisson.connectors.targets.local.charts import chart_data\nchart_data(data, schema, None)",
    "charts · baseline": "chart_data = baseline('connectors/targets/local/charts.py').chart_data\n"
                         "chart_data(data, schema, None)",
    "GeoJSON points": "from moisson.connectors.targets.local.geojson import write_points\n"
                      "write_points(data, out / 'p.geojson', ('latitude', 'longitude'), frozenset())",
    "GeoJSON points · baseline": "write_points = baseline('connectors/targets/local/geojson.py').write_points\n"
                                 "write_points(data, out / 'p.geojson', ('latitude', 'longitude'), frozenset())",
    "local portal publish (whole)": """
import hashlib
from moisson.connectors.base import DatasetDescriptor, Publication
from moisson.connectors.targets.local import LocalTarget
from moisson.core.metadata import DatasetMetadata
target = LocalTarget(LocalTarget.Config(path=out / 'portail', base_url='https://banc-essai.example/od/'))
target.publish(Publication(dataset=DatasetDescriptor(id='subventions', locator={}, metadata=DatasetMetadata(
    title='Subventions', license='lov2')), data=data, rows=0, content_hash='x', metadata_hash='y',
    table_schema=schema, geometry=None))""",
}
PRELUDE = f"""
import importlib.util, json, subprocess, sys, tempfile
from pathlib import Path
data, out, schema = Path(sys.argv[1]), Path(sys.argv[2]), json.loads(Path(sys.argv[3]).read_text())
def baseline(path):
    source = subprocess.run(['git', 'show', '{BASELINE}:' + path], capture_output=True, text=True, check=True,
                            cwd={str(REPO)!r}).stdout
    module = Path(tempfile.mkdtemp()) / 'baseline.py'
    module.write_text(source)
    spec = importlib.util.spec_from_file_location('baseline', module)
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return loaded
"""


def published_table(folder: Path, rows: int) -> Path:
    """The checked-table stand-in of `rows` rows in `folder`, made once (in a child process) and reused after."""
    table = folder / f"published-{rows}.parquet"
    if not table.exists():
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run([sys.executable, "-c", PREPARE, str(scdl_file(folder, rows)), str(Path(tmp) / table.name)],
                           check=True, cwd=REPO)
            (Path(tmp) / table.name).replace(table)
    return table


def main() -> None:
    """Make the table once, run each step in a fresh process, print the table and the RESULT line."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--data", type=Path)
    args = parser.parse_args()
    table = published_table(data_dir(args.data), args.rows)
    runs = {}
    for label, code in STEPS.items():
        with tempfile.TemporaryDirectory() as out:
            run = measure([sys.executable, "-c", PRELUDE + code, str(table), out, str(SCHEMA)], cwd=REPO)
        if run.code:
            sys.exit(f"{label} exited with {run.code}:\n{run.stderr[-3000:]}")
        runs[label] = [run]
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"\npublishing steps on {args.rows:,} rows ({table.stat().st_size / 2**20:,.0f} MiB of Parquet, 18 text "
          f"columns with lat/lon), one fresh process each (imports included); {os.cpu_count()} cores, load "
          f"average {load}")
    print(HEADER)
    for label, done in runs.items():
        print(row(label, done, args.rows))
    result_line("publish_steps", rows=args.rows, **{label: {"cpu_s": round(done[0].cpu, 1),
                                                            "peak_mb": round(done[0].peak_mb)}
                                                    for label, done in runs.items()})


if __name__ == "__main__":
    main()
