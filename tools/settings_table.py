"""Write the README's Configuration table from the settings' declaration (`make settings-table`).

The table lives between two marker comments in README.md; everything between them is
replaced by `account_binding.settings.markdown_table()`. tests/test_docs.py fails when the
README's table differs from it, so a setting's help is edited in account_binding/settings.py
only.
"""

from __future__ import annotations

import sys
from pathlib import Path

from account_binding.settings import markdown_table

BEGIN = (
    "<!-- settings-table: generated from account_binding/settings.py by `make settings-table` -->"
)
END = "<!-- end of settings-table -->"
README = Path(__file__).resolve().parent.parent / "README.md"


def table_in(readme: str) -> str:
    """The text between the markers. Raises ValueError when they are missing or misplaced."""
    _, found, rest = readme.partition(BEGIN + "\n")
    table, ended, _ = rest.partition(END)
    if not found or not ended:
        raise ValueError(f"README.md needs the lines {BEGIN!r} and {END!r} around the table")
    return table


def rewritten(readme: str) -> str:
    """`readme` with the generated table between the markers."""
    table = table_in(readme)
    start = readme.index(BEGIN + "\n") + len(BEGIN) + 1
    return readme[:start] + markdown_table() + readme[start + len(table) :]


def main() -> int:
    readme = README.read_text(encoding="utf-8")
    try:
        new = rewritten(readme)
    except ValueError as error:
        print(f"settings-table: {error}", file=sys.stderr)
        return 1
    if new != readme:
        README.write_text(new, encoding="utf-8")
        print("settings-table: README.md's Configuration table rewritten")
    else:
        print("settings-table: README.md's Configuration table is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
