"""``python -m vidstyle`` runs the command line."""

from vidstyle.cli import main

main()
