"""What every benchmark shares: the generated SCDL file, timing a command in its own process, min/median tables.

Each measured side is a fresh process started from this small parent (never from a process holding the data:
Linux keeps a process's peak RSS across exec); `os.wait4` gives that child's own peak RSS and CPU time. Each runs
with moisson's modules compiled, as an installation has them (pip writes the bytecode caches when it installs):
an environment with PYTHONDONTWRITEBYTECODE would otherwise have every measured process compile them again.
"""

from __future__ import annotations

import compileall
import functools
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO.parent / "shared" / "reference" / "scdl" / "subventions" / "schema.json"
VENV_BIN = Path(sys.executable).parent
MOISSON = [str(VENV_BIN / "moisson")]
FRICTIONLESS = [str(VENV_BIN / "frictionless")]
ERROR_SHARE = 0.008  # 888 errors of each kind on 1,000,000 rows: under the 1,000 the CLI lists per kind
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
GENERATE_CHUNK = 1_000_000


@dataclass
class Run:
    """One command run: wall seconds, CPU seconds, peak RSS of the process tree's largest member, output."""

    seconds: float
    cpu: float
    peak_mb: float
    code: int
    stdout: str
    stderr: str
    started: float = 0.0  # wall clock (epoch seconds, UTC) at the start


@functools.cache
def compiled() -> None:
    """Compile the repository's modules (its virtualenvs, peers and tests aside) once, as installing moisson does."""
    compileall.compile_dir(REPO, quiet=1, rx=re.compile(r"[/\\]\.(venv|peers|git)[/\\]|[/\\]tests[/\\]"))


def measure(command: Sequence[str], *, env: dict[str, str] | None = None, cwd: Path | None = None,
            stdin: str | None = None) -> Run:
    """Run `command` in a fresh process; its wall time, CPU time and peak RSS (children included).

    The process may write the bytecode caches of what it imports (PYTHONDONTWRITEBYTECODE lifted), as a user's does.
    """
    compiled()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err, \
            tempfile.TemporaryFile("w+") as given:
        given.write(stdin or "")
        given.seek(0)
        wall = time.time()
        started = time.perf_counter()
        child = subprocess.Popen(list(command), stdout=out, stderr=err, stdin=given,
                                 env={**os.environ, "PYTHONDONTWRITEBYTECODE": "", **(env or {})}, cwd=cwd,
                                 text=True)
        # wait4 reaps the child with its own resource usage (Popen.wait would lose it).
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Run(seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, child.returncode, out.read(),
                   err.read(), wall)


def repeat(command: Sequence[str], runs: int, *, label: str, ok: Sequence[int] = (0,), **kwargs) -> list[Run]:
    """`runs` fresh runs of `command`; stop with its stderr if one exits with a code not in `ok`."""
    done = []
    for _ in range(runs):
        run = measure(command, **kwargs)
        if run.code not in ok:
            sys.exit(f"{label} exited with {run.code}:\n{run.stderr[-3000:]}\n{run.stdout[-2000:]}")
        done.append(run)
    return done


def frictionless_runs(path: Path, runs: int) -> list[Run]:
    """`runs` fresh runs of `frictionless validate` on `path` against the SCDL schema, its error limit lifted."""
    # frictionless refuses absolute data paths unless trusted; the file is ours.
    return repeat([*FRICTIONLESS, "validate", "--trusted", "--limit-errors", "100000000", "--schema", str(SCHEMA),
                   "--json", path.name], runs, ok=(0, 1), label="frictionless validate", cwd=path.parent)


def spread(runs: Sequence[Run]) -> tuple[float, float]:
    """Min and median wall seconds."""
    times = [r.seconds for r in runs]
    return min(times), statistics.median(times)


def cpu(runs: Sequence[Run]) -> float:
    """Median CPU seconds (user + system, children included): steadier than wall time on a loaded machine."""
    return statistics.median(r.cpu for r in runs)


def row(label: str, runs: Sequence[Run], rows: int | None = None) -> str:
    """A table line: min/median seconds, rows/s at the median, CPU and peak RSS (max over runs)."""
    low, mid = spread(runs)
    rate = f"{rows / mid:>12,.0f}" if rows else f"{'':>12}"
    return (f"{label:<44}{low:>9.2f}{mid:>9.2f}{rate}{statistics.median(r.cpu for r in runs):>9.1f}"
            f"{max(r.peak_mb for r in runs):>10,.0f}")


HEADER = f"{'':<44}{'min s':>9}{'median s':>9}{'rows/s':>12}{'CPU s':>9}{'peak MB':>10}"


def result_line(name: str, **figures: object) -> None:
    """The machine-readable line `run_all.py` collects."""
    print("RESULT " + json.dumps({"benchmark": name, **figures}, ensure_ascii=False))


