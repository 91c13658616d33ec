"""The package's shape: no import circles, no private names imported across modules, small modules."""

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
MAX_LINES = 400


def _modules() -> dict[str, Path]:
    mods = {}
    for path in sorted((SRC / "tart").rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        mods[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return mods


def _imports(path: Path, name: str, top_level_only: bool) -> list[tuple[str, list[str]]]:
    """(module, names) imported from tart.* by `path`; top-level statements only if asked."""
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    is_pkg = path.name == "__init__.py"
    out = []
    for node in nodes:
        if isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if node.level:  # relative import
                base = name.split(".") if is_pkg else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([mod] if mod else []))
            if mod.startswith("tart"):
                out.append((mod, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            out += [(a.name, []) for a in node.names if a.name.startswith("tart")]
    return out


def test_no_import_circles_at_module_level():
    mods = _modules()
    graph = {}
    for name, path in mods.items():
        deps = set()
        for mod, names in _imports(path, name, top_level_only=True):
            for target in [f"{mod}.{n}" for n in names] + [mod]:
                if target in mods and target != name:
                    deps.add(target)
                    break
        graph[name] = deps
    # a package imports its submodules by design; a submodule importing its own package's
    # __init__ is the circle to catch, so keep every edge and look for cycles
    seen, stack, cycles = set(), [], []

    def visit(n):
        if n in stack:
            cycles.append(stack[stack.index(n):] + [n])
            return
        if n in seen:
            return
        seen.add(n)
        stack.append(n)
        for m in sorted(graph[n]):
            visit(m)
        stack.pop()

    for n in sorted(graph):
        visit(n)
    assert not cycles, "import circles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_no_private_names_imported_across_modules():
    bad = []
    for name, path in _modules().items():
        for mod, names in _imports(path, name, top_level_only=False):
            bad += [f"{name} imports {mod}.{n}" for n in names if n.startswith("_") and n != "__version__"]
    assert not bad, "\n".join(bad)


def test_modules_are_small_or_say_why():
    big = []
    for name, path in _modules().items():
        text = path.read_text()
        n = len(text.splitlines())
        if n > MAX_LINES and "over 400 lines because" not in text[:3000]:
            big.append(f"{name}: {n} lines")
    assert not big, "modules over 400 lines without a reason at the top: " + ", ".join(big)
