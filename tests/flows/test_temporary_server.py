"""The temporary Prefect server of a run without `PREFECT_API_URL` is moisson's: launched as the command begins, its
SQLite writers taking turns."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from prefect.server.api.server import SubprocessASGIServer

from benchmarks.harness import scdl_file, write_catalog
from moisson.core.errors import UnavailableError
from moisson.flows import temporary_api
from moisson.flows.server import FACTORY, TemporaryServer, use_temporary_server
from moisson.flows.temporary_api import TemporaryApi, answers
from tests.data import REPO
from tests.peers.process import free_port, wait_for

#: Tiny datasets a catalog run harvests, 4 at a time: enough for Prefect's own server to answer some with 503.
DATASETS = 8
#: In a fresh process: a Prefect server transaction is begun, reads, and another connection asks for the write lock.
LOCK_PROBE = """
import asyncio, sqlite3, sys
import sqlalchemy as sa
from prefect.server.database import provide_database_interface
from moisson.flows.server import immediate_sqlite_transactions
if sys.argv[2] == "moisson":
    immediate_sqlite_transactions()

async def probe():
    async with provide_database_interface().session_context(begin_transaction=True) as session:
        await session.execute(sa.text("SELECT 1"))
        other = sqlite3.connect(sys.argv[1], timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError:
            return "locked"
        other.execute("ROLLBACK")
        return "free"

print(asyncio.run(probe()))
"""


@pytest.fixture
def no_temporary_server(monkeypatch):
    """Prefect's registry of temporary servers, empty for the test."""
    monkeypatch.setattr(SubprocessASGIServer, "_instances", {})


def test_prefect_starts_a_temporary_server_of_moissons(no_temporary_server, monkeypatch):
    use_temporary_server()
    server = SubprocessASGIServer()  # what Prefect's clients call when no API is set
    assert type(server) is TemporaryServer
    started = []
    monkeypatch.setattr(subprocess, "Popen", lambda args, env: started.append((args, env)))
    server.port = 8123
    server._run_uvicorn_command()
    [(args, env)] = started
    assert args[args.index("--factory") + 1] == FACTORY and args[args.index("--port") + 1] == "8123"
    assert env["PREFECT__SERVER_EPHEMERAL"] == "1" and env["PREFECT_UI_ENABLED"] == "0"


def tiny_catalog(folder: Path) -> Path:
    """A catalog of `DATASETS` one-row CSV datasets published to a local portal in `folder`."""
    (folder / "data").mkdir(parents=True)
    files = {}
    for n in range(DATASETS):
        (folder / "data" / f"t{n}.csv").write_text(f"code;nom\n{n};Lieu {n}\n", encoding="utf-8")
        files[f"jeu-{n}"] = f"t{n}.csv"
    return write_catalog(folder, folder / "data", files, schema=None)


def run_all(catalog: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`moisson run --all --json` in its own process; the Prefect API is only the one `env` names, if any."""
    environment = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"} | {
        "MOISSON_HOME": str(catalog.parent / "home"), "PREFECT_LOGGING_LEVEL": "INFO", **env}
    done = subprocess.run([sys.executable, "-m", "moisson.cli", "run", "--all", "--catalog", str(catalog), "--json"],
                          capture_output=True, text=True, env=environment, timeout=600, cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    assert [d["status"] for d in json.loads(done.stdout)["datasets"]] == ["published"] * DATASETS
    return done


def test_a_catalog_run_without_an_api_gets_no_busy_answer(tmp_path):
    # Eight tiny datasets four at a time on the temporary server: Prefect's own answered 503 to some of their slot
    # acquisitions and flow run creations (each then sent again 2 s later); moisson's answers every one.
    done = run_all(tiny_catalog(tmp_path), PREFECT_HOME=str(tmp_path / "prefect"),
                   PREFECT_API_LOG_RETRYABLE_ERRORS="true")
    assert "Encountered retryable exception" not in done.stderr
    # The server the command launched as it began, not the one Prefect starts on its first request; stopped after
    # the logs and events reached it (else Prefect's workers try it for a minute at exit, "Error logging to API").
    [url] = re.findall(r"serveur Prefect temporaire prêt sur (\S+)", done.stderr)
    assert "Starting temporary server" not in done.stderr
    assert "Error logging to API" not in done.stderr
    assert not answers(f"{url}/health")


def test_moisson_server_serves_the_ui_and_answers_concurrent_runs_without_503(tmp_path):
    # The long-running server of `moisson serve` on SQLite: Prefect's `server start`, same writers taking turns.
    port = free_port()
    log = tmp_path / "server.log"
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect"), "PREFECT_API_LOG_RETRYABLE_ERRORS": "true",
           "PREFECT_SERVER_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{tmp_path / 'prefect.db'}"}
    env.pop("PREFECT_API_URL", None)
    with log.open("w") as out:
        server = subprocess.Popen([sys.executable, "-m", "moisson.cli", "server", "--host", "127.0.0.1", "--port",
                                   str(port)], stdout=out, stderr=subprocess.STDOUT, env=env, cwd=REPO)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: answers(f"{base}/api/health"), "moisson server", 180, log)
        assert "<html" in httpx.get(f"{base}/", timeout=10).text  # the UI, as `prefect server start` serves it
        run_all(tiny_catalog(tmp_path / "runs"), PREFECT_API_URL=f"{base}/api")
    finally:
        server.terminate()
        server.wait(timeout=60)
    assert "Encountered retryable exception" not in log.read_text()


def test_moisson_server_refuses_the_modes_that_start_prefects_own_server():
    done = subprocess.run([sys.executable, "-m", "moisson.cli", "server", "--background"], capture_output=True,
                          text=True, cwd=REPO, timeout=120)
    assert done.returncode == 2
    assert "ne prend pas --background" in done.stderr


def test_a_temporary_server_already_made_is_kept(no_temporary_server):
    made = SubprocessASGIServer()
    use_temporary_server()
    assert SubprocessASGIServer() is made


@pytest.mark.parametrize(("server", "expected"), [("prefect", "free"), ("moisson", "locked")])
def test_a_server_transaction_takes_the_write_lock_before_it_reads(tmp_path, server, expected):
    # Prefect's own transaction (DEFERRED) holds no lock after a read, so a write after another connection's commit
    # fails at once (SQLite's busy snapshot: the 503 answers); moisson's holds the write lock from its first statement.
    database = tmp_path / "prefect.db"
    done = subprocess.run([sys.executable, "-c", LOCK_PROBE, str(database), server], capture_output=True, text=True,
                          env={**os.environ, "PREFECT_SERVER_DATABASE_CONNECTION_URL":
                               f"sqlite+aiosqlite:///{database}"}, timeout=120, cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == [expected]


def test_a_run_uses_the_api_its_prefect_profile_names_and_launches_no_server(tmp_path, prefect_server):
    # The API named in a profile, not in the environment: only Prefect's settings say it, and both processes read
    # them; the server's process leaves at once and the flows run on the profile's API.
    from prefect.settings import PREFECT_API_URL

    api = PREFECT_API_URL.value()
    home = tmp_path / "prefect"
    home.mkdir()
    (home / "profiles.toml").write_text(f'active = "site"\n\n[profiles.site]\nPREFECT_API_URL = "{api}"\n',
                                        encoding="utf-8")
    done = run_all(tiny_catalog(tmp_path), PREFECT_HOME=str(home))
    assert "serveur Prefect temporaire" not in done.stderr
    assert f"View at {api.removesuffix('/api')}/runs/flow-run/" in done.stderr


def test_the_server_process_serves_nothing_when_the_settings_name_an_api(tmp_path):
    port = free_port()
    done = subprocess.run([sys.executable, "-m", "moisson.flows.temporary_api", "--port", str(port), "--parent",
                           str(os.getpid())], capture_output=True, text=True, timeout=120, cwd=REPO,
                          env={**os.environ, "PREFECT_API_URL": "http://127.0.0.1:9/api",
                               "PREFECT_HOME": str(tmp_path / "prefect")})
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


@pytest.fixture
def server_home(tmp_path, monkeypatch):
    """No API in this process's environment, and a Prefect home of the test's own for the servers it launches."""
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect"))
    return tmp_path


def test_a_port_taken_before_the_server_binds_it_means_another_launch(server_home, monkeypatch):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        ports = [busy.getsockname()[1]]
        monkeypatch.setattr(temporary_api, "free_port", lambda: ports.pop() if ports else free_port())
        api = TemporaryApi()
        try:
            assert api.port == busy.getsockname()[1]
            api.ready(180)
            assert api.port != busy.getsockname()[1]
            assert answers(f"{api.url}/health")
        finally:
            api.stop()
    assert api.process.returncode is not None


def test_a_server_that_cannot_start_is_one_clear_message(server_home, monkeypatch):
    (server_home / "fichier").write_text("", encoding="utf-8")
    monkeypatch.setenv("PREFECT_SERVER_DATABASE_CONNECTION_URL",
                       f"sqlite+aiosqlite:///{server_home / 'fichier' / 'prefect.db'}")
    api = TemporaryApi()
    with pytest.raises(UnavailableError, match="serveur Prefect temporaire de cette commande s'est arrêté au "
                                               r"démarrage \(code 3.*PREFECT_API_URL"):
        api.ready(180)
    api.stop()


def test_moisson_run_says_in_one_line_that_its_server_could_not_start(tmp_path):
    (tmp_path / "fichier").write_text("", encoding="utf-8")
    environment = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"} | {
        "MOISSON_HOME": str(tmp_path / "home"), "PREFECT_HOME": str(tmp_path / "prefect"),
        "PREFECT_SERVER_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{tmp_path / 'fichier' / 'prefect.db'}"}
    done = subprocess.run([sys.executable, "-m", "moisson.cli", "run", "--all", "--catalog",
                           str(tiny_catalog(tmp_path / "runs"))], capture_output=True, text=True, env=environment,
                          timeout=600, cwd=REPO)
    assert done.returncode == 3
    assert "erreur : le serveur Prefect temporaire de cette commande s'est arrêté au démarrage" in done.stderr
    assert "Rien n'a été publié." in done.stderr
    assert "moisson n'a pas pu exécuter les flows" not in done.stderr  # the traceback's path: not taken
    assert not (tmp_path / "runs" / "portal").exists()


PARENT = """
import sys, time
from moisson.flows.temporary_api import TemporaryApi
api = TemporaryApi()
print(api.process.pid, api.url, flush=True)
time.sleep(600)
"""


def test_the_server_ends_with_its_command_even_killed(server_home):
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True, cwd=REPO)
    try:
        pid, url = parent.stdout.readline().split()
        wait_for(lambda: answers(f"{url}/health"), "the temporary server", 180)
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
    wait_for(lambda: not _alive(int(pid)), "the temporary server to end", 60)
    assert not answers(f"{url}/health")


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"  # a zombie has ended
    except FileNotFoundError:
        return False


ON_THE_WAY_PROBE = """
import json, sys
from moisson.flows.harvest import ON_THE_WAY, run_datasets
before = [name for name in ON_THE_WAY if name in sys.modules]
[outcome] = run_datasets(["jeu-0"], catalog=sys.argv[1])
print(json.dumps({"before": before, "after": [name for name in ON_THE_WAY if name in sys.modules],
                  "status": outcome.status}))
"""


def test_what_a_run_imports_while_its_server_starts_is_what_a_run_imports_anyway(tmp_path, prefect_server):
    # `warm_up` imports these while the command waits for its server: each must be one a run needs (no list of
    # guesses), and none already imported by then (else the wait gains nothing from it).
    from prefect.settings import PREFECT_API_URL

    # A dataset with its national schema, as most are.
    catalog = write_catalog(tmp_path, tmp_path, {"jeu-0": scdl_file(tmp_path, 20).name})
    done = subprocess.run([sys.executable, "-c", ON_THE_WAY_PROBE, str(catalog)], capture_output=True, text=True,
                          timeout=600, cwd=REPO, env={**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(),
                                                      "MOISSON_HOME": str(tmp_path / "home")})
    assert done.returncode == 0, done.stderr[-3000:]
    from moisson.flows.harvest import ON_THE_WAY

    assert json.loads(done.stdout.splitlines()[-1]) == {"before": [], "after": list(ON_THE_WAY),
                                                        "status": "published"}


SERVE_PROBE = """
import gc, json, sys
import uvicorn
from moisson.flows import temporary_api

def run(app, **options):
    print(json.dumps({"frozen": gc.get_freeze_count(), "collecting": gc.isenabled(), "app": type(app).__name__}))

uvicorn.run = run
sys.exit(temporary_api.main(["--port", "8123", "--parent", sys.argv[1]]))
"""


def test_the_server_starts_with_its_imports_and_app_out_of_the_collectors_passes(server_home):
    done = subprocess.run([sys.executable, "-c", SERVE_PROBE, str(os.getpid())], capture_output=True, text=True,
                          timeout=120, cwd=REPO)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.splitlines()[-1])
    assert seen["app"] == "FastAPI" and seen["collecting"]
    assert seen["frozen"] > 100_000  # Prefect's server stack, frozen before uvicorn serves it
