"""Speed of the spreadsheet source's extraction (what `moisson validate` and `moisson run` read files with).

Generates the 1,000,000-row SCDL subventions CSV (≈ 210 MB, the harness's file) and a 100,000-row xlsx of the
same rows, then, each side in a fresh process, 3 runs: moisson's `SpreadsheetSource.extract` exactly as the
extract task calls it (file → Parquet of text columns, with structure detection, notes and row numbers) against
pandas reading the same file as text (`read_csv(dtype=str)` / `read_excel(dtype=str)` with calamine and with
openpyxl) and writing the same Parquet, and calamine's parse of the sheet alone (the xlsx side's floor). Prints
wall seconds of the whole process (start-up included), the seconds inside the extraction as the child measured
them, CPU and peak RSS; goals: ≤ 2 s for the CSV, ≤ 3 s for the xlsx (inside the extraction).

    .venv/bin/python benchmarks/extract_speed.py [--runs 3] [--data DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.harness import HEADER, REPO, data_dir, repeat, result_line, row, scdl_file

CSV_ROWS = 1_000_000
XLSX_ROWS = 100_000
#: The child prints one JSON line: rows read and the seconds the reading itself took.
OURS = """
import json, sys, time
from pathlib import Path
from moisson.connectors.base import DatasetDescriptor
from moisson.connectors.sources.spreadsheet import SpreadsheetSource
path, out = Path(sys.argv[1]), Path(sys.argv[2])
started, cpu = time.perf_counter(), time.process_time()
source = SpreadsheetSource(SpreadsheetSource.Config(root=path.parent))
result = source.extract(DatasetDescriptor(id="bench", locator={"path": path.name}), out)
print(json.dumps({"rows": result.rows, "seconds": time.perf_counter() - started,
                  "cpu": time.process_time() - cpu}))
"""
PANDAS = """
import json, sys, time
from pathlib import Path
import pandas as pd
path, out = Path(sys.argv[1]), Path(sys.argv[2])
started, cpu = time.perf_counter(), time.process_time()
if path.suffix == ".csv":
    frame = pd.read_csv(path, dtype=str)
else:
    frame = pd.read_excel(path, dtype=str, engine=sys.argv[3])
frame.to_parquet(out / "bench.parquet")
print(json.dumps({"rows": len(frame), "seconds": time.perf_counter() - started,
                  "cpu": time.process_time() - cpu}))
"""
#: The floor of the xlsx side: calamine's parse of the sheet into Python rows, nothing checked, converted or written.
CALAMINE = """
import json, sys, time
import python_calamine
started, cpu = time.perf_counter(), time.process_time()
book = python_calamine.CalamineWorkbook.from_path(sys.argv[1])
rows = book.get_sheet_by_name(book.sheet_names[0]).to_python()
print(json.dumps({"rows": len(rows) - 1, "seconds": time.perf_counter() - started,
                  "cpu": time.process_time() - cpu}))
"""
XLSX = """
import sys
from pathlib import Path
import openpyxl
import pyarrow.csv as pacsv
text = pacsv.ConvertOptions(strings_can_be_null=False)
rows = pacsv.read_csv(sys.argv[1], convert_options=text).slice(0, int(sys.argv[3]))
book = openpyxl.Workbook(write_only=True)
sheet = book.create_sheet("Subventions")
sheet.append(rows.column_names)
for batch in rows.to_batches(10_000):
    for values in zip(*(column.to_pylist() for column in batch.columns)):
        sheet.append(list(values))
