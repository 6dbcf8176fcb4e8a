"""Start-up of `moisson validate` and `moisson check` as a user runs them, against the real Validata's, in one run.

Each command is its own fresh process, 3 runs each (min and median of wall and CPU seconds), after one run that is
not counted: it writes the bytecode caches every installation has (this session's PYTHONDONTWRITEBYTECODE is lifted
for the children) and has frictionless accept the schema once (moisson remembers it in its home).

- `moisson validate FILE --schema S` on a 1-row SCDL subventions file, against Validata 0.12.5 on the same file
  (`tests/peers/validata_peer.py`'s venv and runner, one process per run);
- `moisson check` on the bundled catalog (goal of both: 0.5 s);
- for scale, `python -c "import pandas"`: what `validate` cannot go under while the gate checks pandas frames,
  with numpy's one OpenBLAS thread as `validate` asks for it (`core.settings.one_blas_thread`).

    .venv/bin/python benchmarks/startup_speed.py [--runs 3] [--data DIR]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.harness import MOISSON, REPO, SCHEMA, Run, data_dir, measure, repeat, result_line, scdl_file
from tests.peers.validata_peer import RUNNER, available, validata_python

GOAL_S = 0.5
HEADER = f"{'':<44}{'wall min':>9}{'median':>9}{'CPU min':>9}{'median':>9}"


def line(label: str, runs: Sequence[Run]) -> str:
    """Min and median of wall and CPU seconds."""
    walls, cpus = [r.seconds for r in runs], [r.cpu for r in runs]
    return (f"{label:<44}{min(walls):>9.2f}{statistics.median(walls):>9.2f}{min(cpus):>9.2f}"
            f"{statistics.median(cpus):>9.2f}")


def timed(command: Sequence[str], runs: int, *, label: str, ok: Sequence[int] = (0,), **kwargs) -> list[Run]:
    """One run not counted (caches), then `runs` measured ones."""
    measure(command, **kwargs)
    return repeat(command, runs, label=label, ok=ok, **kwargs)


def startup(folder: Path, runs: int) -> dict[str, float]:
    """Measure and print the start-up lines; their median wall and CPU seconds by name."""
    one = scdl_file(folder, 1)
    with tempfile.TemporaryDirectory() as home:
        env = {"MOISSON_HOME": home, "PYTHONDONTWRITEBYTECODE": ""}
        measured = {
            "validate": timed([*MOISSON, "validate", str(one), "--schema", str(SCHEMA)], runs, ok=(0, 1), env=env,
                              label="moisson validate (1 row)"),
            "check": timed([*MOISSON, "check", "--catalog", str(REPO / "deployments" / "catalog.yaml")], runs,
                           env=env, label="moisson check", cwd=REPO),
            "pandas": timed([sys.executable, "-c", "import pandas"], runs, env={**env, "OPENBLAS_NUM_THREADS": "1"},
                            label="import pandas"),
        }
    if available():
        measured["validata"] = timed([str(validata_python()), str(RUNNER), str(SCHEMA), str(one)], runs,
                                     env={"PYTHONDONTWRITEBYTECODE": ""}, label="Validata")
    labels = {"validate": "start-up: moisson validate, 1 row", "check": "start-up: moisson check, bundled catalog",
              "validata": "start-up: Validata 0.12.5, 1 row", "pandas": "for scale: python -c 'import pandas'"}
    print(HEADER)
    for key, done in measured.items():
        print(line(labels[key], done))
    if "validata" not in measured:
        print("Validata is not installed (scripts/peer-validata): its side is left out")
    figures = {}
    for key, done in measured.items():
        figures[f"startup_{key}_s"] = statistics.median(r.seconds for r in done)
        figures[f"startup_{key}_cpu_s"] = statistics.median(r.cpu for r in done)
    for key in ("validate", "check"):
        print(f"{key}: median {figures[f'startup_{key}_s']:.2f} s wall, {figures[f'startup_{key}_cpu_s']:.2f} s CPU "
              f"(goal {GOAL_S} s)")
    return figures


def main() -> None:
    """Measure and print the start-up of both commands and Validata's."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--data", type=Path, help="Folder of the generated files (kept between runs).")
    args = parser.parse_args()
    before = os.getloadavg()[0]
    print(f"{args.runs} runs each after one not counted, fresh processes; load average {before:.1f}")
    figures = startup(data_dir(args.data), args.runs)
    print(f"load average {before:.1f} before, {os.getloadavg()[0]:.1f} after")
    result_line("startup", **figures)


if __name__ == "__main__":
    main()
