"""Copy the headline tables into the README, between their markers, so the README's numbers are
the commands': `<!-- demo-table -->` from docs/demo.md (written by `tart demo --report
docs/demo.md`), `<!-- tart2-table -->` and `<!-- tart2-tables-table -->` from docs/tart2_real.md
(written by `python scripts/tart2_report.py ...`: its embedding pairs' and small tables' summaries),
`<!-- multiclass-table -->` from docs/multiclass_summary.md (`python scripts/summary_multiclass.py report`).

    python scripts/sync_readme.py           # rewrite the README's tables
    python scripts/sync_readme.py --check   # exit 1 if they differ (the test suite checks this)
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# marker -> (source file, which of its markdown tables, counted from 0)
SOURCES = {"demo-table": ("docs/demo.md", 0), "tart2-table": ("docs/tart2_real.md", 0),
           "tart2-tables-table": ("docs/tart2_real.md", 2),
           "multiclass-table": ("docs/multiclass_summary.md", 0)}


def tables(markdown: str) -> list[str]:
    """The markdown tables (runs of consecutive lines starting with '|') in `markdown`."""
    out, table = [], []
    for line in markdown.splitlines() + [""]:
        if line.startswith("|"):
            table.append(line)
        elif table:
            out.append("\n".join(table) + "\n")
            table = []
    return out


def first_table(markdown: str) -> str:
    """The first markdown table in `markdown`."""
    found = tables(markdown)
    if not found:
        raise ValueError("no markdown table found")
    return found[0]


def _block(marker: str) -> re.Pattern:
    return re.compile(rf"(<!-- {marker}[: ][^\n]*-->\n)(.*?)(<!-- /{marker} -->)", re.S)


def readme_table(readme: str, marker: str = "demo-table") -> str:
    m = _block(marker).search(readme)
    if m is None:
        raise ValueError(f"README has no <!-- {marker} --> block")
    return m.group(2)


def source_table(marker: str) -> str:
    path, index = SOURCES[marker]
    return tables((ROOT / path).read_text())[index]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    readme_path = ROOT / "README.md"
    readme = readme_path.read_text()
    if args.check:
        differ = [m for m in SOURCES if readme_table(readme, m) != source_table(m)]
        print(f"README tables differ from their sources: {differ}" if differ else "README tables match")
        return 1 if differ else 0
    for marker in SOURCES:
        table = source_table(marker)
        readme = _block(marker).sub(lambda m: m.group(1) + table + m.group(3), readme)
    readme_path.write_text(readme)
    return 0


if __name__ == "__main__":
    sys.exit(main())
