"""What a recipe costs: a department's 1,000,000-row file with its recipe, against the same file without one.

`moisson run` of the department file with its recipe, against the same run of the file already in the schema's
layout without one, and `moisson prepare suggest` on 100,000 rows.

The department file is the generated SCDL subventions file (`benchmarks/harness.py`) as a department keeps it:
French labels for headers, columns reversed, dates `dd/mm/yyyy`, decimal commas, `Oui`/`Non`, no publisher
columns. Its recipe renames every field, parses the dates and numbers, maps the booleans and adds the publisher
as constants. Each run is a fresh process; the Prefect home is warmed up once. Times per task come from the
ephemeral server's database.

Goals: the prepare task adds at most 20 % to the extract + quality time of the run without a recipe; `suggest`
answers in under 5 s on 100,000 rows.

    .venv/bin/python benchmarks/prepare_speed.py [--rows 1000000] [--suggest-rows 100000] [--runs 3] [--data DIR]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.harness import (
    HEADER,
    MOISSON,
    REPO,
    SCHEMA,
    data_dir,
    fresh,
    measure,
    moisson_env,
    moisson_run,
    repeat,
    result_line,
    row,
    scdl_file,
    spread,
    task_times,
    write_catalog,
)
from tests.prepare.department import HANDWRITTEN

PUBLISHER = {"nomAttribuant": "{organization.name}", "idAttribuant": "{organization.siret}"}
ORGANIZATION = '  organization: {name: Commune de Banc-d\'Essai, siret: "21060004500392"}'


def department_file(source: Path, dest: Path) -> None:
    """Rewrite the generated file the way a department keeps it (run in a child process: Arrow, no row loop)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    table = pacsv.read_csv(source, convert_options=pacsv.ConvertOptions(
        column_types={n: pa.string() for n in [*HANDWRITTEN, *PUBLISHER]}, strings_can_be_null=False))
    dates = pc.strptime(table["dateConvention"], format="%Y-%m-%d", unit="s", error_is_null=True)
    columns = {
        "dateConvention": pc.if_else(pc.is_null(dates), table["dateConvention"], pc.strftime(dates, "%d/%m/%Y")),
        "montant": pc.replace_substring(table["montant"], ".", ","),
        "notificationUE": pc.utf8_capitalize(table["notificationUE"]),
    }
    names = [n for n in table.column_names if n in HANDWRITTEN][::-1]
    out = pa.table({HANDWRITTEN[n]: columns.get(n, table[n]) for n in names})
    pacsv.write_csv(out, dest, write_options=pacsv.WriteOptions(quoting_style="needed"))


def made(folder: Path, rows: int) -> Path:
    """The department version of the generated file of `rows` rows, made once."""
    dest = folder / f"subventions-departement-{rows}.csv"
    if not dest.exists():
        source = scdl_file(folder, rows)
        code = (f"import sys; sys.path.insert(0, {str(REPO)!r}); from pathlib import Path; "
                f"from benchmarks.prepare_speed import department_file; "
                f"department_file(Path({str(source)!r}), Path({str(dest)!r}))")
        subprocess.run([sys.executable, "-c", code], check=True)
    return dest


def recipe_lines() -> list[str]:
    """The dataset's `prepare:` block, as `moisson prepare suggest --write` would leave it once reviewed."""
    lines = ["    prepare:", "      fields:"]
    lines += [f"        {name}: {{const: {json.dumps(value)}}}" for name, value in PUBLISHER.items()]
    for name, label in HANDWRITTEN.items():
        extra = {"dateConvention": ', parse: {date: "%d/%m/%Y"}', "montant": ', parse: {decimal: ","}',
                 "notificationUE": ", map: {Oui: oui, Non: non}, unmapped: keep"}.get(name, "")
        lines.append(f"        {name}: {{from: {json.dumps(label, ensure_ascii=False)}{extra}}}")
    return lines


def with_recipe(catalog: Path) -> None:
    """Add the organisation and the recipe to the benchmark catalog `harness.write_catalog` wrote."""
    lines = catalog.read_text(encoding="utf-8").splitlines()
    lines.insert(lines.index("sources:"), ORGANIZATION)
    catalog.write_text("\n".join(lines + recipe_lines()) + "\n", encoding="utf-8")


