"""Tools for the project's maintainers, run from the repository's root."""
