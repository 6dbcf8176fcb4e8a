"""The temporary Prefect server of a command that runs flows without an API, launched as the command begins.

Left to Prefect, that server comes late and costs twice: the command first imports Prefect's whole server stack
(3 to 4 s of CPU it never uses), then the server's own process imports it again while every flow waits. Launched
before the command imports anything heavy, the server's process starts on the other core while the command
imports its own modules, and the command never loads the server's.

The server's process decides whether it is needed: it reads Prefect's settings as the command does (same
environment, folder and profiles) and leaves at once, serving nothing, when they name an API. It also leaves when
the command's process ends, even killed. This module imports nothing of Prefect until the command adopts it.

    python -m moisson.flows.temporary_api --port PORT --parent PID    # the server's process
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from moisson.core.errors import UnavailableError
from moisson.core.lazy import startup_imports

#: As Prefect starts its temporary server: no UI, ephemeral (no scheduler or other long-running services).
SERVER_ENV = {"PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1"}
#: uvicorn's exit status when it cannot start, its port taken among others.
STARTUP_FAILURE = 3
#: Ports tried before giving up, each taken by another program between our probe and the server's bind.
ATTEMPTS = 3
#: How long the logs and events still queued may take to reach the server before it stops.
DRAIN_SECONDS = 30


class TemporaryApi:
    """A Prefect server in a child process of this command, on a free port of 127.0.0.1.

    Attributes:
        url: The API's address, as `PREFECT_API_URL` names it.
        adopted: Whether this process's Prefect talks to it (see `adopt`).
    """

    def __init__(self) -> None:
        self.adopted = False
        self._launch()

    def adopt(self, meanwhile: Callable[[], object] = lambda: None) -> bool:
        """Point this process's Prefect at the server once it answers, unless Prefect's settings name an API.

        Call it once Prefect is imported, before its first request; the server's start and the command's imports
        have run side by side until then.

        Args:
            meanwhile: What to do while the server starts, once it is known to be used (the run's later imports).

        Returns:
            Whether the server is used (False: the settings name an API; the server has left).

        Raises:
            UnavailableError: The server did not start.
        """
        from prefect.context import refresh_global_settings_context
        from prefect.logging import get_logger
        from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS

        if PREFECT_API_URL.value():
            self.stop()
            return False
        meanwhile()
        self.ready(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value())  # its port may have changed meanwhile
        os.environ["PREFECT_API_URL"] = self.url
        refresh_global_settings_context()  # every thread's Prefect reads the global settings, now with the URL
        self.adopted = True
        get_logger("moisson").info("serveur Prefect temporaire prêt sur %s", self.url)
        return True

    def stop(self) -> None:
        """End the server (if it still runs) and, if adopted, give this process its own settings back.

        The logs and events this process still holds are sent first: a server gone before them would leave
        Prefect's workers trying to reach it for a minute at exit.
        """
        if self.adopted:
            from prefect.events.worker import EventsWorker
            from prefect.logging.handlers import APILogWorker

            APILogWorker.drain_all(timeout=DRAIN_SECONDS)
            EventsWorker.drain_all(timeout=DRAIN_SECONDS)
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.adopted:
            from prefect.context import refresh_global_settings_context

            os.environ.pop("PREFECT_API_URL", None)
            refresh_global_settings_context()
            self.adopted = False

    def _launch(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/api"
        self.process = subprocess.Popen(
            [sys.executable, "-m", __name__, "--port", str(self.port), "--parent", str(os.getpid())],
            env={**os.environ, **SERVER_ENV})

    def ready(self, timeout: float) -> None:
        """Wait until the server answers its health check; its port taken meanwhile means another launch.

        Raises:
            UnavailableError: The server stopped, or did not answer within `timeout` seconds.
        """
        deadline = time.monotonic() + timeout
        attempts = 1
        while time.monotonic() < deadline:
            code = self.process.poll()
            if code == STARTUP_FAILURE and attempts < ATTEMPTS and taken(self.port):
                attempts += 1
                self._launch()
            elif code is not None:
                raise UnavailableError(f"le serveur Prefect temporaire de cette commande s'est arrêté au démarrage "
                                       f"(code {code}, voir son message ci-dessus) : relancez, ou faites pointer "
                                       "PREFECT_API_URL vers un serveur Prefect.")
            elif answers(f"{self.url}/health"):
                return
            time.sleep(0.1)
        self.stop()
        raise UnavailableError(f"le serveur Prefect temporaire de cette commande n'a pas répondu en {timeout:.0f} s : "
                               "allongez PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS, ou faites pointer "
                               "PREFECT_API_URL vers un serveur Prefect.")


@contextmanager
def temporary_api() -> Iterator[TemporaryApi | None]:
    """A `TemporaryApi` launched now and stopped at the end, unless `PREFECT_API_URL` is in the environment."""
    if os.environ.get("PREFECT_API_URL"):
        yield None
        return
    api = TemporaryApi()
    try:
        yield api
    finally:
        api.stop()


def free_port() -> int:
    """A port of 127.0.0.1 no program listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def taken(port: int) -> bool:
    """Whether some program listens on `port` of 127.0.0.1."""
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def answers(url: str) -> bool:
    """Whether `url` answers 200 within a second."""
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def serve(port: int, parent: int) -> int:
    """The server's process: nothing when Prefect's settings name an API, else Prefect's server until `parent` ends.

    Returns:
        0 (uvicorn ends the process with `STARTUP_FAILURE` itself when the server cannot start).
    """
    with startup_imports():  # Prefect's server stack and its app: 3 s of imports, a quarter of it in the collector
        from prefect.settings import PREFECT_API_URL

        if PREFECT_API_URL.value():
            return 0
        import uvicorn

        from moisson.flows.server import create_app

        app = create_app()
    threading.Thread(target=_end_with, args=(parent,), daemon=True, name="parent-watch").start()
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="error", lifespan="on")
    return 0


def _end_with(parent: int) -> None:
    # A command killed (SIGKILL, out of memory) never stops its server: this process then has another parent.
    while os.getppid() == parent:
        time.sleep(1)
    os.kill(os.getpid(), signal.SIGTERM)  # uvicorn's own handler: the server shuts down cleanly


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m moisson.flows.temporary_api --port PORT --parent PID`."""
    parser = argparse.ArgumentParser(prog="python -m moisson.flows.temporary_api", description=serve.__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--parent", type=int, required=True)
    args = parser.parse_args(argv)
    return serve(args.port, args.parent)


if __name__ == "__main__":
    sys.exit(main())
