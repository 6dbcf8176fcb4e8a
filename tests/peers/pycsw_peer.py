"""A real pycsw 2.6.2 on 127.0.0.1, run from its own venv (`scripts/peer-pycsw`), for the CSW tests and benchmark.

pycsw needs SQLAlchemy<2 and moisson SQLAlchemy 2, so it never enters moisson's venv: it runs
as a subprocess of `.peers/pycsw/bin/python` (or `PYCSW_PYTHON`).
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
from collections.abc import Iterable
from pathlib import Path

from lxml import etree

from moisson.connectors.sources.csw.iso19139 import NS

REPO = Path(__file__).resolve().parents[2]
ISO = REPO.parent / "shared" / "reference" / "iso19139"
# Thousands, as a real Isogeo catalog of a métropole: enough pages to exercise paging, caps and deletions.
GENERATED = 2000
SERVE = Path(__file__).with_name("serve_pycsw.py")

CONFIG = """[server]
home=.
url=http://127.0.0.1:8000/
mimetype=application/xml; charset=UTF-8
encoding=UTF-8
language=fr-FR
maxrecords={maxrecords}
profiles=apiso

[manager]
transactions=false
allowed_ips=127.0.0.1

[metadata:main]
identification_title=Test CSW (pycsw)
identification_abstract=Local pycsw loaded with reference ISO 19139 records
identification_keywords=catalogue,discovery,metadata
identification_keywords_type=theme
identification_fees=None
identification_accessconstraints=None
provider_name=test
provider_url=http://127.0.0.1:8000/
contact_name=test
contact_position=test
contact_address=test
contact_city=test
contact_stateorprovince=test
contact_postalcode=00000
contact_country=France
contact_phone=+33-0-00-00-00-00
contact_fax=+33-0-00-00-00-00
contact_email=test@example.org
contact_url=http://127.0.0.1:8000/
contact_hours=none
contact_instructions=none
contact_role=pointOfContact

[repository]
database=sqlite:///./records.db
table=records

[metadata:inspire]
enabled=false
"""


def pycsw_python() -> Path | None:
    """The pycsw venv's interpreter: `PYCSW_PYTHON`, else `.peers/pycsw/bin/python`; None when absent."""
    path = Path(os.environ.get("PYCSW_PYTHON") or REPO / ".peers" / "pycsw" / "bin" / "python")
    return path if path.exists() else None


class Pycsw:
    """One pycsw server over its own records database in `workdir`.

    Args:
        workdir: Directory for the config, the database and the record files.
        maxrecords: Server-side page cap.
    """

    def __init__(self, workdir: Path, *, maxrecords: int = 10, copy_of: Pycsw | None = None) -> None:
        python = pycsw_python()
        if python is None:
            raise RuntimeError("pycsw is not installed: run scripts/peer-pycsw")
        self.python, self.workdir = python, workdir
        self.admin = python.parent / "pycsw-admin.py"
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "csw.cfg").write_text(CONFIG.format(maxrecords=maxrecords), encoding="utf-8")
        if copy_of is None:
            self._admin("setup_db")
        else:  # loading is slow (~100 records/s): tests that change records start from a copy
            shutil.copy(copy_of.workdir / "records.db", workdir / "records.db")
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""

    def load(self, files: Iterable[Path], *, overwrite: bool = False) -> str:
        """Load record files (copied into a fresh folder); returns pycsw's output (failures are listed there)."""
        folder = self.workdir / f"load-{len(list(self.workdir.glob('load-*')))}"
        folder.mkdir()
        for path in files:
            shutil.copy(path, folder / path.name)
        return self._admin("load_records", "-p", str(folder), "-r", *(["-y"] if overwrite else []))

    def start(self) -> str:
        """Start serving; returns the base URL."""
        env = {**os.environ, "PYCSW_ROOT": str(self.workdir), "PYCSW_CONFIG": str(self.workdir / "csw.cfg")}
        self.proc = subprocess.Popen([str(self.python), "-W", "ignore", str(SERVE)], cwd=self.workdir, env=env,
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        port = int(self.proc.stdout.readline())
        self.url = f"http://127.0.0.1:{port}/"
        return self.url

    def stop(self) -> None:
        """Stop the server this object started."""
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
            self.proc = None

    def delete(self, identifiers: Iterable[str]) -> None:
        """Remove records from the repository while the server runs."""
        with sqlite3.connect(self.workdir / "records.db") as db:
            db.executemany("DELETE FROM records WHERE identifier = ?", [(i,) for i in identifiers])

    def set_xml(self, identifier: str, xml: bytes, *, keep_declaration: bool = False) -> None:
        """Change a record's XML without touching its queryables: a catalog whose dates lie.

        With `keep_declaration`, pycsw cannot serialise the record any more (it parses the text
        with its encoding declaration): a real server failing on one record.
        """
        text = xml.decode()
        if not keep_declaration:
            text = re.sub(r"^<\?xml[^>]*\?>\s*", "", text)
        with sqlite3.connect(self.workdir / "records.db") as db:
            db.execute("UPDATE records SET xml = ? WHERE identifier = ?", (text, identifier))

    def count(self) -> int:
        """Records in the repository."""
        with sqlite3.connect(self.workdir / "records.db") as db:
            return db.execute("SELECT count(*) FROM records").fetchone()[0]

    def _admin(self, command: str, *args: str) -> str:
        done = subprocess.run([str(self.python), "-W", "ignore", str(self.admin), "-c", command, "-f", "csw.cfg",
                               *args], cwd=self.workdir, capture_output=True, text=True, check=True)
        return done.stdout + done.stderr


def generate_records(template: Path, folder: Path, count: int, *, prefix: str = "gen",
                     datestamp: str | None = None) -> list[str]:
    """Write `count` copies of an ISO record with new identifiers and titles; returns the identifiers."""
    folder.mkdir(parents=True, exist_ok=True)
    tree = etree.parse(str(template))
    ident = tree.find("gmd:fileIdentifier/gco:CharacterString", NS)
    title = tree.find("gmd:identificationInfo/*/gmd:citation/*/gmd:title/gco:CharacterString", NS)
    stamp = tree.find("gmd:dateStamp/*", NS)
    ids = []
    for i in range(count):
        record_id = f"{prefix}-{i:06d}"
        ident.text = record_id
        title.text = f"Jeu de données {prefix} n°{i}"
        if datestamp is not None:
            stamp.text = datestamp
        tree.write(str(folder / f"{record_id}.xml"), xml_declaration=True, encoding="UTF-8")
        ids.append(record_id)
    return ids


def require_pycsw() -> None:
    """Skip the test, saying why, when the reference records or the pycsw venv are missing."""
    import pytest

    if not ISO.is_dir():
        pytest.skip(f"reference records absent ({ISO})")
    if pycsw_python() is None:
        pytest.skip("pycsw is not installed: run scripts/peer-pycsw (scripts/test does)")
