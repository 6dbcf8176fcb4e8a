"""`moisson run` of a 1,000,000-row CSV to the local portal, against `frictionless validate` alone, in one run.

Both sides are commands in fresh processes, 3 runs each (min and median). moisson harvests the generated SCDL
subventions file (`benchmarks/harness.py`) from a spreadsheet source, checks it (Table Schema, custom checks,
personal data, geography, metadata, the GX suite), and publishes it to a local portal (CSV, GeoJSON when it has
points, DCAT, pages) in a new folder each time, so every run is a first publication. The Prefect home (the
ephemeral server's database) is kept between runs and warmed up by one run of a 20-row file first, as on a
machine where moisson already ran. Where the time goes comes from the task runs in that database.

Goals: the whole run in at most 0.25x the time frictionless takes to validate the file alone, peak RSS at most
700 MB. `--rows 10000000` is the bigger-than-memory check (goal: peak RSS at most 1.5 GB; default 1 run then).

    .venv/bin/python benchmarks/run_speed.py [--rows 1000000] [--runs 3] [--data DIR] [--skip-frictionless]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.harness import (
    FRICTIONLESS,
    HEADER,
    SCHEMA,
    cpu,
    data_dir,
    fresh,
    moisson_run,
    repeat,
    result_line,
    row,
    scdl_file,
    server_seconds,
    spread,
    task_times,
    write_catalog,
)

MEMORY_GOAL_MB = {1_000_000: 700, 10_000_000: 1536}


def main() -> None:
    """Warm up, measure both sides, print the table, the phases and the verdicts."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int)
    parser.add_argument("--data", type=Path, help="Folder of the generated files (kept between runs).")
    parser.add_argument("--skip-frictionless", action="store_true", help="Leave out the slow frictionless side.")
    args = parser.parse_args()
    runs = args.runs or (3 if args.rows <= 1_000_000 else 1)
    folder = data_dir(args.data)
    path, tiny = scdl_file(folder, args.rows), scdl_file(folder, 20)
    prefect_home = folder / "prefect-home-run"  # its own: task times are read back from it
    work = fresh(folder / f"run-work-{args.rows}")
    write_catalog(work, folder, {"chauffe": tiny.name})
    warm = moisson_run(work, prefect_home, "chauffe")
    if warm.code not in (0, 1):
        sys.exit(f"the warm-up run failed ({warm.code}):\n{warm.stderr[-3000:]}")

    mine, phases, outcomes = [], [], []
    for _ in range(runs):
        work = fresh(folder / f"run-work-{args.rows}")
        write_catalog(work, folder, {"subventions": path.name})
        done = moisson_run(work, prefect_home, "subventions")
        if done.code not in (0, 1):
            sys.exit(f"moisson run failed ({done.code}):\n{done.stderr[-3000:]}\n{done.stdout[-2000:]}")
        mine.append(done)
        ready, first = server_seconds(done)
        phases.append({**task_times(prefect_home, 1), "start until the temporary server answers": ready or 0.0,
                       "start until the flow run begins": first or 0.0})
        outcomes.append(json.loads(done.stdout)["datasets"][0])
    shutil.rmtree(folder / f"run-work-{args.rows}", ignore_errors=True)
    print(f"{runs} runs each, fresh processes\n{HEADER}")
    print(row(f"moisson run, {args.rows:,} rows → local portal", mine, args.rows), flush=True)
    last = outcomes[-1]
    targets = ", ".join(f"{name}: {target['status']}" for name, target in last["targets"].items())
    print(f"  outcome: {last['status']}, {last['rows']:,} rows, {last['quality']['errors']:,} quality errors, "
          f"targets: {targets}")
    print("  where the time goes (median of the runs, seconds):")
    for name in phases[0]:
        print(f"    {name:<34}{statistics.median(p.get(name, 0.0) for p in phases):>8.2f}")
    peak_goal = MEMORY_GOAL_MB.get(args.rows, 700)
    peak = max(r.peak_mb for r in mine)
    print(f"peak RSS {peak:,.0f} MB (goal ≤ {peak_goal:,} MB): {'met' if peak <= peak_goal else 'NOT met'}")
    figures: dict[str, object] = {"rows": args.rows, "moisson_run_s": spread(mine)[1], "peak_mb": peak,
                                  "phases": {k: statistics.median(p.get(k, 0.0) for p in phases) for k in phases[0]}}
    if not args.skip_frictionless:
        theirs = repeat([*FRICTIONLESS, "validate", "--trusted", "--limit-errors", "100000000", "--schema",
                         str(SCHEMA), "--json", path.name], runs, ok=(0, 1), label="frictionless", cwd=folder)
        print(row(f"frictionless validate alone, {args.rows:,} rows", theirs, args.rows))
        share = spread(mine)[1] / spread(theirs)[1]
        print(f"moisson run takes {share:.2f}x frictionless' validation time (median wall; goal ≤ 0.25x): "
              f"{'met' if share <= 0.25 else 'NOT met'}; {cpu(mine) / cpu(theirs):.2f}x in CPU time")
        figures |= {"frictionless_s": spread(theirs)[1], "share_of_frictionless": share,
                    "share_of_frictionless_cpu": cpu(mine) / cpu(theirs)}
    result_line("run", **figures)


if __name__ == "__main__":
    main()
