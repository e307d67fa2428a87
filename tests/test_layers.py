"""The architecture, checked by machine (ARCHITECTURE.md).

Layers point one way — faces → service → features → controller → storage →
root — so a module imports from its own layer and the layers below it,
never above; and no two modules import each other, directly or round a
loop. Sizes stay readable: no module over 450 lines, no function over 60.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "aghmem"
LAYERS = ("root", "storage", "controller", "features", "service", "faces")
MAX_LINES = 450
# Known debts, if any: listed by name so that nothing new joins them, and a
# module on the list cannot grow. (The regrouping's are all paid off.)
KNOWN_UPWARD: set[tuple[str, str]] = set()
KNOWN_CYCLES: set[tuple[str, ...]] = set()
KNOWN_LONG: dict[str, int] = {}


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 and parts[1] in LAYERS else "root"


def imports(module: str, path: Path, known: dict[str, Path], *, typing_too: bool = True) -> set[str]:
    """The aghmem modules `module` imports (at any depth of its code);
    without `typing_too`, not those under `if TYPE_CHECKING:` (never run)."""
    is_package = path.name == "__init__.py"
    package = module.split(".") if is_package else module.split(".")[:-1]
    tree = ast.parse(path.read_text())
    typing_only = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"
        for inner in ast.walk(node)
    }
    found = set()
    for node in ast.walk(tree):
        if not typing_too and id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            names = [f"{target}.{alias.name}" for alias in node.names]
            candidates = [n for n in names if n in known] or [target]
        elif isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        else:
            continue
        for name in candidates:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name.startswith("aghmem") and name != module:
                found.add(name)
    return found


def graph(*, typing_too: bool = True) -> dict[str, set[str]]:
    known = modules()
    return {module: imports(module, path, known, typing_too=typing_too) for module, path in known.items()}


def test_no_module_imports_a_higher_layer() -> None:
    upward = [
        f"{module} ({layer(module)}) imports {target} ({layer(target)})"
        for module, targets in graph().items()
        for target in sorted(targets)
        # The package (re-exports) and `python -m aghmem` stand above it all.
        if LAYERS.index(layer(target)) > LAYERS.index(layer(module)) and module not in ("aghmem", "aghmem.__main__")
        and (module, target) not in KNOWN_UPWARD
    ]
    assert upward == []


def test_no_import_cycles() -> None:
    edges = graph(typing_too=False)  # an annotation may name its caller
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for target in sorted(edges.get(node, ())):
            # A package importing its own submodules (re-exports) is no cycle.
            if target.startswith(node + "."):
                continue
            if state.get(target) == 1:
                cycle = stack[stack.index(target):] + [target]
                if tuple(sorted(set(cycle))) not in {tuple(sorted(c)) for c in KNOWN_CYCLES}:
                    cycles.append(cycle)
            elif target not in state:
                visit(target, [*stack, target])
        state[node] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_modules_stay_readable() -> None:
    long = {
        m: n for m, p in modules().items() if (n := len(p.read_text().splitlines())) > KNOWN_LONG.get(m, MAX_LINES)
    }
    assert long == {}


MAX_FUNCTION_LINES = 60
# Long on purpose, or still to be cut: the reason is the comment.
KNOWN_LONG_FUNCTIONS: dict[str, int] = {}


def test_functions_stay_readable() -> None:
    long = {}
    for module, path in modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = f"{module}.{node.name}"
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > KNOWN_LONG_FUNCTIONS.get(name, MAX_FUNCTION_LINES):
                    long[name] = lines
    assert long == {}