book.save(sys.argv[2])
"""


def xlsx_file(folder: Path, csv_path: Path, rows: int) -> Path:
    """The first `rows` rows of the CSV as an xlsx (numbers as numbers, as Excel would store them), made once."""
    path = folder / f"subventions-{rows}.xlsx"
    if not path.exists():
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", XLSX, str(csv_path), str(path), str(rows)], check=True)
        print(f"generated {path.name}: {rows:,} rows, {path.stat().st_size / 2**20:,.1f} MiB, in "
              f"{time.perf_counter() - started:.0f} s", flush=True)
    return path


def inside(runs: list, key: str = "seconds") -> tuple[float, float]:
    """Min and median of the wall (`seconds`) or CPU (`cpu`) seconds the children measured around the reading."""
    seconds = [json.loads(r.stdout.strip().splitlines()[-1])[key] for r in runs]
    return min(seconds), statistics.median(seconds)


def main() -> None:
    """Generate the files, time each side, print the table and the RESULT line."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--data", type=Path)
    args = parser.parse_args()
    folder = data_dir(args.data)
    csv_path = scdl_file(folder, CSV_ROWS)
    xlsx_path = xlsx_file(folder, csv_path, XLSX_ROWS)
    python = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        sides = {
            "csv · moisson SpreadsheetSource.extract": [python, "-c", OURS, str(csv_path), str(out)],
            "csv · pandas read_csv(dtype=str)": [python, "-c", PANDAS, str(csv_path), str(out)],
            "xlsx · moisson SpreadsheetSource.extract": [python, "-c", OURS, str(xlsx_path), str(out)],
            "xlsx · calamine read alone (to_python)": [python, "-c", CALAMINE, str(xlsx_path)],
            "xlsx · pandas read_excel calamine": [python, "-c", PANDAS, str(xlsx_path), str(out), "calamine"],
            "xlsx · pandas read_excel openpyxl": [python, "-c", PANDAS, str(xlsx_path), str(out), "openpyxl"],
        }
        results = {label: repeat(command, args.runs, label=label, cwd=REPO) for label, command in sides.items()}
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"\nextraction to Parquet, {args.runs} fresh processes per side "
          f"(CSV {CSV_ROWS:,} rows, {csv_path.stat().st_size / 2**20:,.0f} MiB; xlsx {XLSX_ROWS:,} rows); "
          f"{os.cpu_count()} cores, load average {load} (wall times stretch under load, CPU seconds do not)")
    print(f"{HEADER}{'read min s':>12}{'read med s':>12}{'read CPU s':>12}")
    for label, runs in results.items():
        low, mid = inside(runs)
        rows = CSV_ROWS if label.startswith("csv") else XLSX_ROWS
        print(f"{row(label, runs, rows)}{low:>12.2f}{mid:>12.2f}{inside(runs, 'cpu')[1]:>12.2f}")
    ours_csv, pandas_csv = inside(results["csv · moisson SpreadsheetSource.extract"]), \
        inside(results["csv · pandas read_csv(dtype=str)"])
    ours_xlsx, calamine, openpyxl, floor = (inside(results[k]) for k in (
        "xlsx · moisson SpreadsheetSource.extract", "xlsx · pandas read_excel calamine",
        "xlsx · pandas read_excel openpyxl", "xlsx · calamine read alone (to_python)"))
    print(f"\nCSV: moisson {ours_csv[1]:.2f} s (goal ≤ 2 s: {'met' if ours_csv[1] <= 2 else 'NOT met'}), "
          f"{pandas_csv[1] / ours_csv[1]:.1f}× pandas; xlsx: moisson {ours_xlsx[1]:.2f} s (goal ≤ 3 s: "
          f"{'met' if ours_xlsx[1] <= 3 else 'NOT met'}), {calamine[1] / ours_xlsx[1]:.1f}× pandas+calamine, "
          f"{openpyxl[1] / ours_xlsx[1]:.1f}× pandas+openpyxl, calamine's parse alone {floor[1]:.2f} s "
          "(medians of the reading itself)")
    result_line("extract_speed", csv_seconds=round(ours_csv[1], 2), csv_pandas_seconds=round(pandas_csv[1], 2),
                xlsx_seconds=round(ours_xlsx[1], 2), xlsx_calamine_seconds=round(calamine[1], 2),
                xlsx_openpyxl_seconds=round(openpyxl[1], 2), xlsx_calamine_alone_seconds=round(floor[1], 2))


if __name__ == "__main__":
    main()
