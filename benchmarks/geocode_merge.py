"""Geocoding and merging on the path users run: `moisson run` in fresh processes against a real local addok.

Runs of `moisson run`, each its own process:
1. geocode 10,000 addresses of the imaginary commune through the local addok (the catalog's `geocoder:`);
   the geocode step alone is timed from the run's log (extraction logged → geocoding logged);
2. the same again: every address comes from the cache, none is sent;
3. the commune check of 10,000 points no geocoder placed (each sent to `/reverse/csv/`), then again (cached);
4. a dataset merged from three CSV sources of 10,000 points each (same places, a few metres apart),
   beside the same run on one source of 10,000 points (the baseline: what the merge adds), in a catalog
   without `geocoder:`, so no commune check mixes in.
Baselines of (1), what addok itself takes: the same addresses posted to `/search/csv/` by bare `requests`
in one file, and in parts of 1,000 four at a time as moisson sends them, in fresh processes.
addok runs as the peer does (gunicorn, 2 workers of 4 threads). Needs `scripts/peer-addok`.
Usage: `python -m benchmarks.geocode_merge [--rows 10000]`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import random
import sqlite3
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pandas as pd

from benchmarks.harness import HEADER, measure, moisson_run, result_line, row
from moisson.prepare.merge import MergeRule, merge
from tests.peers import addok_peer

SCHEMA = {"fields": [{"name": "nom", "type": "string", "constraints": {"required": True}},
                     {"name": "adresse", "type": "string"},
                     {"name": "latitude", "type": "number"}, {"name": "longitude", "type": "number"}]}
BARE = """
import sys, requests
from concurrent.futures import ThreadPoolExecutor
lines = open(sys.argv[2], "rb").read().splitlines(keepends=True)
size, parallel = int(sys.argv[3]), int(sys.argv[4])
def post(start):
    answer = requests.post(sys.argv[1] + "/search/csv/", data=[("columns", "q"), ("delimiter", ";")],
                           files={"data": ("a.csv", b"".join(lines[:1] + lines[start:start + size]), "text/csv")},
                           timeout=600)
    answer.raise_for_status()
    return len(answer.content.splitlines()) - 1
with ThreadPoolExecutor(parallel) as pool:
    print(sum(pool.map(post, range(1, len(lines), size))))
"""


def logged_seconds(stderr: str, start: str, end: str) -> float:
    """Seconds between the first log lines holding `start` and `end` (`HH:MM:SS.fff | …` lines)."""
    stamps = []
    for mark in (start, end):
        line = next(line for line in stderr.splitlines() if mark in line)
        stamps.append(dt.datetime.strptime(line.split(" ", 1)[0], "%H:%M:%S.%f"))
    return (stamps[1] - stamps[0]).total_seconds()


def catalog(work: Path, addok: str | None, datasets: str) -> None:
    """Write the benchmark's catalog (with `addok` as its geocoder, if given) and schema into `work`."""
    work.mkdir(parents=True, exist_ok=True)
    (work / "schema.json").write_text(json.dumps(SCHEMA), encoding="utf-8")
    (work / "catalog.yaml").write_text(textwrap.dedent(f"""\
        version: 1
        defaults:
          targets: [portail]
          metadata: {{license: lov2, title: Banc d'essai, description: Banc d'essai}}
          organization: {{name: Moisson-sur-Lys, insee: "59350"}}
          quality: {{allow_shrink: 1}}
        {f'geocoder: {{url: "{addok}"}}' if addok else ""}
        sources:
          tableurs: {{connector: spreadsheet, config: {{root: .}}}}
        targets:
          portail: {{connector: local, config: {{path: ./portal, harvestable: false}}}}
        datasets:
        """) + textwrap.indent(textwrap.dedent(datasets), "  "), encoding="utf-8")


