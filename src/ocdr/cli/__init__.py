"""The ``ocdr`` command line: thin wrappers that load a spec and call library functions."""
