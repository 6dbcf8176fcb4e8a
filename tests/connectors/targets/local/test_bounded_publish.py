"""Writing the portal's files from a big checked table holds a few batches of it, not the table.

Each writer runs in a fresh interpreter on a Parquet file of many row groups; Arrow's memory pool tells the most
it held at once. pyarrow pre-buffers by default and keeps every column chunk it pre-read until the file is closed:
a reader that forgets to turn that off holds the whole table by its last batch (the control shows it).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

ROWS = 600_000
GROUP_ROWS = 20_000
STEPS = {
    "csv": "from moisson.connectors.csvfile import render_csv\nrender_csv(data, out / 'x.csv')",
    "hash": "from moisson.core.digest import parquet_digest\nparquet_digest(data)",
    "charts": "from moisson.connectors.targets.local.charts import chart_data\nchart_data(data, None, None)",
    "points": "from moisson.connectors.targets.local.geojson import write_points\n"
              "write_points(data, out / 'p.geojson', ('latitude', 'longitude'), frozenset())",
    "geometry": "from moisson.connectors.targets.local.geojson import write_geojson\n"
                "write_geojson(data, out / 'g.geojson', 'geom', frozenset(), 'jeu-test')",
    "control": "import pyarrow.parquet as pq\nfor batch in pq.ParquetFile(data).iter_batches(65_536): pass",
}
CODE = """
import json, sys
from pathlib import Path
import pyarrow as pa
data, out = Path(sys.argv[1]), Path(sys.argv[2])
{step}
print(json.dumps(pa.default_memory_pool().max_memory()))
"""


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """Text columns with lat/lon and a Point geometry, in row groups of 20,000 rows; and its size in Arrow."""
    rng = np.random.default_rng(5)
    lat = pc.cast(pa.array(np.round(rng.uniform(42, 51, ROWS), 6)), pa.string())
    lon = pc.cast(pa.array(np.round(rng.uniform(-4, 8, ROWS), 6)), pa.string())
    numbers = pc.cast(pa.array(np.arange(ROWS)), pa.string())
    columns = {
        "nom": pc.binary_join_element_wise("Association sportive et culturelle n° ", numbers, ""),
        "objet": pc.binary_join_element_wise("Soutien à la saison culturelle, dossier ", numbers, " \"2024\"", ""),
        "nature": pa.array(np.array(["aide en numéraire", "aide en nature"])[np.arange(ROWS) % 2]),
        "latitude": lat, "longitude": lon,
        "geom": pc.binary_join_element_wise('{"type": "Point", "coordinates": [', lon, ", ", lat, "]}", ""),
    }
    whole = pa.table(columns)
    path = tmp_path_factory.mktemp("publie") / "clean.parquet"
    pq.write_table(whole, path, row_group_size=GROUP_ROWS)
    return path, whole.nbytes


def held(step: str, data: Path, out: Path) -> int:
    done = subprocess.run([sys.executable, "-c", CODE.format(step=STEPS[step]), str(data), str(out)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1])


def test_the_control_holds_the_table(table: tuple[Path, int], tmp_path: Path) -> None:
    data, size = table
    assert held("control", data, tmp_path) > size / 2, "pre-buffering no longer holds the file: the control is moot"


@pytest.mark.parametrize("step", ["csv", "hash", "charts", "points", "geometry"])
def test_a_writer_holds_a_few_batches(step: str, table: tuple[Path, int], tmp_path: Path) -> None:
    data, size = table
    assert held(step, data, tmp_path) < size / 3
