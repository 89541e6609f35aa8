"""What the fork server imports as it starts, in a module of its own: `early` reads it before
its process may import multiprocess."""

# The worker side, and the fork server's own set-up.
PRELOAD = ["jobengine.pool.child", "jobengine.pool.serverside"]
