"""`core.lazy`: a module named at the top of another is imported when first used, once."""

from __future__ import annotations

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
