"""Modules imported on first use, so that a command imports only the libraries its path touches.

`moisson check` loads every connector of the catalog for its `Config`, and each connector module names
pandas, pyarrow, SQLAlchemy or shapely at its top: importing them all costs seconds before anything is
checked. A module writes, after its imports (PEP 810's `lazy import` in the meantime)::

    if TYPE_CHECKING:
        import pyarrow as pa
    else:
        pa = lazy("pyarrow")

and `pa.table(...)` imports pyarrow the first time it runs. Nothing is put in `sys.modules` until then.
"""

from __future__ import annotations

import importlib
import types
from typing import Any


class _LazyModule(types.ModuleType):
    """Stands for a module until one of its attributes is read, then for the imported module."""

    def __getattr__(self, attr: str) -> Any:
        value = getattr(importlib.import_module(self.__name__), attr)
        setattr(self, attr, value)  # read once: later reads do not come back here
        return value

    def __dir__(self) -> list[str]:
        return dir(importlib.import_module(self.__name__))


def lazy(name: str) -> Any:
    """The module `name`, imported when first used (an attribute read), once.

    Args:
        name: Absolute dotted name, as `import` takes it (`pyarrow.compute`).
    """
    return _LazyModule(name)
