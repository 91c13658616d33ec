"""Copy the headline table from docs/demo.md (written by `tart demo --report docs/demo.md`) into
the README, between its `<!-- demo-table` markers, so the README's numbers are the command's.

    python scripts/sync_readme.py           # rewrite the README's table
    python scripts/sync_readme.py --check   # exit 1 if they differ (the test suite checks this)
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"(<!-- demo-table[^\n]*-->\n)(.*?)(<!-- /demo-table -->)", re.S)


def first_table(markdown: str) -> str:
    """The first markdown table (consecutive lines starting with '|') in `markdown`."""
    lines, table = markdown.splitlines(), []
    for line in lines:
        if line.startswith("|"):
            table.append(line)
        elif table:
            break
    if not table:
        raise ValueError("no markdown table found")
    return "\n".join(table) + "\n"


def readme_table(readme: str) -> str:
    m = BLOCK.search(readme)
    if m is None:
        raise ValueError("README has no <!-- demo-table --> block")
    return m.group(2)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    readme_path = ROOT / "README.md"
    readme, table = readme_path.read_text(), first_table((ROOT / "docs" / "demo.md").read_text())
    if args.check:
        same = readme_table(readme) == table
        print("README table matches docs/demo.md" if same else "README table differs from docs/demo.md")
        return 0 if same else 1
    readme_path.write_text(BLOCK.sub(lambda m: m.group(1) + table + m.group(3), readme))
    return 0


if __name__ == "__main__":
    sys.exit(main())
