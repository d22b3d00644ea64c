"""`python -m bpfrewrite` runs the CLI."""
from bpfrewrite.cli import main

main()
