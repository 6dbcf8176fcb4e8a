"""A CSV's peak memory stays proportional to a chunk, not to the file (issue 17, "Bounded resources").

The spreadsheet source's extract runs in a fresh interpreter whose address space is capped (`RLIMIT_AS`) at what
its imports take plus a budget that a whole-file read of the same CSV does not fit in: the control, the most
frugal whole-file read there is (pyarrow's, text columns), proves the limit bites. The cap is taken relative to
the child's own imports (thread stacks and shared libraries differ between machines) and the allocators are told
to map big blocks as they are asked for and give them back (glibc's `malloc` for every Arrow buffer, one arena,
fixed mmap threshold, 1 MiB thread stacks), so the address space follows the bytes in use.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

#: Rows of the generated CSV (≈ 200 bytes each: ≈ 100 MB, with a title line above the header).
ROWS = 500_000
#: Address space the child may take past its imports. Measured here: the chunked extract needs 90 to 120 MiB
#: for 43 MB and for 100 MB of CSV alike; pyarrow's whole-file read of 100 MB needs 200 to 250 MiB.
BUDGET_MB = 160
ENV = {"ARROW_DEFAULT_MEMORY_POOL": "system", "MALLOC_ARENA_MAX": "1", "MALLOC_MMAP_THRESHOLD_": "131072",
       "PYTHONWARNINGS": "ignore"}
CAPPED = f"""
import resource, sys
import numpy, pyarrow.compute, pyarrow.csv, pyarrow.parquet
from moisson.connectors.base import DatasetDescriptor
from moisson.connectors.sources.spreadsheet import SpreadsheetSource
size = next(int(line.split()[1]) << 10 for line in open("/proc/self/status") if line.startswith("VmSize:"))
resource.setrlimit(resource.RLIMIT_AS, (size + ({BUDGET_MB} << 20),) * 2)
"""
EXTRACT = CAPPED + """
import json
from pathlib import Path
path = Path(sys.argv[1])
source = SpreadsheetSource(SpreadsheetSource.Config(root=path.parent))
result = source.extract(DatasetDescriptor(id="gros-fichier", locator={"path": path.name}), Path(sys.argv[2]))
print(json.dumps({"rows": result.rows, "first_row": result.first_row}))
"""
WHOLE = CAPPED + """
table = pyarrow.csv.read_csv(sys.argv[1], read_options=pyarrow.csv.ReadOptions(skip_rows=1, use_threads=False),
                             parse_options=pyarrow.csv.ParseOptions(delimiter=";"))
print(table.num_rows)
"""


def big_csv(path: Path, rows: int) -> Path:
    """A semicolon CSV of subsidies under a title line, written 10,000 rows at a time."""
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("Subventions versées par la commune — export du service finances\r\n")
        out.write("nomBeneficiaire;idBeneficiaire;dateConvention;objet;montant;nature;conditionsVersement;"
                  "commentaire\r\n")
        for start in range(0, rows, 10_000):
            out.write("".join(
                f"Association sportive et culturelle n° {n};{32402138500000 + n};20{n % 24:02d}-0{n % 9 + 1}-1"
                f"{n % 9};Soutien à la saison culturelle et aux actions jeunesse {n % 97};{n % 100_000},50;"
                "aide en numéraire;échelonné;\"versement en deux fois ; solde à réception du bilan\"\r\n"
                for n in range(start, min(start + 10_000, rows))))
    return path


def capped(code: str, *args: object) -> subprocess.CompletedProcess[str]:
    """Run `code` (which caps its own address space once imported) in a fresh interpreter, thread stacks 1 MiB."""
    def small_stacks() -> None:
        resource.setrlimit(resource.RLIMIT_STACK, (1 << 20, resource.getrlimit(resource.RLIMIT_STACK)[1]))

    return subprocess.run([sys.executable, "-c", code, *map(str, args)], preexec_fn=small_stacks,
                          capture_output=True, text=True, env={**os.environ, **ENV}, timeout=300)


@pytest.fixture(scope="module")
def csv_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return big_csv(tmp_path_factory.mktemp("gros") / "subventions.csv", ROWS)


def test_the_cap_refuses_a_whole_file_read(csv_file: Path) -> None:
    assert csv_file.stat().st_size > 95 << 20
    control = capped(WHOLE, csv_file)
    assert control.returncode != 0, f"the whole file was read within {BUDGET_MB} MiB: the cap does not bite"
    assert "Out of memory" in control.stderr or "MemoryError" in control.stderr, control.stderr[-2000:]


def test_extract_of_a_large_csv_fits_in_a_chunks_memory(csv_file: Path, tmp_path: Path) -> None:
    done = capped(EXTRACT, csv_file, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.splitlines()[-1]) == {"rows": ROWS, "first_row": 3}
