"""``python -m ocdr ...`` runs the same CLI as the ``ocdr`` command."""
from ocdr.cli.main import main

if __name__ == "__main__":
    raise SystemExit(main())  # the exit status is the command's: 2 for a one-line error
