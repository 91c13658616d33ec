"""The package's shape: no import circles (every import counts, those inside functions too), no
private names imported across modules, short functions, and `import tart` loads no tooling."""

import ast
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
MAX_FUNCTION_LINES = 80
# {qualified name ("tart.module.Class.method"): why it is longer than MAX_FUNCTION_LINES}
LONG_FUNCTIONS: dict[str, str] = {}
# what `import tart` must not load: evaluation, export, benchmarks and job tooling
TOOLING = ("tart.eval", "tart.export", "tart.bench", "tart.jobs")


def _modules() -> dict[str, Path]:
    mods = {}
    for path in sorted((SRC / "tart").rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        mods[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return mods


def _imports(path: Path, name: str) -> list[tuple[str, list[str]]]:
    """(module, names) imported from tart.* anywhere in `path`: module level, inside functions,
    under `if` blocks (`TYPE_CHECKING` too) alike."""
    is_pkg = path.name == "__init__.py"
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if node.level:  # relative import
                base = name.split(".") if is_pkg else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([mod] if mod else []))
            if mod.split(".")[0] == "tart":
                out.append((mod, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            out += [(a.name, []) for a in node.names if a.name.split(".")[0] == "tart"]
    return out


def _import_graph() -> dict[str, set[str]]:
    """module -> the tart modules it imports: `from m import x` is an edge to m.x when x is a
    submodule, else to m; `import a.b.c` an edge to a.b.c (its parent packages run too, but a
    package importing its own submodules is by design, so those edges are not drawn)."""
    mods = _modules()
    graph = {}
    for name, path in mods.items():
        deps = set()
        for mod, names in _imports(path, name):
            targets = {f"{mod}.{n}" if f"{mod}.{n}" in mods else mod for n in names} or {mod}
            deps |= {t for t in targets if t in mods and t != name}
        graph[name] = deps
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
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
    return cycles


def test_no_import_circles_counting_every_import():
    # only optional third-party packages may be imported lazily, and those are no tart edge:
    # there is no allow-list for a circle among tart's own modules
    cycles = _cycles(_import_graph())
    assert not cycles, "import circles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_the_circle_check_sees_imports_inside_functions(tmp_path):
    mod = tmp_path / "m.py"
    mod.write_text("def f():\n    from tart.b import g\n    return g\n")
    assert _imports(mod, "tart.a") == [("tart.b", ["g"])]
    assert _cycles({"tart.a": {"tart.b"}, "tart.b": {"tart.a"}}) == [["tart.a", "tart.b", "tart.a"]]


def test_no_private_names_imported_across_modules():
    bad = []
    for name, path in _modules().items():
        for mod, names in _imports(path, name):
            bad += [f"{name} imports {mod}.{n}" for n in names
                    if n.startswith("_") and n != "__version__"]
    assert not bad, "\n".join(bad)


def _function_lengths(path: Path, name: str) -> dict[str, int]:
    """Qualified name -> lines from `def` (its decorators not counted) to the last line."""
    out = {}

    def visit(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                qual = f"{prefix}.{child.name}"
                if not isinstance(child, ast.ClassDef):
                    out[qual] = child.end_lineno - child.lineno + 1
                visit(child, qual)
            else:
                visit(child, prefix)

    visit(ast.parse(path.read_text()), name)
    return out


def test_functions_are_short_or_say_why():
    long = []
    for name, path in _modules().items():
        long += [f"{q}: {n} lines" for q, n in _function_lengths(path, name).items()
                 if n > MAX_FUNCTION_LINES and q not in LONG_FUNCTIONS]
    assert not long, (f"functions over {MAX_FUNCTION_LINES} lines (split them, or add them to "
                      "LONG_FUNCTIONS with the reason): " + ", ".join(long))


def test_allowed_long_functions_exist_and_are_long():
    lengths = {}
    for name, path in _modules().items():
        lengths.update(_function_lengths(path, name))
    stale = [q for q in LONG_FUNCTIONS if lengths.get(q, 0) <= MAX_FUNCTION_LINES]
    assert not stale, "LONG_FUNCTIONS entries that are gone or short now: " + ", ".join(stale)


def test_import_tart_loads_no_tooling():
    code = ("import sys, tart\n"
            "print('\\n'.join(m for m in sys.modules if m.startswith('tart')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = out.stdout.split()
    assert "tart" in loaded
    tooling = [m for m in loaded if any(m == t or m.startswith(t + ".") for t in TOOLING)]
    assert not tooling, "import tart loads: " + ", ".join(tooling)
