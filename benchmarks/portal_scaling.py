"""What publishing one changed dataset costs as the local portal grows: `moisson run <id>` into 1, 20, 200 datasets.

For each size N, a catalog of N tiny datasets (20-row SCDL files, spreadsheet source, local portal) is published
once (`moisson run --all`, this checkout's command, not timed). Then, in fresh processes, one dataset's file changes
(its rows rotate by one, so its content hash changes) and `moisson run jeu-000` publishes it: the portal is rebuilt
around it (catalogs, feed, pages). Timed `--runs` times (min and median wall, median CPU) after one untimed run.
The same run with `--dry-run` (it plans, publishes nothing) is timed right after it: what it gains with N (the
catalog of N datasets read and checked) is not the portal's, so each round's publish minus dry-run CPU is what
publishing costs beyond planning, the median of those differences per N. The goal: that cost barely depends on N.

`--baseline-rev REV` also times another revision's code (a git worktree, run with this venv by remapping its
editable install) in the same rounds, alternated with ours; `--baseline CMD` any other moisson command. Each side
publishes into its own copy of the built portal, with its own state and Prefect home, so both meet the same load.

    .venv/bin/python benchmarks/portal_scaling.py [--runs 3] [--sizes 1,20,200] [--data DIR]
        [--baseline-rev REV | --baseline CMD]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.harness import (
    MOISSON,
    REPO,
    Run,
    data_dir,
    fresh,
    measure,
    moisson_env,
    result_line,
    scdl_file,
    write_catalog,
)

CHANGED = "jeu-000"
# Runs the moisson CLI of another checkout: the venv's editable install maps `moisson.*` to this checkout's
# folders, so the mapping is pointed at the worktree before anything of moisson is imported.
LAUNCHER = """
import sys
finder = next(m for n, m in list(sys.modules.items()) if n.startswith("__editable__") and hasattr(m, "MAPPING"))
finder.MAPPING.update({k: v.replace(sys.argv[1], sys.argv[2], 1) for k, v in finder.MAPPING.items()})
sys.argv = ["moisson", *sys.argv[3:]]
from moisson.cli import app
sys.exit(app())
"""


def baseline_command(folder: Path, rev: str) -> tuple[str, ...]:
    """The moisson command of revision `rev`, from a worktree made once in `folder`."""
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", rev], check=True, capture_output=True,
                            text=True).stdout.strip()
    tree = folder / f"portal-scaling-baseline-{commit}"
    if not tree.is_dir():
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(tree), commit], check=True,
                       capture_output=True)
    return sys.executable, "-c", LAUNCHER, str(REPO), str(tree)


def names(size: int) -> dict[str, str]:
    """Dataset id → file name of a catalog of `size` datasets."""
    return {f"jeu-{i:03d}": f"jeu-{i:03d}.csv" for i in range(size)}


def built_portal(folder: Path, size: int) -> Path:
    """A work folder whose portal holds `size` published datasets, made once and reused after (as the files are).

    Published by this checkout's command; the untimed first run of each side brings it to that side's own output.
    """
    work = folder / f"portal-scaling-{size}"
    if (work / "built").is_file():
        return work
    fresh(work)
    tiny = scdl_file(folder, 20)
    root = fresh(work / "files")
    for name in names(size).values():
        shutil.copyfile(tiny, root / name)
    write_catalog(work, root, names(size))
    run = measure([*MOISSON, "run", "--all", "--catalog", str(work / "catalog.yaml"), "--json"],
                  env=moisson_env(work, folder / "prefect-home-portal-scaling-build"), cwd=work)
    if run.code != 0:
        sys.exit(f"moisson run --all ({size} datasets) exited with {run.code}:\n{run.stderr[-3000:]}")
    print(f"portal of {size} datasets built in {run.seconds:.0f} s ({run.cpu:.0f} s CPU)", flush=True)
    (work / "built").touch()
    return work


def side_copy(built: Path, work: Path, size: int) -> Path:
    """A copy of the built portal, state and files in `work`, with its catalog pointing at them."""
    fresh(work)
    for part in ("files", "portal", "home"):
        shutil.copytree(built / part, work / part)
    write_catalog(work, work / "files", names(size))
    return work


def publish_one(work: Path, prefect_home: Path, command: Sequence[str], label: str, *options: str) -> Run:
    """Change the dataset's file (its rows rotate by one), then `moisson run` it alone; check it was published."""
    path = work / "files" / f"{CHANGED}.csv"
    header, *rows = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text(header + "".join(rows[1:] + rows[:1]), encoding="utf-8")
    run = measure([*command, "run", CHANGED, *options, "--catalog", str(work / "catalog.yaml"), "--json"],
                  env=moisson_env(work, prefect_home), cwd=work)
    if run.code != 0:
        sys.exit(f"{label}: moisson run {CHANGED} {' '.join(options)} exited with {run.code}:\n{run.stderr[-3000:]}")
    dataset = json.loads(run.stdout)["datasets"][0]
    status = dataset["status"] if options else dataset["targets"]["portail"]["status"]
    if status != ("planned" if options else "updated"):
        sys.exit(f"{label}: {CHANGED} was {status}:\n{run.stdout[-2000:]}")
    return run


