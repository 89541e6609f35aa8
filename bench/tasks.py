"""The job every system runs in the benchmarks: a no-op that returns a value."""


def noop(i):
    """Return the argument unchanged (the smallest job that still stores a result)."""
    return i
