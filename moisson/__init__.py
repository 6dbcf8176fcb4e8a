"""moisson."""

import os
import sys

# Arrow's default allocator (mimalloc) hands freed pages back to the kernel and faults them in again: on
# `moisson validate` of 1,000,000 rows that is 2.5 s of system time, 1.0 s with jemalloc, for a lower peak RSS
# (benchmarks/validate_speed.py). Read when pyarrow first allocates, so set before any import of it; a pool the
# user chose is kept.
if sys.platform == "linux":
    os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "jemalloc")
