"""`core.lazy`: a module named at the top of another is imported when first used, once."""

from __future__ import annotations

import subprocess
import sys

from moisson.core.lazy import lazy


def test_a_lazy_module_is_imported_on_first_use_only(tmp_path, monkeypatch):
    (tmp_path / "lazy_probe.py").write_text("LOADS = []\nLOADS.append(1)\ndef twice(x):\n    return 2 * x\n",
                                            encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "lazy_probe", raising=False)
    probe = lazy("lazy_probe")
    assert "lazy_probe" not in sys.modules
    assert probe.twice(21) == 42
    assert probe.LOADS == [1] and probe.twice is sys.modules["lazy_probe"].twice
    assert lazy("lazy_probe").LOADS == [1]  # another name for it does not import it again


def test_a_command_leaves_its_objects_out_of_the_last_collection(tmp_path):
    """At exit every object still tracked is frozen, once every other exit handler ran: the last pass is empty."""
    probe = """
import atexit, gc, sys
atexit.register(lambda: print("tracked at exit:", len(gc.get_objects()), flush=True))  # runs after moisson's
from moisson.cli import app
made = [{"cell": i} for i in range(50_000)]  # what a command makes, after its imports
sys.argv = ["moisson", "validate", sys.argv[1], "--schema", sys.argv[2]]
app()
"""
    (tmp_path / "t.csv").write_text("nom\nA\n", encoding="utf-8")
    (tmp_path / "s.json").write_text('{"fields": [{"name": "nom", "type": "string"}]}', encoding="utf-8")
    done = subprocess.run([sys.executable, "-c", probe, str(tmp_path / "t.csv"), str(tmp_path / "s.json")],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    tracked = int(done.stdout.rsplit("tracked at exit:", 1)[1])
    assert tracked < 1_000  # 50,000 dicts and the command's objects without the freeze
