"""Publish one pickled publication on a portal and SIGKILL this process at a chosen point (run as a child)."""

from __future__ import annotations

import os
import pickle
import signal
import sys
from pathlib import Path

from moisson.connectors.targets import local
from moisson.connectors.targets.local import LocalTarget

POINTS = ("before-swap", "between-renames", "after-swap", "during-catalog-write", "during-index-write")


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def arm(point: str) -> None:
    """Patch the target so that the process dies at `point`, as a power cut or an OOM kill would."""
    if point == "before-swap":
        local.LocalTarget._swap_in = lambda self, staging, final: die()
    elif point == "between-renames":
        replace = os.replace

        def replace_then_die(src, dst):
            if Path(src).name.startswith(".") and ".new-" in Path(src).name:
                die()  # the old folder is aside, the new one not yet in
            replace(src, dst)

        local.os.replace = replace_then_die
    elif point == "after-swap":
        local.LocalTarget._regenerate = lambda self: die()
    elif point in ("during-catalog-write", "during-index-write"):
        name = "catalog.jsonld" if point == "during-catalog-write" else "index.html"
        write = local._write_text

        def write_half_then_die(path: Path, text: str) -> None:
            if path.name == name and path.parent == target.config.path:
                temporary = path.with_name(f".{path.name}.{'f' * 32}")
                temporary.write_text(text[: len(text) // 2], encoding="utf-8")
                die()
            write(path, text)

        local._write_text = write_half_then_die
    else:
        raise SystemExit(f"unknown kill point {point!r}; one of {POINTS}")


if __name__ == "__main__":
    config_json, publication_file, kill_point = sys.argv[1:4]
    target = LocalTarget(LocalTarget.Config.model_validate_json(config_json))
    publication = pickle.loads(Path(publication_file).read_bytes())
    arm(kill_point)
    target.publish(publication)
    raise SystemExit("the kill point was never reached")
