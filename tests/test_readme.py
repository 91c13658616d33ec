"""The README stays short, and its headline numbers are the ones `tart demo --report` wrote."""

import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _sync():
    spec = importlib.util.spec_from_file_location("sync_readme", ROOT / "scripts" / "sync_readme.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_readme_tables_are_the_reports_tables():
    sync = _sync()
    readme = (ROOT / "README.md").read_text()
    assert sync.readme_table(readme) == sync.first_table((ROOT / "docs" / "demo.md").read_text())
    for marker in sync.SOURCES:
        assert sync.readme_table(readme, marker) == sync.source_table(marker), marker


def test_readme_is_short_and_its_set_up_commands_are_the_ci_commands():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 200
    ci = (ROOT / ".ci" / "run").read_text()
    test_cmd = "bash scripts/setup.sh && .venv/bin/python -m pytest -q"
    assert test_cmd in readme and test_cmd in ci
    assert "bash scripts/setup.sh && .venv/bin/tart demo" in readme


def test_readme_links_resolve():
    readme = (ROOT / "README.md").read_text()
    for target in re.findall(r"\]\(([^)#]+)\)", readme):
        if not target.startswith("http"):
            assert (ROOT / target).exists(), f"README links to a missing {target}"


def test_readme_throughput_figures_are_the_benchmark_reports():
    readme = (ROOT / "README.md").read_text()
    line = next(x for x in readme.split("\n\n") if x.startswith("Throughput on this"))
    figures = re.findall(r"\b\d+\.\d\b", line.split("):", 1)[1])
    report = (ROOT / "docs" / "bench_predict.md").read_text()
    assert figures and all(f"| {f} |" in report for f in figures), figures
