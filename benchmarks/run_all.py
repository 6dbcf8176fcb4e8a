"""Every speed benchmark of the product's paths, one after the other, and the table the README shows.

Runs `extract_speed.py` (the spreadsheet source reading a CSV and an xlsx), `validate_speed.py`, `floors.py`
(what no program doing the same work goes under, against frictionless's time just measured), `run_speed.py`
(1,000,000 rows, then 10,000,000 rows for the bigger-than-memory goal) and `orchestration.py --with-200`, each in
its own process, and prints their outputs, then one table of the figures against their goals and one of the
budgets the two ratio goals leave. It takes a long
while (frictionless validates 1,000,000 rows 6 times; the 10,000,000-row file is 2 GB); `--quick` runs each once
and leaves the 10,000,000 rows and the 200 datasets out.

    .venv/bin/python benchmarks/run_all.py [--quick] [--data DIR]
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: The tasks of a `moisson run`, whose summed times `run_speed.py` reads from the Prefect database.
TASKS = ("extract", "quality", "round trip", "publish")


def run(script: str, *args: str) -> dict:
    """Run one benchmark, echo its output, return the figures of its RESULT line."""
    print(f"\n$ {script} {' '.join(args)}", flush=True)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, str(HERE / script), *args], capture_output=True, text=True)
    print(done.stdout.rstrip())
    if done.returncode:
        print(f"{script} exited with {done.returncode}:\n{done.stderr[-3000:]}")
        return {}
    print(f"({time.perf_counter() - started:.0f} s)")
    lines = [json.loads(line[7:]) for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    return lines[-1] if lines else {}


def cell(value: object, fmt: str = "{:.2f}") -> str:
    """A figure, or a dash when the benchmark did not give it."""
    return "–" if value is None else fmt.format(value)


def verdict(ok: bool | None) -> str:
    """Met, not met, or not measured."""
    return "–" if ok is None else ("met" if ok else "**not met**")


def main() -> None:
    """Run the benchmarks and print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--data", type=Path)
    args = parser.parse_args()
    common = [*(["--data", str(args.data)] if args.data else []), *(["--runs", "1"] if args.quick else [])]
    e = run("extract_speed.py", *common)
    v = run("validate_speed.py", *common)
    f = run("floors.py", *common, *(["--frictionless", str(v["frictionless_1m_s"])] if v else []))
    r = run("run_speed.py", *common)
    big = {} if args.quick else run("run_speed.py", "--rows", "10000000", "--skip-frictionless", *common)
    o = run("orchestration.py", *common, *([] if args.quick else ["--with-200"]))

    def get(figures: dict, key: str) -> float | None:
        return figures.get(key)

    def at_most(value: float | None, goal: float) -> bool | None:
        return None if value is None else value <= goal

    def at_least(value: float | None, goal: float) -> bool | None:
        return None if value is None else value >= goal

    rows = [
        ("extract: 1,000,000-row CSV vs pandas `read_csv(dtype=str)`", cell(get(e, "csv_seconds")) + " s",
         cell(get(e, "csv_pandas_seconds")) + " s", "≤ 2 s", verdict(at_most(get(e, "csv_seconds"), 2))),
        ("extract: 100,000-row xlsx vs pandas `read_excel` (calamine)", cell(get(e, "xlsx_seconds")) + " s",
         cell(get(e, "xlsx_calamine_seconds")) + " s", "≤ 3 s", verdict(at_most(get(e, "xlsx_seconds"), 3))),
        ("`moisson validate`, 1,000,000 rows vs `frictionless validate`", cell(get(v, "moisson_1m_s")) + " s",
         cell(get(v, "frictionless_1m_s")) + " s", cell(get(v, "vs_frictionless"), "{:.1f}×") + " (≥ 20×)",
         verdict(at_least(get(v, "vs_frictionless"), 20))),
        ("`moisson validate`, 100,000 rows vs Validata 0.12.5", cell(get(v, "moisson_100k_s")) + " s",
         cell(get(v, "validata_100k_s")) + " s", cell(get(v, "vs_validata"), "{:.1f}×") + " (≥ 8×)",
         verdict(at_least(get(v, "vs_validata"), 8))),
        ("start-up: `moisson validate` on 1 row vs Validata", cell(get(v, "startup_validate_s")) + " s",
         cell(get(v, "startup_validata_s")) + " s", "≤ 0.5 s", verdict(at_most(get(v, "startup_validate_s"), 0.5))),
        ("start-up: `moisson check`", cell(get(v, "startup_check_s")) + " s", "", "≤ 0.5 s",
         verdict(at_most(get(v, "startup_check_s"), 0.5))),
        ("`moisson run`, 1,000,000 rows → local portal vs frictionless alone", cell(get(r, "moisson_run_s")) + " s",
         cell(get(r, "frictionless_s")) + " s", cell(get(r, "share_of_frictionless"), "{:.2f}×") + " (≤ 0.25×)",
         verdict(at_most(get(r, "share_of_frictionless"), 0.25))),
        ("`moisson run`, the same on a running `moisson server`", cell(get(r, "moisson_run_served_s")) + " s",
         cell(get(r, "frictionless_s")) + " s", cell(get(r, "share_of_frictionless_served"), "{:.2f}×") + " (≤ 0.25×)",
         verdict(at_most(get(r, "share_of_frictionless_served"), 0.25))),
        ("`moisson run`, 1,000,000 rows: peak RSS", cell(get(r, "peak_mb"), "{:,.0f}") + " MB", "", "≤ 700 MB",
         verdict(at_most(get(r, "peak_mb"), 700))),
        ("`moisson run`, 10,000,000 rows: time, peak RSS", cell(get(big, "moisson_run_s"), "{:.0f}") + " s, "
         + cell(get(big, "peak_mb"), "{:,.0f}") + " MB", "", "≤ 1,536 MB", verdict(at_most(get(big, "peak_mb"), 1536))),
        ("catalog run: one changed tiny dataset ((T20 − T1)/19)", cell(get(o, "changed_s")) + " s", "", "≤ 1.5 s",
         verdict(at_most(get(o, "changed_s"), 1.5))),
        ("catalog run: one unchanged tiny dataset ((T20 − T1)/19)", cell(get(o, "unchanged_s")) + " s", "", "≤ 0.5 s",
         verdict(at_most(get(o, "unchanged_s"), 0.5))),
        ("catalog run: 200 unchanged datasets", cell(get(o, "unchanged_200_s"), "{:.0f}") + " s", "", "≤ 120 s",
         verdict(at_most(get(o, "unchanged_200_s"), 120))),
    ]
    print(f"\n{time.strftime('%Y-%m-%d')}, {platform.machine()}, medians of "
          f"{'1 run' if args.quick else '3 runs'} (fresh processes, start-up included)\n")
    print("| measured | moisson | baseline | ratio (goal) | goal |\n|---|---|---|---|---|")
    for line in rows:
        print("| " + " | ".join(line) + " |")
    if f:
        print("\nWhat the two ratio goals leave, against the floors measured in this run (seconds):\n")
        print("| goal | budget | floor | left for the work | moisson's work |\n|---|---|---|---|---|")
        print(f"| `validate` ≥ 20× frictionless | {f['validate_budget_s']:.2f} | {f['imports_s']:.2f} (imports; "
              f"Arrow's bare parse {f['parse_s'] - f['imports_s']:.2f} more) | "
              f"{f['validate_budget_s'] - f['imports_s']:.2f} (reading, checking) | "
              f"{cell(v['moisson_1m_s'] - f['imports_s'] if v else None)} (reading, checking) |")
        work = sum((r.get("phases") or {}).get(k, 0.0) for k in TASKS) if r else None
        print(f"| `run` ≤ 0.25× frictionless | {f['run_budget_s']:.2f} | {f['run_budget_s'] - f['run_left_s']:.2f} "
              f"(a server's start, a bare run) | {f['run_left_s']:.2f} (the tasks) | {cell(work)} (the tasks) |")


if __name__ == "__main__":
    main()
