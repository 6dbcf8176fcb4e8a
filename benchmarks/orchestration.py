"""What a catalog run costs per dataset: `moisson run --all` on catalogs of 1, 20 (and 200) tiny datasets, in one run.

Each catalog (20-row SCDL files, spreadsheet source, local portal) is run twice in fresh processes: a first run
publishes every dataset (changed), a second finds nothing changed (unchanged). The cost of one dataset is
(T20 - T1) / 19, which leaves out what any run pays once (imports, the ephemeral Prefect server's start); it is
measured 3 times (min and median). `--with-200` adds the unchanged run of a 200-dataset catalog (goal: 2 minutes).
Where the seconds go comes from the task runs in the Prefect database and from the run's log (the server's start).

Goals: an unchanged dataset at most 0.5 s, a changed one at most 1.5 s; datasets run 4 at a time
(`moisson run --concurrency`, default 4).

    .venv/bin/python benchmarks/orchestration.py [--runs 3] [--concurrency 4] [--with-200] [--data DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.harness import (
    Run,
    data_dir,
    fresh,
    moisson_run,
    result_line,
    scdl_file,
    server_seconds,
    task_times,
    write_catalog,
)

CHANGED_GOAL, UNCHANGED_GOAL, BIG_GOAL = 1.5, 0.5, 120.0


def catalog_runs(folder: Path, prefect_home: Path, size: int, concurrency: int) -> tuple[Run, Run, dict]:
    """The first (every dataset changed) and second (nothing changed) run of a `size`-dataset catalog."""
    work = fresh(folder / f"orchestration-{size}")
    tiny = scdl_file(folder, 20)
    root = fresh(work / "files")
    names = {}
    for i in range(size):
        # Distinct files, so each dataset is its own publication (same rows: the cost does not depend on them).
        shutil.copyfile(tiny, root / f"jeu-{i:03d}.csv")
        names[f"jeu-{i:03d}"] = f"jeu-{i:03d}.csv"
    write_catalog(work, root, names)
    runs = []
    for _ in range(2):
        run = moisson_run(work, prefect_home, "--all", "--concurrency", str(concurrency))
        if run.code != 0:
            sys.exit(f"moisson run --all ({size} datasets) exited with {run.code}:\n{run.stderr[-3000:]}")
        runs.append(run)
    return runs[0], runs[1], task_times(prefect_home, size)


def main() -> None:
    """Measure the per-dataset costs and say where the seconds go."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--with-200", action="store_true", help="Also time an unchanged 200-dataset catalog.")
    parser.add_argument("--data", type=Path)
    args = parser.parse_args()
    folder = data_dir(args.data)
    prefect_home = folder / "prefect-home-orchestration"  # its own: task times are read back from it
    changed, unchanged, phases, servers = [], [], [], []
    cpu_changed, cpu_unchanged = [], []
    load_before = os.getloadavg()[0]
    for _ in range(args.runs):
        one = catalog_runs(folder, prefect_home, 1, args.concurrency)
        twenty = catalog_runs(folder, prefect_home, 20, args.concurrency)
        changed.append((twenty[0].seconds - one[0].seconds) / 19)
        unchanged.append((twenty[1].seconds - one[1].seconds) / 19)
        cpu_changed.append((twenty[0].cpu - one[0].cpu) / 19)
        cpu_unchanged.append((twenty[1].cpu - one[1].cpu) / 19)
        phases.append(twenty[2])
        servers.append((one[1], twenty[1]))
        print(f"T1 {one[0].seconds:.1f} s first, {one[1].seconds:.1f} s unchanged; T20 {twenty[0].seconds:.1f} s "
              f"first, {twenty[1].seconds:.1f} s unchanged (CPU, server included: T1 {one[0].cpu:.1f} / "
              f"{one[1].cpu:.1f} s, T20 {twenty[0].cpu:.1f} / {twenty[1].cpu:.1f} s)", flush=True)
    print(f"concurrency {args.concurrency}, {args.runs} runs of each catalog, fresh processes; load average "
          f"{load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end ({os.cpu_count()} cores)")
    print(f"{'per dataset ((T20 - T1) / 19)':<44}{'min s':>9}{'median s':>9}{'goal s':>9}{'CPU s':>14}")
    for label, values, goal, cpus in (("changed (first publication)", changed, CHANGED_GOAL, cpu_changed),
                                      ("unchanged", unchanged, UNCHANGED_GOAL, cpu_unchanged)):
        verdict = "met" if statistics.median(values) <= goal else "NOT met"
        print(f"{label:<44}{min(values):>9.2f}{statistics.median(values):>9.2f}{goal:>9.1f}  {verdict:<8}"
              f"{statistics.median(cpus):>6.2f}")
    print("where the seconds go in the unchanged 20-dataset run (median over runs; task times summed over the 20 "
          "flow runs, which overlap):")
    for name in phases[0]:
        print(f"  {name:<40}{statistics.median(p.get(name, 0.0) for p in phases):>8.2f} s"
              f"  ({statistics.median(p.get(name, 0.0) for p in phases) / 20:.2f} s a dataset)")
    # What a flow run spends besides its tasks: its own start and end on the server, artifacts, the state store,
    # settling an unchanged publication.
    outside = statistics.median(p["flow runs (whole)"] - sum(v for k, v in p.items() if k != "flow runs (whole)")
                                for p in phases)
    print(f"  {'flow runs outside their tasks':<40}{outside:>8.2f} s  ({outside / 20:.2f} s a dataset)")
    before, start = zip(*(server_seconds(run) for run, _ in servers), strict=True)
    print(f"  once per command: {statistics.median(b or 0 for b in before):.2f} s from the start to the server's "
          f"start (imports, catalog, state store), {statistics.median(s or 0 for s in start):.2f} s for the "
          "ephemeral Prefect server to answer")
    figures: dict[str, object] = {"changed_s": statistics.median(changed), "unchanged_s": statistics.median(unchanged),
                                  "changed_cpu_s": statistics.median(cpu_changed),
                                  "unchanged_cpu_s": statistics.median(cpu_unchanged), "concurrency": args.concurrency,
                                  "load_average": round(load_before, 1)}
    if args.with_200:
        _, big, _ = catalog_runs(folder, prefect_home, 200, args.concurrency)
        print(f"200 unchanged datasets: {big.seconds:.1f} s, {big.cpu:.1f} s CPU (goal ≤ {BIG_GOAL:.0f} s): "
              f"{'met' if big.seconds <= BIG_GOAL else 'NOT met'}; load average {os.getloadavg()[0]:.1f}")
        figures["unchanged_200_s"] = big.seconds
    result_line("orchestration", **figures)


if __name__ == "__main__":
    main()
