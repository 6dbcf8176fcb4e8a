"""`moisson run` of a 1,000,000-row CSV to the local portal, against `frictionless validate` alone, in one run.

Both sides are commands in fresh processes, 3 runs each (min and median). moisson harvests the generated SCDL
subventions file (`benchmarks/harness.py`) from a spreadsheet source, checks it (Table Schema, custom checks,
personal data, geography, metadata, the GX suite), and publishes it to a local portal (CSV, GeoJSON when it has
points, DCAT, pages) in a new folder each time, so every run is a first publication. The Prefect home (the
ephemeral server's database) is kept between runs and warmed up by one run of a 20-row file first, as on a
machine where moisson already ran. Where the time goes comes from the task runs in that database.

Each run is made twice, the two alternating: as a command run with no API (it starts its temporary server, the
default) and on a running `moisson server` (`PREFECT_API_URL`, the way a machine serving the deployments runs
them), so both meet the same load.

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
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.harness import (
    HEADER,
    Run,
    cpu,
    data_dir,
    fresh,
    frictionless_runs,
    moisson_run,
    result_line,
    row,
    running_server,
    scdl_file,
    server_seconds,
    spread,
    task_times,
    write_catalog,
)

MEMORY_GOAL_MB = {1_000_000: 700, 10_000_000: 1536}


@dataclass
class Side:
    """One way of running the command: on its own temporary server, or on a running one (`api`)."""

    database_home: Path  # the Prefect home whose database the runs land in
    api: str | None = None
    runs: list[Run] = field(default_factory=list)
    outcomes: list[dict] = field(default_factory=list)
    timings: list[dict[str, float]] = field(default_factory=list)

    def measure(self, work: Path, prefect_home: Path) -> None:
        """One `moisson run` of the catalog in `work`; its time, outcome and phases kept."""
        done = moisson_run(work, prefect_home, "subventions", api=self.api)
        if done.code not in (0, 1):
            sys.exit(f"moisson run failed ({done.code}):\n{done.stderr[-3000:]}\n{done.stdout[-2000:]}")
        self.runs.append(done)
        self.outcomes.append(json.loads(done.stdout)["datasets"][0])
        ready, first = server_seconds(done)
        self.timings.append({**task_times(self.database_home, 1),
                             **({} if self.api else {"start until the temporary server answers": ready or 0.0}),
                             "start until the flow run begins": first or 0.0})

    def phases(self) -> dict[str, float]:
        """Median seconds per phase over the runs."""
        return {k: statistics.median(t.get(k, 0.0) for t in self.timings) for k in self.timings[0]}


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
    served_home = folder / "prefect-home-served"  # the running server's database, its task times read back too
    with running_server(served_home) as api:
        for server in (None, api):
            warm = moisson_run(work, prefect_home, "chauffe", api=server)
            if warm.code not in (0, 1):
                sys.exit(f"the warm-up run failed ({warm.code}):\n{warm.stderr[-3000:]}")
        sides = {"temporary": Side(prefect_home), "served": Side(served_home, api)}
        for _ in range(runs):  # the two ways alternate: both meet the same load
            for side in sides.values():
                work = fresh(folder / f"run-work-{args.rows}")
                write_catalog(work, folder, {"subventions": path.name})
                side.measure(work, prefect_home)
    shutil.rmtree(folder / f"run-work-{args.rows}", ignore_errors=True)
    mine = sides["temporary"].runs
    print(f"{runs} runs each, fresh processes\n{HEADER}")
    print(row(f"moisson run, {args.rows:,} rows → local portal", mine, args.rows), flush=True)
    print(row("  the same on a running moisson server", sides["served"].runs, args.rows), flush=True)
    last = sides["temporary"].outcomes[-1]
    targets = ", ".join(f"{name}: {target['status']}" for name, target in last["targets"].items())
    print(f"  outcome: {last['status']}, {last['rows']:,} rows, {last['quality']['errors']:,} quality errors, "
          f"targets: {targets}")
    phases = {name: side.phases() for name, side in sides.items()}
    print(f"  where the time goes (median of the runs, seconds):{'temporary':>14}{'served':>10}")
    for name in phases["temporary"]:
        print(f"    {name:<46}{phases['temporary'][name]:>10.2f}{phases['served'].get(name, 0.0):>10.2f}")
    peak_goal = MEMORY_GOAL_MB.get(args.rows, 700)
    peak = max(r.peak_mb for r in mine)
    print(f"peak RSS {peak:,.0f} MB (goal ≤ {peak_goal:,} MB): {'met' if peak <= peak_goal else 'NOT met'}")
    served = spread(sides["served"].runs)[1]
    figures: dict[str, object] = {"rows": args.rows, "moisson_run_s": spread(mine)[1], "peak_mb": peak,
                                  "moisson_run_served_s": served, "phases": phases["temporary"],
                                  "phases_served": phases["served"]}
    if not args.skip_frictionless:
        theirs = frictionless_runs(path, runs)
        print(row(f"frictionless validate alone, {args.rows:,} rows", theirs, args.rows))
        share = spread(mine)[1] / spread(theirs)[1]
        print(f"moisson run takes {share:.2f}x frictionless' validation time (median wall; goal ≤ 0.25x): "
              f"{'met' if share <= 0.25 else 'NOT met'}; {cpu(mine) / cpu(theirs):.2f}x in CPU time; "
              f"{served / spread(theirs)[1]:.2f}x on a running server")
        figures |= {"frictionless_s": spread(theirs)[1], "share_of_frictionless": share,
                    "share_of_frictionless_served": served / spread(theirs)[1],
                    "share_of_frictionless_cpu": cpu(mine) / cpu(theirs)}
    result_line("run", **figures)


if __name__ == "__main__":
    main()
