"""``python -m ocdr ...`` runs the same CLI as the ``ocdr`` command."""
from ocdr.cli.main import main

if __name__ == "__main__":
    main()
