"""Commands: each CLI command's body (spec in, files and a summary out), above the library it drives."""
