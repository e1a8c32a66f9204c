"""`python -m intmon` is the same as the `intmon` command."""

from intmon.cli import main

main()
