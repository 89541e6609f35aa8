"""`python -m jobengine`: the command line."""

from jobengine.entry import main

main()
