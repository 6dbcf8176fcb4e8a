"""Speed and memory of the wfs source on a 100,000-feature layer served by a real MapServer 8, against bare paging.

Writes the MapServer peer's GeoPackage (Lambert-93 points near Lille) with N features, serves it
with `wfs_maxfeatures` = the page size, then times in the same run, each in a fresh process:

- floor: bare `requests` GETs of the very pages moisson asks for (WFS 2.0, COUNT/STARTINDEX, the
  GeoJSON format), bodies read and dropped;
- moisson: `WfsSource.extract` (capabilities, DescribeFeatureType, paging, parsing, reprojection to
  WGS84, Parquet written page by page).

Target: moisson within 1.5x the floor (min and median of `--repeat` runs). Memory: moisson's peak
RSS on the whole layer and on a quarter of it, to show it stays flat with the layer size.

    .venv/bin/python benchmarks/wfs_harvest.py [--features 100000] [--page-size 1000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.peers import mapserver_peer  # noqa: E402

PYTHON = sys.executable

FLOOR = """
import resource, sys, time, requests
url, total, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
session, began, received = requests.Session(), time.perf_counter(), 0
for start in range(0, total, size):
    params = {"SERVICE": "WFS", "VERSION": "2.0.0", "REQUEST": "GetFeature", "TYPENAMES": "ms:lieux",
              "COUNT": str(size), "STARTINDEX": str(start), "OUTPUTFORMAT": "application/json; subtype=geojson",
              "SRSNAME": "urn:ogc:def:crs:EPSG::2154"}
    answer = session.get(url, params=params, timeout=600)
    answer.raise_for_status()
    received += len(answer.content)
print(time.perf_counter() - began, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, received)
"""

MOISSON = """
import resource, sys, tempfile, time
from pathlib import Path
from pydantic import SecretStr
from moisson.connectors.base import DatasetDescriptor
from moisson.connectors.sources.wfs import WfsSource
url, size = sys.argv[1], int(sys.argv[2])
began = time.perf_counter()
source = WfsSource(WfsSource.Config(url=SecretStr(url), page_size=size, retries=0))
with tempfile.TemporaryDirectory() as out:
    result = source.extract(DatasetDescriptor(id="lieux", locator={"layer": "lieux"}), Path(out))
print(time.perf_counter() - began, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, result.rows)
"""


def run(code: str, *args: object) -> tuple[float, int, int]:
    """Run `code` in a fresh interpreter; return its (seconds, peak RSS in KiB, count)."""
    done = subprocess.run([PYTHON, "-c", code, *map(str, args)], capture_output=True, text=True, check=True,
                          cwd=REPO)
    seconds, rss, count = done.stdout.split()
    return float(seconds), int(rss), int(count)


def main() -> None:
    """Serve the layer, time both sides alternately, print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--features", type=int, default=100_000)
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()
    if not mapserver_peer.available():
        sys.exit("MapServer is not installed: run scripts/peer-mapserver")
    with tempfile.TemporaryDirectory(prefix="wfs-bench-") as tmp:
        work = Path(tmp)
        print(f"writing {options.features:,} features…", flush=True)
        data = mapserver_peer.write_layer_data(work / "data", options.features, n_polygons=1)
        quarter = mapserver_peer.write_layer_data(work / "quarter", options.features // 4, n_polygons=1)
        floors, ours, rss = [], [], []
        with mapserver_peer.running_mapserver(work / "ms", data=data, maxfeatures=options.page_size) as url:
            for i in range(options.repeat):
                seconds, _, received = run(FLOOR, url, options.features, options.page_size)
                floors.append(seconds)
                seconds, peak, rows = run(MOISSON, url, options.page_size)
                assert rows == options.features, rows
                ours.append(seconds)
                rss.append(peak)
                print(f"run {i + 1}: floor {floors[-1]:.2f} s ({received / 1e6:.0f} MB), moisson {seconds:.2f} s, "
                      f"peak RSS {peak / 1024:.0f} MiB", flush=True)
        with mapserver_peer.running_mapserver(work / "ms-quarter", data=quarter,
                                              maxfeatures=options.page_size) as url:
            _, quarter_rss, rows = run(MOISSON, url, options.page_size)
            assert rows == options.features // 4, rows
    ratio_min, ratio_median = min(ours) / min(floors), statistics.median(ours) / statistics.median(floors)
    print(json.dumps({
        "features": options.features, "page_size": options.page_size, "repeat": options.repeat,
        "floor_s": {"min": round(min(floors), 2), "median": round(statistics.median(floors), 2)},
        "moisson_s": {"min": round(min(ours), 2), "median": round(statistics.median(ours), 2)},
        "ratio": {"min": round(ratio_min, 2), "median": round(ratio_median, 2), "target": 1.5},
        "peak_rss_mib": {"layer": round(max(rss) / 1024), f"quarter ({options.features // 4:,})":
                         round(quarter_rss / 1024)},
    }, indent=1))
    if ratio_median > 1.5:
        sys.exit(f"moisson is {ratio_median:.2f}x the floor (target 1.5x)")


if __name__ == "__main__":
    main()
