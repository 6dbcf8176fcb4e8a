"""Modules imported on first use, so that a command imports only the libraries its path touches.

`moisson check` loads every connector of the catalog for its `Config`, and each connector module names
pandas, pyarrow, SQLAlchemy or shapely at its top: importing them all costs seconds before anything is
checked. A module writes, after its imports (PEP 810's `lazy import` in the meantime)::

    if TYPE_CHECKING:
        import pyarrow as pa
    else:
        pa = lazy("pyarrow")

and `pa.table(...)` imports pyarrow the first time it runs. Nothing is put in `sys.modules` until then.
A command imports what it needs within `startup_imports`, out of the garbage collector's way.
"""

from __future__ import annotations

import atexit
import functools
import gc
import importlib
import types
from collections.abc import Iterator
from contextlib import contextmanager
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


@contextmanager
def startup_imports() -> Iterator[None]:
    """A command's imports, with the garbage collector paused, then what they made left out of its passes.

    Imports make tens of thousands of objects that live as long as the process (80,000 for `moisson validate`:
    modules, classes, validators): each full pass of the collector over them frees nothing, and the command's own
    objects bring passes on. So the collector is paused for the imports, then everything that exists is frozen
    (`gc.freeze`): later passes look only at what the command makes after. The price: the garbage cycles made before
    then are never freed (0.4 MB in `moisson validate`; a test process that runs commands keeps theirs too).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


@functools.cache  # once per process, however many commands a test process runs
def no_collection_at_exit() -> None:
    """Leave the objects that still exist out of the collector's last pass, when the interpreter ends.

    At exit Python runs the collector over every object still tracked: in `moisson run`, the hundreds of thousands
    Prefect, pandas and the run made, 0.6–0.9 s after the last flow run ended, for memory the system takes back
    anyway. Objects frozen (`gc.freeze`) are left out of it. Registered first, it runs after every other `atexit`
    handler (Prefect's workers, temporary folders), which still run.
    """
    atexit.register(gc.freeze)
