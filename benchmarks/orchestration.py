"""What a catalog run costs per dataset: `moisson run --all` on catalogs of 1, 20 (and 200) tiny datasets, in one run.

Each catalog (20-row SCDL files, spreadsheet source, local portal) is run twice in fresh processes: a first run
publishes every dataset (changed), a second finds nothing changed (unchanged). The cost of one dataset is
(T20 - T1) / 19, which leaves out what any run pays once (imports, the ephemeral Prefect server's start); it is
measured 3 times (min and median), after a run that creates each side's Prefect database. `--with-200` adds the
unchanged run of a 200-dataset catalog (goal: 2 minutes).
Where the seconds go comes from the task runs in the Prefect database and from the run's log (the server's start).

Goals: an unchanged dataset at most 0.5 s, a changed one at most 1.5 s; datasets run 4 at a time
(`moisson run --concurrency`, default 4). `--baseline CMD` times another `moisson` command too (another
checkout's, through a wrapper) in the same rounds, each side with its own catalogs and Prefect home, so both
meet the same load. The runs' logs are searched for the Prefect server's SQLite lock waits ("database is
locked" from a server service: a writer waits up to 60 s), which stall every run of the process when they happen.
The server is asked to log each request it answers 503 (`PREFECT_API_LOG_RETRYABLE_ERRORS`): a transaction that
read, then found another connection's write committed before its own (SQLite's busy snapshot), fails at once, and
Prefect's client sends the request again about 2 s later (its backoff, 2 ** 1 s with jitter, is not a setting);
they are counted by the statement that failed (slot acquisitions, flow run creations, ...).

    .venv/bin/python benchmarks/orchestration.py [--runs 3] [--concurrency 4] [--with-200] [--data DIR]
        [--moisson CMD] [--baseline CMD]
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import shutil
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.harness import (
    MOISSON,
    Run,
    data_dir,
    fresh,
    measure,
    moisson_env,
    result_line,
    scdl_file,
    server_seconds,
    task_times,
    write_catalog,
)

CHANGED_GOAL, UNCHANGED_GOAL, BIG_GOAL = 1.5, 0.5, 120.0
#: How the server's log starts a record (`HH:MM:SS.mmm | LEVEL | ...`), and the record of a request answered 503.
RECORD = re.compile(r"^\d\d:\d\d:\d\d\.\d+ \| ", re.MULTILINE)
RETRYABLE = "Encountered retryable exception in request"
#: What the statement of a request answered 503 was doing, by the table it wrote.
STATEMENTS = {"concurrency_limit_v2": "slot acquisitions", "flow_run": "flow run creations",
              "flow_run_state": "flow run state changes", "artifact": "artifacts", "log": "logs"}
#: Seconds Prefect's client waits before sending again a request answered 503 (2 ** 1 s, jitter aside).
RETRY_SECONDS = 2.0


def catalog_runs(folder: Path, prefect_home: Path, size: int, concurrency: int,
                 command: Sequence[str] = tuple(MOISSON)) -> tuple[Run, Run, dict]:
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
        run = measure([*command, "run", "--all", "--concurrency", str(concurrency), "--catalog",
                       str(work / "catalog.yaml"), "--json"],
                      env={**moisson_env(work, prefect_home), "PREFECT_API_LOG_RETRYABLE_ERRORS": "true"}, cwd=work)
        if run.code != 0:
            sys.exit(f"moisson run --all ({size} datasets) exited with {run.code}:\n{run.stderr[-3000:]}")
        runs.append(run)
    return runs[0], runs[1], task_times(prefect_home, size)


def records(run: Run) -> list[str]:
    """The log records of a run (a record runs to the next line starting with a time), tracebacks included."""
    starts = [m.start() for m in RECORD.finditer(run.stderr)]
    return [run.stderr[a:b] for a, b in zip(starts, [*starts[1:], len(run.stderr)], strict=True)]


def stalls(run: Run) -> int:
    """How many times a Prefect server service's SQLite write gave up waiting for a lock (60 s) during a run.

    A request answered 503 is logged twice, by the server and by uvicorn (`uvicorn.error`): neither is a service's.
    """
    return sum(1 for r in records(run) if "database is locked" in r and RETRYABLE not in r
               and "| uvicorn.error - " not in r.partition("\n")[0])


def retried(run: Run) -> collections.Counter[str]:
    """The requests the server answered 503 during a run (each sent again ~2 s later), by what they wrote."""
    counts: collections.Counter[str] = collections.Counter()
    for record in records(run):
        if RETRYABLE in record:
            table = re.search(r"\[SQL: (?:UPDATE|INSERT INTO|DELETE FROM) (\w+)", record)
            counts[STATEMENTS.get(table.group(1), table.group(1)) if table else "other"] += 1
    return counts


def said(counts: collections.Counter[str]) -> str:
    """`counts` as `n (what a, what b)`."""
    return f"{sum(counts.values())}" + (f" ({', '.join(f'{k} {v}' for k, v in counts.most_common())})"
                                        if counts else "")


def side(folder: Path, name: str, command: Sequence[str], concurrency: int) -> dict[str, float | dict]:
    """One round of one side: the 1- and 20-dataset catalogs, first and unchanged runs."""
    prefect_home = home(folder, name)
    one = catalog_runs(folder / f"side{name}", prefect_home, 1, concurrency, command)
    twenty = catalog_runs(folder / f"side{name}", prefect_home, 20, concurrency, command)
    print(f"{name or 'moisson'}: T1 {one[0].seconds:.1f} s first, {one[1].seconds:.1f} s unchanged; T20 "
          f"{twenty[0].seconds:.1f} s first, {twenty[1].seconds:.1f} s unchanged (CPU, server included: T1 "
          f"{one[0].cpu:.1f} / {one[1].cpu:.1f} s, T20 {twenty[0].cpu:.1f} / {twenty[1].cpu:.1f} s; SQLite lock "
          f"waits {sum(stalls(r) for r in (*one[:2], *twenty[:2]))}; requests answered 503 and sent again "
          f"~{RETRY_SECONDS:.0f} s later, T20 unchanged: {said(retried(twenty[1]))})", flush=True)
    return {"changed": (twenty[0].seconds - one[0].seconds) / 19,
            "unchanged": (twenty[1].seconds - one[1].seconds) / 19,
            "cpu_changed": (twenty[0].cpu - one[0].cpu) / 19, "cpu_unchanged": (twenty[1].cpu - one[1].cpu) / 19,
            "phases": twenty[2], "servers": (one[1], twenty[1]), "retried": retried(twenty[1])}


def home(folder: Path, name: str) -> Path:
    """The Prefect home of a side: its own, as task times are read back from it."""
    return folder / f"prefect-home-orchestration{name}"


def report(label: str, rounds: list[dict]) -> None:
    """The per-dataset table of one side."""
    print(f"{label + ': per dataset ((T20 - T1) / 19)':<44}{'min s':>9}{'median s':>9}{'goal s':>9}{'CPU s':>14}")
    for kind, goal in (("changed", CHANGED_GOAL), ("unchanged", UNCHANGED_GOAL)):
        values = [r[kind] for r in rounds]
        verdict = "met" if statistics.median(values) <= goal else "NOT met"
        name = "changed (first publication)" if kind == "changed" else kind
        print(f"  {name:<42}{min(values):>9.2f}{statistics.median(values):>9.2f}{goal:>9.1f}  {verdict:<8}"
              f"{statistics.median(r['cpu_' + kind] for r in rounds):>6.2f}")


def main() -> None:
    """Measure the per-dataset costs and say where the seconds go."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--with-200", action="store_true", help="Also time an unchanged 200-dataset catalog.")
    parser.add_argument("--data", type=Path)
    parser.add_argument("--moisson", help="The moisson command to time (default: this checkout's).")
    parser.add_argument("--baseline", help="Another moisson command to time in the same rounds (e.g. a wrapper "
                        "running an older checkout).")
    args = parser.parse_args()
    folder = data_dir(args.data)
    sides = {"": tuple(args.moisson.split()) if args.moisson else tuple(MOISSON)}
    if args.baseline:
        sides["-baseline"] = tuple(args.baseline.split())
    rounds: dict[str, list[dict]] = {name: [] for name in sides}
    for name, command in sides.items():
        # The first run on a Prefect home creates its database (10 s or more), which a used machine never pays.
        catalog_runs(folder / f"side{name}-warm-up", home(folder, name), 1, args.concurrency, command)
    load_before = os.getloadavg()[0]
    for _ in range(args.runs):
        for name, command in sides.items():
            rounds[name].append(side(folder, name, command, args.concurrency))
    print(f"concurrency {args.concurrency}, {args.runs} runs of each catalog, fresh processes; load average "
          f"{load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end ({os.cpu_count()} cores)")
    for name in sides:
        report(name.strip("-") or "moisson", rounds[name])
    ours = rounds[""]
    phases = [r["phases"] for r in ours]
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
    waits = statistics.median(sum(r["retried"].values()) for r in ours)
    print(f"  {'waits before a request sent again':<40}{waits * RETRY_SECONDS:>8.2f} s  ({waits:.0f} requests the "
          f"server answered 503, median; {waits * RETRY_SECONDS / 20:.2f} s a dataset, spread over the "
          f"{args.concurrency} runs at once; slot acquisitions wait inside the extract's time)")
    ready, first = zip(*(server_seconds(run) for r in rounds[""] for run in r["servers"][:1]), strict=True)
    print(f"  once per command: {statistics.median(b or 0 for b in ready):.2f} s from the start until the temporary "
          f"Prefect server (launched as the command begins) answers, {statistics.median(s or 0 for s in first):.2f} "
          "s until the first flow run begins (imports, catalog, state store, concurrency limits)")
    figures: dict[str, object] = {
        "changed_s": statistics.median(r["changed"] for r in ours),
        "unchanged_s": statistics.median(r["unchanged"] for r in ours),
        "changed_cpu_s": statistics.median(r["cpu_changed"] for r in ours),
        "unchanged_cpu_s": statistics.median(r["cpu_unchanged"] for r in ours), "concurrency": args.concurrency,
        "load_average": round(load_before, 1)}
    if args.with_200:
        for name, command in sides.items():
            _, big, _ = catalog_runs(folder / f"side{name}", home(folder, name), 200,
                                     args.concurrency, command)
            print(f"{name.strip('-') or 'moisson'}: 200 unchanged datasets: {big.seconds:.1f} s, {big.cpu:.1f} s "
                  f"CPU (goal ≤ {BIG_GOAL:.0f} s): {'met' if big.seconds <= BIG_GOAL else 'NOT met'}; SQLite lock "
                  f"waits {stalls(big)}; requests answered 503 {said(retried(big))}; load average "
                  f"{os.getloadavg()[0]:.1f}", flush=True)
            if not name:
                figures["unchanged_200_s"] = big.seconds
    result_line("orchestration", **figures)


if __name__ == "__main__":
    main()
