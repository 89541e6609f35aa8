"""`python -m jobengine`: the command line."""

from jobengine.cli import main

main()
