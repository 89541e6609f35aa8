"""Benchmarks for jobengine, side by side with peers (see bench/bench_background.py)."""
