"""Huey's process consumer for the benchmark: `python -m bench.huey_worker --kind sqlite --path F`.

Runs `huey.consumer.Consumer(huey, workers=2, worker_type="process")` with Huey's other defaults
(initial poll delay 0.1 s, backoff 1.15, max delay 10 s) until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import logging


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kind", choices=["sqlite", "redis"], required=True)
    parser.add_argument("--name", default="bench")
    parser.add_argument("--path")
    parser.add_argument("--db", type=int)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--notify", action="store_true")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")

    from huey.consumer import Consumer

    from bench.peers_huey import make_huey

    huey, _task = make_huey(
        args.kind, path=args.path, db=args.db, name=args.name, notify=args.notify
    )
    Consumer(huey, workers=args.workers, worker_type="process").run()


if __name__ == "__main__":
    main()
