"""Geocoding and merging on the path users run: `moisson run` in fresh processes against a real local addok.

Three runs of `moisson run`, each its own process and Prefect home:
1. geocode 10,000 addresses of the imaginary commune through the local addok (the catalog's `geocoder:`);
2. the same again: every address comes from the cache, none is sent;
3. a dataset merged from three CSV sources of 10,000 points each (same places, a few metres apart),
beside the same run on one source of 10,000 points (the baseline: what the merge adds).
Baseline of (1): the same addresses posted to addok's `/search/csv/` by bare `requests`, in a fresh process.
Needs `scripts/peer-addok`. Usage: `python -m benchmarks.geocode_merge [--rows 10000]`.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import sys
import tempfile
import textwrap
from pathlib import Path

from benchmarks.harness import HEADER, measure, moisson_run, result_line, row
from tests.peers import addok_peer

SCHEMA = {"fields": [{"name": "nom", "type": "string", "constraints": {"required": True}},
                     {"name": "adresse", "type": "string"},
                     {"name": "latitude", "type": "number"}, {"name": "longitude", "type": "number"}]}
BARE = """
import sys, requests
body = open(sys.argv[2], "rb").read()
answer = requests.post(sys.argv[1] + "/search/csv/", data=[("columns", "q"), ("delimiter", ";")],
                       files={"data": ("a.csv", body, "text/csv")}, timeout=600)
answer.raise_for_status()
print(len(answer.content.splitlines()) - 1)
"""


def catalog(work: Path, addok: str, datasets: str) -> None:
    """Write the benchmark's catalog and schema into `work`."""
    (work / "schema.json").write_text(json.dumps(SCHEMA), encoding="utf-8")
    (work / "catalog.yaml").write_text(textwrap.dedent(f"""\
        version: 1
        defaults:
          targets: [portail]
          metadata: {{license: lov2, title: Banc d'essai, description: Banc d'essai}}
          organization: {{name: Moisson-sur-Lys, insee: "59350"}}
          quality: {{allow_shrink: 1}}
        geocoder: {{url: "{addok}"}}
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
        rng = random.Random(7)
        for name in ("a", "b", "c"):
            (work / f"points-{name}.csv").write_text("nom,latitude,longitude\n" + "".join(
                f"Lieu {i},{a['lat'] + rng.uniform(-5e-5, 5e-5):.6f},{a['lon'] + rng.uniform(-7e-5, 7e-5):.6f}\n"
                for i, a in enumerate(addresses)), encoding="utf-8")
        catalog(work, addok, """\
            - id: geocodage
              schema: schema.json
              source: tableurs
              locator: {path: adresses.csv}
              prepare:
                geocode: {address: [Adresse, Code postal, Ville], citycode: "{organization.insee}",
                          into: {lat: latitude, lon: longitude}, min_score: 0.5}
                fields: {nom: {from: Nom}, adresse: {concat: [Adresse, Code postal, Ville]}}
            - id: un-seul
              schema: schema.json
              source: tableurs
              locator: {path: points-a.csv}
            - id: fusion
              schema: schema.json
              sources:
                a: {source: tableurs, locator: {path: points-a.csv}}
                b: {source: tableurs, locator: {path: points-b.csv}}
                c: {source: tableurs, locator: {path: points-c.csv}}
              merge: {distance_m: 30, lat: latitude, lon: longitude, name: nom}
            """)
        prefect = work / "prefect"
        bare = measure([sys.executable, "-c", BARE, addok, str(work / "bare.csv")])
        first = moisson_run(work, prefect, "geocodage", "--force")
        sent = sqlite3.connect(work / "home" / "geocode.sqlite").execute("SELECT count(*) FROM results").fetchone()
        second = moisson_run(work, prefect, "geocodage", "--force")
        again = sqlite3.connect(work / "home" / "geocode.sqlite").execute("SELECT count(*) FROM results").fetchone()
        single = moisson_run(work, prefect, "un-seul", "--force")
        merged = moisson_run(work, prefect, "fusion", "--force")
        for run, label in ((first, "geocode"), (second, "geocode again"), (single, "one source"), (merged, "merge")):
            if run.code != 0:
                sys.exit(f"{label} failed ({run.code}):\n{run.stderr[-3000:]}\n{run.stdout[-2000:]}")
        print(f"geocoding {rows:,} addresses through a local addok, merging 3 × {rows:,} points "
              "(each line a fresh process)")
        print(HEADER)
        print(row("bare requests POST /search/csv/ (baseline)", [bare], rows))
        print(row("moisson run: geocode (whole run)", [first], rows))
        print(row("moisson run: same addresses again (cache)", [second], rows))
        print(row("moisson run: one source of points (baseline)", [single], rows))
        print(row("moisson run: three sources merged", [merged], 3 * rows))
        print(f"addresses cached after the first run: {sent[0]:,}; after the second: {again[0]:,} "
              f"(the second run sent {again[0] - sent[0]} new addresses)")
        rows_out = json.loads(merged.stdout)["datasets"][0]["rows"]
        print(f"merged rows: {rows_out:,} of 3 × {rows:,} (the same places, matched)")
        result_line("geocode_merge", geocode_s=round(first.seconds, 1), bare_s=round(bare.seconds, 1),
                    cached_s=round(second.seconds, 1), single_s=round(single.seconds, 1),
                    merge_s=round(merged.seconds, 1), merge_extra_s=round(merged.seconds - single.seconds, 1))


if __name__ == "__main__":
    main()
