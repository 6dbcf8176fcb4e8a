"""Requests per publication of the `datagouv` target against a write-always client, on the real udata peer.

Starts udata 17.18.0 on mongomock (`.peers/udata`, made by `scripts/peer-udata`) behind the counting
proxy of the tests, then publishes one generated dataset of N rows three times (first publication,
new content, unchanged) with:

- moisson: `DataGouvTarget.publish` (finds the dataset, compares, writes only what changed, verifies
  by downloading the served file and re-reading the dataset);
- baseline: what a plain script does each run, as `datagouv-client` does an upload: create the dataset
  once, then at every run PUT the dataset, upload the file over the resource, PUT the resource's metadata.

Prints the peer's startup time and, for each run, requests (writes) and seconds of both.

    .venv/bin/python benchmarks/datagouv_requests.py [--rows 10000]
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import SecretStr

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from moisson.connectors.base import DatasetDescriptor, Publication  # noqa: E402
from moisson.connectors.csvfile import write_csv  # noqa: E402
from moisson.connectors.targets.datagouv import DataGouvTarget  # noqa: E402
from moisson.connectors.testing import republish  # noqa: E402
from moisson.core.http import HttpClient  # noqa: E402
from moisson.core.metadata import DatasetMetadata  # noqa: E402
from tests.peers.udata_peer import FaultProxy, Peer, running_udata  # noqa: E402


def publication(folder: Path, dataset_id: str, rows: int, version: int) -> Publication:
    """A dataset of `rows` rows; `version` changes every value."""
    frame = pd.DataFrame({"id": range(rows), "nom": [f"Point {i}-{version}" for i in range(rows)],
                          "valeur": [i * version for i in range(rows)]})
    data = folder / f"{dataset_id}-v{version}.parquet"
    frame.to_parquet(data)
    meta = DatasetMetadata(title=f"Benchmark {dataset_id}", description="Généré par le benchmark.",
                           keywords=["benchmark"], license="lov2", frequency="daily")
    return Publication(DatasetDescriptor(id=dataset_id, locator={}, metadata=meta), data, rows,
                       hashlib.sha256(frame.to_csv().encode()).hexdigest(), "m")


def baseline(peer: Peer, proxy: FaultProxy, pub: Publication, state: dict[str, str]) -> None:
    """Write everything, every time."""
    http = HttpClient(f"{proxy.url}/api/1", headers={"X-API-KEY": peer.api_key})
    meta = pub.dataset.metadata
    body = {"title": meta.title, "description": meta.description, "tags": meta.keywords, "license": meta.license,
            "frequency": meta.frequency, "private": False}
    csv = pub.data.with_suffix(".csv")
    write_csv(pub.data, csv)
    if "id" not in state:
        state["id"] = http.json("POST", "datasets/", json={**body, "organization": peer.org_id})["id"]
    else:
        http.json("PUT", f"datasets/{state['id']}/", json=body)
    upload = f"datasets/{state['id']}/resources/{state['rid']}/upload/" if "rid" in state else \
        f"datasets/{state['id']}/upload/"
    time.sleep(1.1)  # both clients would otherwise hit udata's same-second FileExists 500
    with csv.open("rb") as handle:
        state["rid"] = http.json("POST", upload, files={"file": (csv.name, handle, "text/csv")})["id"]
    http.json("PUT", f"datasets/{state['id']}/resources/{state['rid']}/", json={"title": f"{meta.title} (CSV)"})


def measure(proxy: FaultProxy, work: Callable[[], Any]) -> tuple[Any, int, int, float]:
    """(what `work()` returned, requests, writes, seconds)."""
    start, began = len(proxy.log), time.perf_counter()
    value = work()
    seconds = time.perf_counter() - began
    return value, len(proxy.log) - start, len(proxy.writes(start)), seconds


def main() -> None:
    """Run the comparison and print it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, running_udata(Path(tmp)) as peer:
        proxy = FaultProxy(peer.base_url)
        print(f"udata peer startup: {peer.startup_seconds:.1f} s")
        target = DataGouvTarget(DataGouvTarget.Config(api=f"{proxy.url}/api/1", organization=peer.org_id,
                                                      api_key=SecretStr(peer.api_key)))
        folder = Path(tmp)
        ours = [publication(folder, "ours", args.rows, v) for v in (1, 2, 2)]
        theirs = [publication(folder, "baseline", args.rows, v) for v in (1, 2, 2)]
        state: dict[str, str] = {}
        print(f"{'run':<10} {'moisson req (writes)':>22} {'s':>6}   {'baseline req (writes)':>22} {'s':>6}")
        result = None
        for label, mine, base in zip(("first", "update", "unchanged"), ours, theirs, strict=True):
            if result is not None:
                mine = republish(mine, result)
            time.sleep(1.1)
            result, *m = measure(proxy, lambda pub=mine: target.publish(pub))
            _, *b = measure(proxy, lambda pub=base: baseline(peer, proxy, pub, state))
            print(f"{label:<10} {m[0]:>15} ({m[1]}) {m[2]:>10.2f}   {b[0]:>15} ({b[1]}) {b[2] - 1.1:>10.2f}"
                  f"   [{result.status}]")
        print("moisson's counts include one download of the served file after sending one (verification).")
        proxy.close()


if __name__ == "__main__":
    main()
