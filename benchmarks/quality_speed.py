"""Speed of the quality gate against `frictionless validate`, on one generated SCDL file, in one run.

Generates N rows (default 1,000,000) valid against the real SCDL subventions 2.1.1 schema, injects
errors into ~1 % of them (one rule broken per row, nine kinds), then validates the same CSV in two fresh
subprocesses: moisson (CSV read with pyarrow, then `moisson.quality.gate.validate_frame`, every check but GX) and
frictionless 5 (the library, columns matched by name, error limit lifted). Prints time, rows/s and peak
RSS of each, the speed-up, and whether both found the same errors on (row, field, type); the Validata
custom checks, which frictionless ignores, are left out of the comparison (counted apart).

    .venv/bin/python benchmarks/quality_speed.py [--rows 1000000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO.parent / "shared" / "reference" / "scdl" / "subventions" / "schema.json"
ERROR_SHARE = 0.01
SEED = 20261123
# One broken rule per injected row: (column, bad text, the error both validators should report).
INJECTIONS = (
    ("dateConvention", "2021-02-30", "type-error"),
    ("montant", "douze mille", "type-error"),
    ("notificationUE", "peut-être", "type-error"),
    ("nature", "subvention", "constraint-error"),
    ("rnaBeneficiaire", "W12345", "constraint-error"),
    ("nomBeneficiaire", "", "constraint-error"),
    ("pourcentageSubvention", "1.5", "constraint-error"),
    ("idAttribuant", "2106000450039", "constraint-error"),
    ("objet", "x" * 300, "constraint-error"),
)


def luhn_sirets(rng: np.random.Generator, count: int) -> np.ndarray:
    """`count` SIRETs whose SIREN (9 digits) and whole number both pass Luhn, as french-siret-value wants."""
    digits = rng.integers(0, 10, size=(count, 14))
    digits[:, 0] = rng.integers(1, 10, size=count)
    for end in (9, 14):
        digits[:, end - 1] = 0
        doubled = digits[:, :end].copy()
        doubled[:, -2::-2] *= 2
        doubled[doubled > 9] -= 9
        digits[:, end - 1] = (10 - doubled.sum(axis=1) % 10) % 10
    return np.array(["".join(map(str, row)) for row in digits])


def generate(path: Path, rows: int) -> int:
    """Write the CSV; return how many rows carry an injected error."""
    rng = np.random.default_rng(SEED)
    pick = lambda values: np.asarray(values, dtype=object)[rng.integers(0, len(values), rows)]  # noqa: E731
    sirets = luhn_sirets(rng, 2000)
    days = np.datetime64("2015-01-01") + rng.integers(0, 3650, rows).astype("timedelta64[D]")
    start = days.astype(str).astype(object)
    end = (days + rng.integers(30, 400, rows).astype("timedelta64[D]")).astype(str).astype(object)
    has_siret = rng.random(rows) < 0.7
    columns = {
        "nomAttribuant": pick(["Ville de Poitiers", "ANTIBES", "Grenoble-Alpes Métropole", "Région Bretagne"]),
        "idAttribuant": pick(sirets[:50]),
        "dateConvention": start,
        "referenceDecision": np.char.add("DEL-", np.arange(rows).astype(str)).astype(object),
        "nomBeneficiaire": np.char.add("Association ", (np.arange(rows) % 5000).astype(str)).astype(object),
        "idBeneficiaire": np.where(has_siret, pick(sirets[50:]), ""),
        "rnaBeneficiaire": np.where(has_siret & (rng.random(rows) < 0.5), "",
                                    np.char.add("W", rng.integers(10**8, 10**9, rows).astype(str))),
        "objet": pick(["Fonctionnement", "Soutien à la saison culturelle", "Projet jeunesse 2024"]),
        "montant": np.char.mod("%.2f", rng.integers(100, 10**7, rows) / 100).astype(object),
        "nature": pick(["aide en numéraire", "aide en nature", "aide en numéraire;aide en nature"]),
        "conditionsVersement": pick(["unique", "échelonné"]),
        "datesPeriodeVersement": start + "/" + end,
        "idRAE": np.full(rows, "", dtype=object),
        "notificationUE": pick(["oui", "non"]),
        "pourcentageSubvention": np.char.mod("%.2f", rng.integers(1, 101, rows) / 100).astype(object),
        "dispositifAide": np.full(rows, "", dtype=object),
    }
    broken = rng.choice(rows, size=int(rows * ERROR_SHARE), replace=False)
    for i, chunk in enumerate(np.array_split(broken, len(INJECTIONS))):
        column, text, _ = INJECTIONS[i]
        columns[column][chunk] = text
    table = pa.table({name: pa.array(values.tolist(), pa.string()) for name, values in columns.items()})
    pacsv.write_csv(table, path, pacsv.WriteOptions(quoting_style="needed"))
    return len(broken)


def run_moisson(path: Path) -> dict:
    """Read the CSV as text with pyarrow and run every check but GX; errors as (row, field, type)."""
    from moisson.quality.cast import TEXT
    from moisson.quality.checks import CAP
    from moisson.quality.gate import validate_frame
    from moisson.quality.schema import TableSchemaRef

    descriptor = json.loads(SCHEMA.read_text(encoding="utf-8"))
    schema = TableSchemaRef(descriptor=descriptor, name="scdl/subventions", version="2.1.1", source=str(SCHEMA))
    started = time.perf_counter()
    names = pacsv.open_csv(path).schema.names  # reads the first block only
    # large_string is what pandas' pyarrow strings hold: no conversion of each column on the way. One thread,
    # like frictionless: on the shared 2-core machine the threaded reader burnt twice the CPU (1.7-2.1 s against
    # 0.8-0.9 s) and finished later (1.3-2.2 s against 0.9-1.2 s).
    table = pacsv.read_csv(path, read_options=pacsv.ReadOptions(use_threads=False),
                           convert_options=pacsv.ConvertOptions(column_types={n: pa.large_string() for n in names},
                                                                null_values=[""], strings_can_be_null=True))
    frame = table.to_pandas(types_mapper={pa.large_string(): TEXT}.get)
    issues = validate_frame(frame, schema, lang="en", cap=max(CAP, len(frame)))
    seconds = time.perf_counter() - started
    custom = {c["name"] for c in descriptor.get("custom_checks", [])}
    keys = [[i.row, i.field, i.type] for i in issues if i.rule not in custom]
    return {"seconds": seconds, "rows": len(frame), "errors": keys,
            "custom_errors": sum(i.rule in custom for i in issues)}


def run_frictionless(path: Path) -> dict:
    """Frictionless 5 on the same file, matching columns by name, without its error limit."""
    from frictionless import Detector, Resource, Schema

    descriptor = json.loads(SCHEMA.read_text(encoding="utf-8"))
    started = time.perf_counter()
    resource = Resource(path.name, basepath=str(path.parent), schema=Schema.from_descriptor(descriptor),
                        detector=Detector(schema_sync=True))
    report = resource.validate(limit_errors=10**9)
    seconds = time.perf_counter() - started
    errors = [*report.errors, *(e for task in report.tasks for e in task.errors)]
    keys = [[getattr(e, "row_number", None), getattr(e, "field_name", None), e.type] for e in errors]
    rows = report.tasks[0].stats.get("rows") if report.tasks else None
    return {"seconds": seconds, "rows": rows, "errors": keys, "custom_errors": 0}


def measure(tool: str, path: Path, rows: int) -> dict:
    """Run one step in a fresh interpreter, so times and peak memory are its own.

    The parent never holds the data: Linux keeps a process's peak RSS across exec, so a child
    started from a big parent would report the parent's peak.
    """
    done = subprocess.run([sys.executable, __file__, "--rows", str(rows), "--child", tool, str(path)], check=True,
                          capture_output=True, text=True, cwd=REPO)
    return json.loads(done.stdout)


def main() -> None:
    """Generate, measure both validators in subprocesses, compare."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, help="Write the CSV here and keep it.")
    parser.add_argument("--child", nargs=2, metavar=("TOOL", "CSV"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        import warnings

        warnings.simplefilter("ignore")
        tool, csv = args.child
        steps = {"generate": lambda p: {"injected": generate(p, args.rows)}, "moisson": run_moisson,
                 "frictionless": run_frictionless}
        result = steps[tool](Path(csv))
        result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(result))
        return
    if not SCHEMA.is_file():
        sys.exit(f"the SCDL subventions schema is expected at {SCHEMA}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "subventions-bench.csv"
        started = time.perf_counter()
        injected = measure("generate", path, args.rows)["injected"]
        print(f"generated {args.rows:,} rows ({path.stat().st_size / 2**20:.0f} MiB), {injected:,} with an "
              f"injected error, in {time.perf_counter() - started:.1f} s; schema scdl/subventions 2.1.1")
        results = {tool: measure(tool, path, args.rows) for tool in ("moisson", "frictionless")}
    print(f"{'':14}{'seconds':>10}{'rows/s':>12}{'peak RSS MB':>13}{'errors':>9}")
    for tool, r in results.items():
        print(f"{tool:14}{r['seconds']:>10.2f}{args.rows / r['seconds']:>12,.0f}{r['peak_rss_mb']:>13,.0f}"
              f"{len(r['errors']):>9,}")
    ours = {tuple(k) for k in results["moisson"]["errors"]}
    theirs = {tuple(k) for k in results["frictionless"]["errors"]}
    speedup = results["frictionless"]["seconds"] / results["moisson"]["seconds"]
    print(f"speed-up: {speedup:.1f}x frictionless' throughput (goal: 20x)")
    print(f"same errors on (row, field, type): {ours == theirs} ({len(ours & theirs):,} shared, "
          f"{len(ours - theirs)} only moisson, {len(theirs - ours)} only frictionless); "
          f"plus {results['moisson']['custom_errors']:,} Validata custom-check errors frictionless ignores")
    for label, extra in (("only moisson", ours - theirs), ("only frictionless", theirs - ours)):
        for key in sorted(extra, key=str)[:5]:
            print(f"  {label}: {key}")


if __name__ == "__main__":
    main()
