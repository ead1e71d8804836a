"""`python -m aegroup` runs the CLI."""

from aegroup.cli import main

main()
