"""The wheel a user installs: one import name, the bundled schemas and demo data inside, usable offline.

The wheel is built from the checkout and installed (not editable) in a fresh virtual environment
whose dependencies come from the project's own venv through a path entry, so the test needs no
download beyond the build backend. Every command runs outside the checkout with a proxy that
refuses connections: anything that reached for the network would fail.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

from tests.data import REPO

OFFLINE = {"HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9",
           "http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9", "NO_PROXY": ""}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out), str(REPO)],
                   check=True, capture_output=True, text=True)
    [built] = out.glob("moisson-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory) -> Path:
    """A fresh venv with the wheel installed; returns its `bin/`."""
    env_dir = tmp_path_factory.mktemp("venv")
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    # Dependencies from the project's venv, listed after the wheel's own files (no .pth processing there).
    (site / "zz-project-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
                    "--no-index", str(wheel)], check=True, capture_output=True, text=True)
    return env_dir / "bin"


def run(bin_dir: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MOISSON_CATALOG")} | OFFLINE
    env["MOISSON_HOME"] = str(cwd / "var")
    return subprocess.run([str(bin_dir / "moisson"), *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)


def test_the_wheel_installs_one_name_with_schemas_and_demo_data(wheel: Path):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"moisson"}
    assert "moisson/schemas/scdl/equipements/0.1.5/schema.json" in names
    assert "moisson/deployments/catalog.yaml" in names
    assert {"moisson/deployments/demo/equipements-publics.xlsx", "moisson/deployments/demo/salles-a-louer.csv",
            "moisson/deployments/demo/stationnements-velos.gpkg"} <= set(names)
    assert {f"moisson/deployments/demo/{name}" for name in (
        "defibrillateurs-commune.xlsx", "defibrillateurs-geodae.csv", "defibrillateurs-osm.csv",
        "geocodage-corrections.csv", "defibrillateurs.schema.json")} <= set(names)


def test_installed_commands_run_offline_outside_the_checkout(installed: Path, tmp_path: Path):
    where = subprocess.run([str(installed / "python"), "-c", "import moisson.connectors.base as m; print(m.__file__)"],
                           cwd=tmp_path, capture_output=True, text=True, check=True).stdout.strip()
    assert not Path(where).is_relative_to(REPO), where

    listed = run(installed, "connectors", "--json", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    kinds = {c["kind"] for c in json.loads(listed.stdout)["sources"]}
    assert {"spreadsheet", "csw", "sql", "geopackage"} <= kinds

    checked = run(installed, "check", cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr + checked.stdout
    assert "OK" in checked.stdout

    csv = tmp_path / "equipements.csv"
    csv.write_text("COLL_NOM,COLL_SIRET,EQUIP_UID,EQUIP_THEME,EQUIP_TYPE,EQUIP_NOM,EQUIP_LAT,EQUIP_LONG\n"
                   "Moisson-sur-Lys,21590350100017,59350-0001,Equipement sportif et de loisirs,Gymnase,"
                   "Gymnase des Tilleuls,50.63,3.06\n", encoding="utf-8")
    validated = run(installed, "validate", str(csv), "--schema", "scdl/equipements@0.1.5", "--json", cwd=tmp_path)
    assert validated.returncode in (0, 1), validated.stderr
    report = json.loads(validated.stdout)
    assert report["rows"] == 1
    assert not any("télécharg" in e["message"].lower() or "download" in e["message"].lower()
                   for e in report["errors"]), report