def luhn_sirets(rng, count: int):
    """`count` SIRETs whose SIREN (9 digits) and whole number both pass Luhn, as french-siret-value wants."""
    import numpy as np

    digits = rng.integers(0, 10, size=(count, 14))
    digits[:, 0] = rng.integers(1, 10, size=count)
    for end in (9, 14):
        digits[:, end - 1] = 0
        doubled = digits[:, :end].copy()
        doubled[:, -2::-2] *= 2
        doubled[doubled > 9] -= 9
        digits[:, end - 1] = (10 - doubled.sum(axis=1) % 10) % 10
    return np.array(["".join(map(str, r)) for r in digits])


def _chunk(rng, sirets, start: int, rows: int):
    """`rows` valid SCDL subventions rows numbered from `start`, 1 % of them broken (one rule each)."""
    import numpy as np
    import pyarrow as pa

    pick = lambda values: np.asarray(values, dtype=object)[rng.integers(0, len(values), rows)]  # noqa: E731
    days = np.datetime64("2015-01-01") + rng.integers(0, 3650, rows).astype("timedelta64[D]")
    begin = days.astype(str).astype(object)
    end = (days + rng.integers(30, 400, rows).astype("timedelta64[D]")).astype(str).astype(object)
    has_siret = rng.random(rows) < 0.7
    numbers = np.arange(start, start + rows)
    columns = {
        "nomAttribuant": pick(["Ville de Poitiers", "ANTIBES", "Grenoble-Alpes Métropole", "Région Bretagne"]),
        "idAttribuant": pick(sirets[:50]),
        "dateConvention": begin,
        "referenceDecision": np.char.add("DEL-", numbers.astype(str)).astype(object),
        "nomBeneficiaire": np.char.add("Association ", (numbers % 5000).astype(str)).astype(object),
        "idBeneficiaire": np.where(has_siret, pick(sirets[50:]), ""),
        "rnaBeneficiaire": np.where(has_siret & (rng.random(rows) < 0.5), "",
                                    np.char.add("W", rng.integers(10**8, 10**9, rows).astype(str))),
        "objet": pick(["Fonctionnement", "Soutien à la saison culturelle", "Projet jeunesse 2024"]),
        "montant": np.char.mod("%.2f", rng.integers(100, 10**7, rows) / 100).astype(object),
        "nature": pick(["aide en numéraire", "aide en nature", "aide en numéraire;aide en nature"]),
        "conditionsVersement": pick(["unique", "échelonné"]),
        "datesPeriodeVersement": begin + "/" + end,
        "idRAE": np.full(rows, "", dtype=object),
        "notificationUE": pick(["oui", "non"]),
        "pourcentageSubvention": np.char.mod("%.2f", rng.integers(1, 101, rows) / 100).astype(object),
        "dispositifAide": np.full(rows, "", dtype=object),
    }
    broken = rng.choice(rows, size=int(rows * ERROR_SHARE), replace=False)
    for i, part in enumerate(np.array_split(broken, len(INJECTIONS))):
        column, text, _ = INJECTIONS[i]
        columns[column][part] = text
    return pa.table({name: pa.array(values.tolist(), pa.string()) for name, values in columns.items()}), len(broken)


def generate(path: Path, rows: int) -> int:
    """Write the CSV chunk by chunk (bounded memory); return how many rows carry an injected error."""
    import numpy as np
    import pyarrow.csv as pacsv

    rng = np.random.default_rng(SEED)
    sirets = luhn_sirets(rng, 2000)
    broken = 0
    tmp = path.with_suffix(".part")
    with pacsv.CSVWriter(tmp, _chunk(rng, sirets, 0, 1)[0].schema,
                         write_options=pacsv.WriteOptions(quoting_style="needed")) as writer:
        for start in range(0, rows, GENERATE_CHUNK):
            table, injected = _chunk(rng, sirets, start, min(GENERATE_CHUNK, rows - start))
            writer.write_table(table)
            broken += injected
    tmp.rename(path)
    return broken


def scdl_file(folder: Path, rows: int) -> Path:
    """The generated file of `rows` rows in `folder`, made once (in a child process) and reused after."""
    path = folder / f"subventions-{rows}.csv"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        code = (f"import sys; sys.path.insert(0, {str(REPO)!r}); from benchmarks.harness import generate; "
                f"from pathlib import Path; print(generate(Path({str(path)!r}), {rows}))")
        injected = int(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                                      text=True).stdout)
        print(f"generated {path.name}: {rows:,} rows, {path.stat().st_size / 2**20:,.0f} MiB, {injected:,} with "
              f"an injected error, in {time.perf_counter() - started:.0f} s", flush=True)
    return path


def data_dir(arg: Path | None) -> Path:
    """Where generated files live between runs: `--data`, else `MOISSON_BENCH_DATA`, else /tmp/moisson-bench."""
    return arg or Path(os.environ.get("MOISSON_BENCH_DATA", "/tmp/moisson-bench"))