def table(name: str, sizes: Sequence[int], timed: dict[tuple[str, int], list[Run]]) -> tuple[float, float]:
    """The lines of one side and kind of run; the growth of its median wall and CPU from the first size to the last."""
    print(name)
    for size in sizes:
        walls, cpus = [r.seconds for r in timed[(name, size)]], [r.cpu for r in timed[(name, size)]]
        print(f"  {f'N = {size}':<34}{min(walls):>9.2f}{statistics.median(walls):>9.2f}{min(cpus):>11.2f}"
              f"{statistics.median(cpus):>14.2f}")
    low, high = timed[(name, sizes[0])], timed[(name, sizes[-1])]
    growth = (statistics.median(r.seconds for r in high) - statistics.median(r.seconds for r in low),
              statistics.median(r.cpu for r in high) - statistics.median(r.cpu for r in low))
    print(f"  {f'N = {sizes[-1]} minus N = {sizes[0]}':<34}{'':>9}{growth[0]:>9.2f}{'':>11}{growth[1]:>14.2f}")
    return growth


def main() -> None:
    """Time one changed dataset's run into portals of each size, for each side."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sizes", default="1,20,200", help="Portal sizes, comma-separated.")
    parser.add_argument("--data", type=Path)
    parser.add_argument("--baseline-rev", help="A git revision whose code is timed too (in a worktree).")
    parser.add_argument("--baseline", help="Another moisson command to time in the same rounds.")
    args = parser.parse_args()
    folder = data_dir(args.data)
    sizes = [int(size) for size in args.sizes.split(",")]
    sides: dict[str, tuple[str, ...]] = {"moisson": tuple(MOISSON)}
    if args.baseline_rev:
        sides[f"baseline {args.baseline_rev}"] = baseline_command(folder, args.baseline_rev)
    elif args.baseline:
        sides["baseline"] = tuple(args.baseline.split())
    load_before = os.getloadavg()[0]
    timed: dict[tuple[str, int], list[Run]] = {}
    for size in sizes:
        built = built_portal(folder, size)
        works = {name: side_copy(built, folder / f"portal-scaling-side{i}", size) for i, name in enumerate(sides)}
        homes = {name: folder / f"prefect-home-portal-scaling-side{i}" for i, name in enumerate(sides)}
        for name, command in sides.items():  # untimed: Prefect's database, the portal's first rebuild
            publish_one(works[name], homes[name], command, name)
        for _ in range(args.runs):
            for name, command in sides.items():
                timed.setdefault((name, size), []).append(publish_one(works[name], homes[name], command, name))
                timed.setdefault((f"{name} --dry-run", size), []).append(
                    publish_one(works[name], homes[name], command, name, "--dry-run"))
    print(f"`moisson run {CHANGED}` (one changed 20-row dataset) into a local portal of N datasets, "
          f"{args.runs} runs, fresh processes; load average {load_before:.1f} at the start, "
          f"{os.getloadavg()[0]:.1f} at the end ({os.cpu_count()} cores)")
    print(f"{'':<36}{'min s':>9}{'median s':>9}{'CPU min s':>11}{'CPU median s':>14}")
    beyond: dict[tuple[str, int], float] = {}
    for name in sides:
        table(name, sizes, timed)
        table(f"{name} --dry-run", sizes, timed)
        for size in sizes:
            beyond[(name, size)] = statistics.median(
                run.cpu - dry.cpu for run, dry in zip(timed[(name, size)], timed[(f"{name} --dry-run", size)],
                                                      strict=True))
    print("publishing beyond planning (CPU s, median of each round's publish minus dry run):")
    for name in sides:
        print(f"  {name:<34}" + "".join(f"  N = {size}: {beyond[(name, size)]:.2f}" for size in sizes))
    result_line("portal_scaling", load_average=round(load_before, 1), **{
        f"n{size}_beyond_plan_cpu_s": beyond[("moisson", size)] for size in sizes}, **{
        f"n{size}_s": statistics.median(r.seconds for r in timed[("moisson", size)]) for size in sizes}, **{
        f"n{size}_cpu_s": statistics.median(r.cpu for r in timed[("moisson", size)]) for size in sizes})


if __name__ == "__main__":
    main()