def main() -> None:
    """Generate the data, start addok, time the runs, print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000)
    rows = parser.parse_args().rows
    if not addok_peer.available():
        sys.exit("addok is not installed: run scripts/peer-addok")
    addresses = [a for a in addok_peer.imaginary_commune_addresses(rows) if a["citycode"] == "59350"][:rows]
    with tempfile.TemporaryDirectory(prefix="moisson-bench-") as tmp, \
            addok_peer.running_addok(Path(tmp) / "addok", addresses) as addok:
        work = Path(tmp)
        lines = [f"Lieu {i};{a['housenumber']} {a['street']};{a['postcode']};{a['city']}"
                 for i, a in enumerate(addresses)]
        (work / "adresses.csv").write_text("Nom;Adresse;Code postal;Ville\n" + "\n".join(lines) + "\n",
                                           encoding="utf-8")
        (work / "bare.csv").write_text("q\n" + "\n".join(" ".join(line.split(";")[1:]) for line in lines) + "\n",
                                       encoding="utf-8")
        catalog(work, addok, """\
            - id: geocodage
              schema: schema.json
              source: tableurs
              locator: {path: adresses.csv}
              prepare:
                geocode: {address: [Adresse, Code postal, Ville], citycode: "{organization.insee}",
                          into: {lat: latitude, lon: longitude}, min_score: 0.5}
                fields: {nom: {from: Nom}, adresse: {concat: [Adresse, Code postal, Ville]}}
            - {id: controle-communes, schema: schema.json, source: tableurs, locator: {path: points-a.csv}}
            """)
        merging = work / "fusion"
        catalog(merging, None, """\
            - {id: un-seul, schema: schema.json, source: tableurs, locator: {path: points-a.csv}}
            - id: fusion
              schema: schema.json
              sources:
                a: {source: tableurs, locator: {path: points-a.csv}}
                b: {source: tableurs, locator: {path: points-b.csv}}
                c: {source: tableurs, locator: {path: points-c.csv}}
              merge: {distance_m: 30, lat: latitude, lon: longitude, name: nom}
            """)
        rng = random.Random(7)
        frames = {}
        for name in ("a", "b", "c"):
            text = "nom,latitude,longitude\n" + "".join(
                f"Lieu {i},{a['lat'] + rng.uniform(-5e-5, 5e-5):.6f},{a['lon'] + rng.uniform(-7e-5, 7e-5):.6f}\n"
                for i, a in enumerate(addresses))
            for folder in (work, merging):
                (folder / f"points-{name}.csv").write_text(text, encoding="utf-8")
            frames[name] = pd.read_csv(io.StringIO(text), dtype="string")
        prefect = work / "prefect"
        bare = measure([sys.executable, "-c", BARE, addok, str(work / "bare.csv"), str(rows), "1"])
        bare_parts = measure([sys.executable, "-c", BARE, addok, str(work / "bare.csv"), "1000", "4"])
        first = moisson_run(work, prefect, "geocodage", "--force")
        sent = _count(work, "results")
        second = moisson_run(work, prefect, "geocodage", "--force")
        again = _count(work, "results")
        reverse = moisson_run(work, prefect, "controle-communes", "--force")
        reversed_points = _count(work, "reverse")
        reverse_again = moisson_run(work, prefect, "controle-communes", "--force")
        single = moisson_run(merging, prefect, "un-seul", "--force")
        merged = moisson_run(merging, prefect, "fusion", "--force")
        runs = ((first, "geocode"), (second, "geocode again"), (reverse, "commune check"),
                (reverse_again, "commune check again"), (single, "one source"), (merged, "merge"))
        for run, label in runs:
            if run.code != 0:
                sys.exit(f"{label} failed ({run.code}):\n{run.stderr[-3000:]}\n{run.stdout[-2000:]}")
        step = logged_seconds(first.stderr, "rows extracted from source", "géocodage :")
        cached_step = logged_seconds(second.stderr, "rows extracted from source", "géocodage :")
        check = logged_seconds(reverse.stderr, "rows extracted from source", "commune check of")
        started = time.perf_counter()
        merged_frame, _ = merge(frames, MergeRule(distance_m=30, lat="latitude", lon="longitude", name="nom"))
        merge_s = time.perf_counter() - started
        print(f"geocoding {rows:,} addresses through a local addok, merging 3 × {rows:,} points "
              "(each line a fresh process)")
        print(HEADER)
        print(row("bare requests, one file (addok's time)", [bare], rows))
        print(row("bare requests, parts of 1000, 4 at a time", [bare_parts], rows))
        print(row("moisson run: geocode (whole run)", [first], rows))
        print(row("moisson run: same addresses again (cache)", [second], rows))
        print(row(f"moisson run: commune check, {rows:,} points", [reverse], rows))
        print(row("moisson run: commune check again (cache)", [reverse_again], rows))
        print(row("moisson run: one source of points (baseline)", [single], rows))
        print(row("moisson run: three sources merged", [merged], 3 * rows))
        print(f"geocode step alone (from the run's log): {step:.1f} s, then {cached_step:.1f} s from the cache; "
              f"commune check alone: {check:.1f} s")
        print(f"addresses cached after the first run: {sent:,}; after the second: {again:,} "
              f"(the second run sent {again - sent} new addresses); points reverse-geocoded: {reversed_points:,}")
        rows_out = json.loads(merged.stdout)["datasets"][0]["rows"]
        print(f"merged rows: {rows_out:,} of 3 × {rows:,} (the same places, matched); merge() alone in this "
              f"process: {merge_s:.2f} s for {len(merged_frame):,} rows")
        result_line("geocode_merge", geocode_s=round(first.seconds, 1), geocode_step_s=round(step, 1),
                    bare_s=round(bare.seconds, 1), bare_parts_s=round(bare_parts.seconds, 1),
                    cached_s=round(second.seconds, 1), reverse_s=round(reverse.seconds, 1),
                    reverse_step_s=round(check, 1), single_s=round(single.seconds, 1),
                    merge_s=round(merged.seconds, 1), merge_extra_s=round(merged.seconds - single.seconds, 1),
                    merge_function_s=round(merge_s, 2))


def _count(work: Path, table: str) -> int:
    return sqlite3.connect(work / "home" / "geocode.sqlite").execute(f"SELECT count(*) FROM {table}").fetchone()[0]


if __name__ == "__main__":
    main()