def runs_of(folder: Path, prefect_home: Path, name: str, recipe: bool, runs: int) -> tuple[list, list[dict]]:
    """`runs` fresh `moisson run`s of the file `name` (with the recipe or not), and their task seconds."""
    done, phases = [], []
    for _ in range(runs):
        work = fresh(folder / "prepare-work")
        catalog = write_catalog(work, folder, {"subventions": name})
        if recipe:
            with_recipe(catalog)
        run = moisson_run(work, prefect_home, "subventions")
        if run.code not in (0, 1):
            sys.exit(f"moisson run failed ({run.code}):\n{run.stderr[-3000:]}\n{run.stdout[-2000:]}")
        outcome = json.loads(run.stdout)["datasets"][0]
        if outcome["status"] not in ("published", "blocked"):
            sys.exit(f"moisson run ended {outcome['status']}: {outcome.get('error')}")
        done.append(run)
        phases.append(task_times(prefect_home, 1))
    return done, phases


def median_of(phases: list[dict], *names: str) -> float:
    """Median over the runs of the summed seconds of these tasks."""
    return statistics.median(sum(p.get(n, 0.0) for n in names) for p in phases)


def main() -> None:
    """Warm up, measure both runs and `suggest`, print the table and the verdicts."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--suggest-rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--data", type=Path, help="Folder of the generated files (kept between runs).")
    args = parser.parse_args()
    folder = data_dir(args.data)
    plain, department = scdl_file(folder, args.rows), made(folder, args.rows)
    prefect_home = folder / "prefect-home"
    runs_of(folder, prefect_home, made(folder, 20).name, True, 1)  # warm-up: the server's database, imports

    without, plain_phases = runs_of(folder, prefect_home, plain.name, False, args.runs)
    mine, phases = runs_of(folder, prefect_home, department.name, True, args.runs)
    print(f"{args.runs} runs each, fresh processes\n{HEADER}")
    print(row("moisson run, schema's layout, no recipe", without, args.rows))
    print(row("moisson run, department file + recipe", mine, args.rows))
    base = median_of(plain_phases, "extract", "quality")
    prepare = median_of(phases, "prepare")
    print("  task seconds (median):   extract  prepare  quality")
    for label, p in (("no recipe", plain_phases), ("recipe", phases)):
        print(f"    {label:<22}{median_of(p, 'extract'):>8.2f}{median_of(p, 'prepare'):>9.2f}"
              f"{median_of(p, 'quality'):>9.2f}")
    share = prepare / base
    cpu_without, cpu_with = (statistics.median(r.cpu for r in runs) for runs in (without, mine))
    print(f"whole run CPU: {cpu_with:.1f} s with the recipe, {cpu_without:.1f} s without "
          f"({100 * (cpu_with / cpu_without - 1):+.1f} %; wall times on a shared machine vary more)")
    print(f"prepare adds {100 * share:.1f} % to extract + quality without a recipe ({prepare:.2f} s on {base:.2f} s; "
          f"goal ≤ 20 %): {'met' if share <= 0.2 else 'NOT met'}")

    small = made(folder, args.suggest_rows)
    work = fresh(folder / "prepare-work")
    catalog = write_catalog(work, folder, {"subventions": small.name})
    with_recipe(catalog)
    suggested = repeat([*MOISSON, "prepare", "suggest", "subventions", "--catalog", str(catalog), "--json"],
                       args.runs, label="suggest", env=moisson_env(work, prefect_home), cwd=work)
    answer = json.loads(suggested[-1].stdout)
    right = sum((answer["fields"][n]["rule"] or {}).get("from") == label for n, label in HANDWRITTEN.items())
    print(row(f"moisson prepare suggest, {args.suggest_rows:,} rows", suggested, args.suggest_rows))
    mid = spread(suggested)[1]
    print(f"suggest: {right}/{len(HANDWRITTEN)} columns found; median {mid:.2f} s (goal < 5 s): "
          f"{'met' if mid < 5 else 'NOT met'}")
    bare = measure([*MOISSON, "--help"], env=moisson_env(work, prefect_home), cwd=work)
    print(f"  (CPU {statistics.median(r.cpu for r in suggested):.1f} s; the CLI's own start-up: {bare.seconds:.2f} s)")
    result_line("prepare", rows=args.rows, run_without_recipe_s=spread(without)[1], run_with_recipe_s=spread(mine)[1],
                extract_quality_s=base, prepare_s=prepare, prepare_share=share, run_cpu_without_s=cpu_without,
                run_cpu_with_s=cpu_with, suggest_rows=args.suggest_rows,
                suggest_s=mid, suggest_found=right, schema=str(SCHEMA.name))


if __name__ == "__main__":
    main()