def fresh(folder: Path) -> Path:
    """An empty folder (its old content removed)."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def write_catalog(work: Path, root: Path, files: dict[str, str], *, schema: Path | None = SCHEMA) -> Path:
    """A catalog in `work` publishing each file (dataset id → name under `root`) to a local portal in `work`."""
    lines = ["version: 1", "defaults:", "  targets: [portail]", "  quality: {on_failure: warn}",
             "  metadata: {producer: Commune de Banc-d'Essai, license: lov2, contact: {name: SIG, email: "
             "opendata@banc-essai.fr}, spatial: {zones: ['fr:commune:59999'], granularity: poi}}",
             "sources:", f"  fichiers: {{connector: spreadsheet, config: {{root: {json.dumps(str(root))}}}}}",
             "targets:", "  portail:", "    connector: local",
             f"    config: {{path: {json.dumps(str(work / 'portal'))}, base_url: 'https://banc-essai.example/od/', "
             "title: Banc d'essai}", "datasets:"]
    for dataset_id, name in files.items():
        lines += [f"  - id: {dataset_id}", "    source: fichiers", f"    locator: {{path: {json.dumps(name)}}}",
                  *([f"    schema: {json.dumps(str(schema))}"] if schema else []), "    frequency: daily",
                  "    metadata:", f"      title: Subventions {dataset_id}",
                  "      description: Subventions versées par la commune (données de test générées).",
                  "      keywords: [subventions, SCDL]", "      temporal: {start: 2015-01-01}"]
    catalog = work / "catalog.yaml"
    catalog.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return catalog


def moisson_run(work: Path, prefect_home: Path, *args: str, api: str | None = None) -> Run:
    """`moisson run ARGS --catalog work/catalog.yaml --json` in a fresh process, INFO logs on stderr.

    Without `api` the command starts its temporary server; with it, it runs on that server (`PREFECT_API_URL`).
    """
    return measure([*MOISSON, "run", *args, "--catalog", str(work / "catalog.yaml"), "--json"],
                   env=moisson_env(work, prefect_home) | ({"PREFECT_API_URL": api} if api else {}), cwd=work)


def server_seconds(run: Run) -> tuple[float | None, float | None]:
    """Seconds from a run's start until its temporary Prefect server answers, and until its first flow run begins.

    Both read from the run's log (None: not in it).
    """
    stamps = {}
    for line in run.stderr.splitlines():
        for key, mark in (("server", "serveur Prefect temporaire prêt"), ("flow", "Beginning flow run")):
            if mark in line and key not in stamps:
                h, m, sec = line.split(" ", 1)[0].split(":")
                stamps[key] = int(h) * 3600 + int(m) * 60 + float(sec)
    began = run.started % 86400
    return tuple(stamps[key] - began if key in stamps else None for key in ("server", "flow"))


@contextmanager
def running_server(home: Path) -> Iterator[str]:
    """`moisson server` on a free port of 127.0.0.1 with its own Prefect home: its API's URL once it answers."""
    from moisson.flows.temporary_api import free_port

    port = free_port()
    url = f"http://127.0.0.1:{port}/api"
    server = subprocess.Popen([*MOISSON, "server", "--host", "127.0.0.1", "--port", str(port)],
                              env={**os.environ, "PREFECT_HOME": str(home), "PREFECT_UI_ENABLED": "0"},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=1):
                break
        except OSError:
            time.sleep(0.2)
    else:
        server.kill()
        sys.exit("moisson server did not answer in 60 s")
    try:
        yield url
    finally:
        server.terminate()
        server.wait(30)


def moisson_env(folder: Path, prefect_home: Path) -> dict[str, str]:
    """The environment of a `moisson run`: its own working folder, a Prefect home kept between runs."""
    return {"MOISSON_HOME": str(folder / "home"), "PREFECT_HOME": str(prefect_home),
            "PREFECT_LOGGING_LEVEL": "INFO", "PYTHONWARNINGS": "ignore", "TZ": "UTC"}


def task_times(prefect_home: Path, flow_runs: int) -> dict[str, float]:
    """Seconds per task name (summed) in the last `flow_runs` flow runs, read from the ephemeral server's database."""
    import sqlite3

    with sqlite3.connect(prefect_home / "prefect.db") as db:
        ids = [r[0] for r in db.execute("SELECT id FROM flow_run WHERE name LIKE 'harvest · %' "
                                        "ORDER BY created DESC LIMIT ?", (flow_runs,))]
        marks = ",".join("?" * len(ids))
        times: dict[str, float] = {}
        for name, seconds in db.execute(
                f"SELECT name, (julianday(end_time) - julianday(start_time)) * 86400 FROM task_run "
                f"WHERE flow_run_id IN ({marks})", ids):
            kind = name.split(" ·")[0]
            times[kind] = times.get(kind, 0.0) + (seconds or 0.0)
        flows = db.execute(f"SELECT SUM((julianday(end_time) - julianday(start_time)) * 86400) FROM flow_run "
                           f"WHERE id IN ({marks})", ids).fetchone()[0]
    times["flow runs (whole)"] = flows or 0.0
    return times
