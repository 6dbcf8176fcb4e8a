"""`moisson validate` as a user runs it, against `frictionless validate` and the real Validata, in one run.

Each side is its own command in a fresh process, start-up included, 3 runs each (min and median):

- 1,000,000 generated SCDL subventions rows (0.8 % broken, nine rules): `moisson validate FILE --schema S --json`
  against `frictionless validate --limit-errors 100000000 --schema S --json FILE` (goal: 20x);
- 100,000 rows of the same: moisson against the real Validata 0.12.5 (`tests/peers/validata_peer.py`'s venv and
  runner, one process per run; goal: 8x);
- start-up: `moisson validate` on a 1-row file against Validata on it, and `moisson check` on the bundled catalog
  (goal: 0.5 s), as `startup_speed.py` measures them.

Both validators must find the same errors on (row, field, type); the Validata custom checks, which frictionless
ignores, are left out of that comparison (counted apart).

    .venv/bin/python benchmarks/validate_speed.py [--rows 1000000] [--runs 3] [--data DIR] [--skip-frictionless]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.harness import (
    HEADER,
    MOISSON,
    SCHEMA,
    cpu,
    data_dir,
    frictionless_runs,
    repeat,
    result_line,
    row,
    scdl_file,
    spread,
)
from benchmarks.startup_speed import startup
from tests.peers.validata_peer import RUNNER, available, validata_python

CUSTOM = {c["name"] for c in json.loads(SCHEMA.read_text(encoding="utf-8")).get("custom_checks", [])}


def ours(path: Path, runs: int) -> tuple[list, set, int]:
    """Runs of `moisson validate`, its errors but the custom checks' as keys, and how many custom ones."""
    found = repeat([*MOISSON, "validate", str(path), "--schema", str(SCHEMA), "--json"], runs, ok=(0, 1),
                   label="moisson validate")
    errors = json.loads(found[-1].stdout)["errors"]
    keys = {(e["row"], e["field"], e["type"]) for e in errors if e.get("rule") not in CUSTOM}
    return found, keys, sum(e.get("rule") in CUSTOM for e in errors)


def frictionless(path: Path, runs: int) -> tuple[list, set]:
    """Runs of `frictionless validate` with its error limit lifted, and its errors as keys."""
    found = frictionless_runs(path, runs)
    report = json.loads(found[-1].stdout)
    errors = [e for task in report["tasks"] for e in task["errors"]] + report["errors"]
    return found, {(e.get("rowNumber"), e.get("fieldName"), e["type"]) for e in errors}


def validata(path: Path, runs: int) -> tuple[list, set]:
    """Runs of the real Validata on one file (its own venv and runner), and its errors as keys."""
    found = repeat([str(validata_python()), str(RUNNER), str(SCHEMA), str(path)], runs, label="Validata")
    errors = json.loads(found[-1].stdout.splitlines()[-1])["errors"]
    return found, {(e["row"], e["field"], e["type"]) for e in errors}


def compare(label: str, mine: set, theirs: set) -> bool:
    """Print whether both found the same errors, with a few differences."""
    same = mine == theirs
    print(f"same errors as {label} on (row, field, type): {same} ({len(mine & theirs):,} shared, "
          f"{len(mine - theirs)} only moisson, {len(theirs - mine)} only {label})")
    for who, extra in (("only moisson", mine - theirs), (f"only {label}", theirs - mine)):
        for key in sorted(extra, key=str)[:5]:
            print(f"  {who}: {key}")
    return same


def main() -> None:
    """Measure and print the three comparisons."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--validata-rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--data", type=Path, help="Folder of the generated files (kept between runs).")
    parser.add_argument("--skip-frictionless", action="store_true", help="Leave out the slow frictionless side.")
    args = parser.parse_args()
    folder = data_dir(args.data)
    big, medium = (scdl_file(folder, n) for n in (args.rows, args.validata_rows))
    figures: dict[str, object] = {}
    print(f"{args.runs} runs each, fresh processes; schema scdl/subventions 2.1.1\n{HEADER}")

    mine, keys, custom = ours(big, args.runs)
    print(row(f"moisson validate, {args.rows:,} rows", mine, args.rows), flush=True)
    figures["moisson_1m_s"] = spread(mine)[1]
    if not args.skip_frictionless:
        theirs, their_keys = frictionless(big, args.runs)
        print(row(f"frictionless validate, {args.rows:,} rows", theirs, args.rows))
        ratio = spread(theirs)[1] / spread(mine)[1]
        print(f"speed-up: {ratio:.1f}x frictionless (median wall; goal 20x), {cpu(theirs) / cpu(mine):.1f}x in CPU "
              f"time; {custom:,} custom-check errors frictionless does not look for")
        figures |= {"frictionless_1m_s": spread(theirs)[1], "vs_frictionless": ratio,
                    "vs_frictionless_cpu": cpu(theirs) / cpu(mine),
                    "same_errors_frictionless": compare("frictionless", keys, their_keys)}

    mine, keys, _ = ours(medium, args.runs)
    print(row(f"moisson validate, {args.validata_rows:,} rows", mine, args.validata_rows), flush=True)
    figures["moisson_100k_s"] = spread(mine)[1]
    if available():
        theirs, their_keys = validata(medium, args.runs)
        print(row(f"Validata 0.12.5, {args.validata_rows:,} rows", theirs, args.validata_rows))
        ratio = spread(theirs)[1] / spread(mine)[1]
        print(f"speed-up: {ratio:.1f}x Validata (median wall; goal 8x), {cpu(theirs) / cpu(mine):.1f}x in CPU time")
        figures |= {"validata_100k_s": spread(theirs)[1], "vs_validata": ratio,
                    "vs_validata_cpu": cpu(theirs) / cpu(mine)}
        # Validata runs the custom checks too, so every error counts here.
        every = {(e["row"], e["field"], e["type"]) for e in json.loads(mine[-1].stdout)["errors"]}
        figures["same_errors_validata"] = compare("Validata", every, their_keys)
    else:
        print("Validata is not installed (scripts/peer-validata): its side is left out")

    figures |= startup(folder, args.runs)
    result_line("validate", **figures)


if __name__ == "__main__":
    main()
