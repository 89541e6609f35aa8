"""The process pool: worker processes that run background jobs, and the seam that starts them.

`Pool` (the supervisor) runs in the engine's dispatcher thread; `child` is the worker process
side; `protocol` is what they say over the pipe; `process` starts workers (`ProcessFactory`).
"""

from jobengine.pool.process import (
    MultiprocessFactory,
    ProcessFactory,
    WorkerHandle,
    WorkerLink,
    WorkerOptions,
)
from jobengine.pool.supervisor import Pool, PoolError

__all__ = [
    "MultiprocessFactory",
    "Pool",
    "PoolError",
    "ProcessFactory",
    "WorkerHandle",
    "WorkerLink",
    "WorkerOptions",
]
