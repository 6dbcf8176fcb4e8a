"""What no implementation can go under on this machine, measured in the run that measures the goals they bound.

Two goals are ratios to frictionless validating 1,000,000 rows: `moisson validate` at least 20x faster, `moisson
run` of the same file in at most 0.25x its time. Both leave a budget of wall seconds; what any program doing the
same work pays before doing any of it comes out of that budget. Each line is a fresh process, 3 runs (median):

- `import pandas, pyarrow`: what a validator checking pandas or Arrow columns pays before reading a byte;
- the same, then Arrow's multi-threaded CSV reader parsing the 1,000,000-row file into text columns, and nothing
  else: reading the file, without checking a cell;
- `import prefect`: what a command running a flow pays before it;
- Prefect's server app built (`prefect.server.api.server.create_app`, its imports included): no Prefect server
  answers before, so no run on a server started by its command begins before;
- a flow of four tasks doing nothing, against a running `moisson server` (started once here): what Prefect's
  orchestration of one run of four tasks costs when the server is already up;
- the same flow with no API set: Prefect's own temporary server, what Prefect gives a command run without one.

A command that starts its server as it begins (as `moisson run` does) imports Prefect meanwhile, on the other core:
its floor is the longer of the two, then the bare flow's time past `import prefect`. Each program pauses the
collector and leaves its objects out of the last pass at exit, as moisson's commands do: a floor owes nothing to
what moisson already avoids.

Then the budgets: frictionless's median (`--frictionless S`, else measured here once) over 20 for `validate`,
times 0.25 for `run`, each less its floors.

    .venv/bin/python benchmarks/floors.py [--runs 3] [--data DIR] [--frictionless SECONDS]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.harness import (
    HEADER,
    data_dir,
    frictionless_runs,
    repeat,
    result_line,
    row,
    running_server,
    scdl_file,
    spread,
)
from moisson.flows.temporary_api import SERVER_ENV

#: Each floor's program runs without the cyclic collector (as moisson's commands import) and leaves its objects out
#: of the collector's last pass at exit (as moisson's commands do): the floor is the work, not the tidying up after.
NO_COLLECTOR = "import gc; gc.disable()\n"
END = "\ngc.freeze()\n"
PARSE = NO_COLLECTOR + """\
import sys
import pyarrow as pa, pyarrow.csv as pacsv, pandas
names = pacsv.open_csv(sys.argv[1]).schema.names
table = pacsv.read_csv(sys.argv[1], convert_options=pacsv.ConvertOptions(
    column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=True))
assert table.num_rows > 0
""" + END
BARE_FLOW = NO_COLLECTOR + """\
from prefect import flow, task

@task
def step(i: int) -> int:
    return i

@flow
def bare() -> None:
    for i in range(4):
        step(i)

bare()
""" + END
SERVER_APP = NO_COLLECTOR + "from prefect.server.api.server import create_app; create_app()" + END


def main() -> None:
    """Measure the floors, then print the budgets they leave."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--data", type=Path, help="Folder of the generated files (kept between runs).")
    parser.add_argument("--frictionless", type=float, help="frictionless's median on 1,000,000 rows, if measured.")
    args = parser.parse_args()
    folder = data_dir(args.data)
    path = scdl_file(folder, 1_000_000)
    quiet = {"PYTHONWARNINGS": "ignore", "PREFECT_LOGGING_LEVEL": "WARNING"}
    with tempfile.TemporaryDirectory() as tmp:
        flow_file = Path(tmp) / "bare.py"
        flow_file.write_text(BARE_FLOW, encoding="utf-8")
        measured = {
            "imports": repeat([sys.executable, "-c", NO_COLLECTOR + "import pandas, pyarrow" + END], args.runs,
                              label="imports"),
            "parse": repeat([sys.executable, "-c", PARSE, str(path)], args.runs, label="parse"),
            "prefect": repeat([sys.executable, "-c", NO_COLLECTOR + "import prefect" + END], args.runs,
                              label="import prefect", env={**quiet, "PREFECT_HOME": str(Path(tmp) / "app")}),
            "server_app": repeat([sys.executable, "-c", SERVER_APP], args.runs, label="server app",
                                 env={**SERVER_ENV, **quiet, "PREFECT_HOME": str(Path(tmp) / "app")}),
        }
        with running_server(Path(tmp) / "served") as url:
            served = {**quiet, "PREFECT_API_URL": url, "PREFECT_HOME": str(Path(tmp) / "client")}
            repeat([sys.executable, str(flow_file)], 1, label="bare flow (warm-up)", env=served)
            measured["flow_served"] = repeat([sys.executable, str(flow_file)], args.runs, label="bare flow",
                                             env=served)
        own = {**quiet, "PREFECT_HOME": str(Path(tmp) / "own")}
        repeat([sys.executable, str(flow_file)], 1, label="bare flow (warm-up)", env=own)
        measured["flow_own_server"] = repeat([sys.executable, str(flow_file)], args.runs, label="bare flow",
                                             env=own)
    labels = {"imports": "import pandas, pyarrow",
              "parse": "+ Arrow parses the file (threads), no check",
              "prefect": "import prefect",
              "server_app": "Prefect's server app built",
              "flow_served": "bare flow of 4 tasks, running server",
              "flow_own_server": "bare flow of 4 tasks, Prefect's own server"}
    print(f"{args.runs} runs each, fresh processes\n{HEADER}")
    for key, runs in measured.items():
        print(row(labels[key], runs, 1_000_000 if key == "parse" else None))
    figures = {f"{key}_s": spread(runs)[1] for key, runs in measured.items()}
    theirs = args.frictionless
    if theirs is None:
        done = frictionless_runs(path, 1)
        theirs = spread(done)[1]
        print(row("frictionless validate, 1,000,000 rows", done, 1_000_000))
    validate_budget, run_budget = theirs / 20, theirs * 0.25
    reading = figures["parse_s"]
    prefect = figures["prefect_s"]
    orchestration = max(figures["server_app_s"], prefect) + figures["flow_served_s"] - prefect
    print(textwrap.dedent(f"""\
        frictionless: {theirs:.2f} s
        `moisson validate` at 20x: {validate_budget:.2f} s; importing and parsing alone take {reading:.2f} s, which
          leaves {validate_budget - reading:.2f} s to check 1,000,000 rows
        `moisson run` at 0.25x: {run_budget:.2f} s; a Prefect server's start ({figures['server_app_s']:.2f} s, Prefect
          imported meanwhile) then a bare run of four tasks past its imports take {orchestration:.2f} s, which
          leaves {run_budget - orchestration:.2f} s to read, check, write, read back and publish 1,000,000 rows
          ({run_budget - figures['flow_served_s']:.2f} s with a server already running)"""))
    result_line("floors", **figures, frictionless_s=theirs, validate_budget_s=validate_budget,
                validate_left_s=validate_budget - reading, run_budget_s=run_budget,
                run_left_s=run_budget - orchestration, run_left_served_s=run_budget - figures["flow_served_s"])


if __name__ == "__main__":
    main()
