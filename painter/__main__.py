"""`python -m painter ...`: the command line."""

from painter.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
