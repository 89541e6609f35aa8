"""The process pool: worker processes that run background jobs, and the seam that starts them.

`Pool` (the supervisor) runs in the engine's dispatcher thread; `child` is the worker process
side; `protocol` is what they say over the pipe; `process` starts workers (`ProcessFactory`);
`mainless` keeps the user's main module out of them.

Names are imported on first use: `jobengine.pool.mainless` alone starts the fork server, and
the fork server's workers import only the worker side.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jobengine.pool.process import (
        MultiprocessFactory,
        ProcessFactory,
        WorkerHandle,
        WorkerLink,
        WorkerOptions,
    )
    from jobengine.pool.supervisor import Pool, PoolError

_HOMES = {
    "MultiprocessFactory": "jobengine.pool.process",
    "ProcessFactory": "jobengine.pool.process",
    "WorkerHandle": "jobengine.pool.process",
    "WorkerLink": "jobengine.pool.process",
    "WorkerOptions": "jobengine.pool.process",
    "Pool": "jobengine.pool.supervisor",
    "PoolError": "jobengine.pool.supervisor",
}

__all__ = [
    "MultiprocessFactory",
    "Pool",
    "PoolError",
    "ProcessFactory",
    "WorkerHandle",
    "WorkerLink",
    "WorkerOptions",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'jobengine.pool' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
