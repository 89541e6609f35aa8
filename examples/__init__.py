"""Runnable examples of jobengine, one module per use case."""
