"""The import graph of ThyroWeb's own modules, drawn from the code: rooms, circles, imports inside functions.

    .venv/bin/python docs/import_graph.py [--dot graph.dot] [--packages diagnostics mlcore thyroweb]

Reads every module of the packages with ``ast`` (nothing is imported or run) and prints:

- the rooms (a package's sub-packages and top modules) and the arrows between them, with how many imports
  each arrow carries;
- the circles: groups of modules that import one another, directly or through others, counting every
  import (at the top of a module or inside a function: an import moved into a function hides a circle,
  it does not remove it);
- the imports made inside functions, each with the comment on its line or the line above (the reason it
  is there: a heavy library delayed, or nothing);
- the largest modules by lines.

``tests/test_import_graph.py`` runs :func:`circles` and :func:`late_imports` on the code, so a new circle
or an unexplained import inside a function fails the suite. With ``--dot`` the module graph is written
in Graphviz's format as well.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("diagnostics", "mlcore", "thyroweb")
# Folders that hold no code of the house (generated, or not Python modules of the application).
SKIPPED = ("migrations", "default_model", "__pycache__")


@dataclass(frozen=True)
class Import:
    """One import statement's target module, where it is, and whether it sits inside a function."""

    source: str
    target: str
    line: int
    late: bool
    comment: str


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(packages=PACKAGES) -> dict[str, Path]:
    """Every module of the packages by dotted name."""
    found = {}
    for package in packages:
        for path in sorted((ROOT / package).rglob("*.py")):
            if any(part in SKIPPED for part in path.relative_to(ROOT).parts):
                continue
            found[module_name(path)] = path
    return found


def _comment(lines: list[str], line: int) -> str:
    """The comment on an import's line, or on the line above it or above the block of imports it is in."""
    trailing = lines[line - 1].split("#", 1)[1].strip() if "#" in lines[line - 1] else ""
    if trailing and not trailing.startswith("noqa"):
        return trailing
    above = line - 2
    while above >= 0 and lines[above].strip().startswith(("import ", "from ")):
        above -= 1
    if above >= 0 and lines[above].strip().startswith("#"):
        return lines[above].split("#", 1)[1].strip()
    return trailing


def _resolve(name: str, known: dict[str, Path]) -> str | None:
    """The house module an imported name lives in (None for a library)."""
    while name:
        if name in known:
            return name
        name = name.rpartition(".")[0]
    return None


def imports_of(name: str, path: Path, known: dict[str, Path]) -> list[Import]:
    """The imports of house modules in one module, in the order written."""
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    tree = ast.parse(text, filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[Import] = []

    def visit(node: ast.AST, late: bool, guarded: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inside = late or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                visit(child, late, True)  # for the type checker only: never run
                continue
            targets: list[str] = []
            if isinstance(child, ast.Import):
                targets = [alias.name for alias in child.names]
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package.split(".")[: len(package.split(".")) - child.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in child.names]
            for target in targets:
                resolved = _resolve(target, known)
                if resolved and resolved != name and not guarded:
                    found.append(Import(name, resolved, child.lineno, late, _comment(lines, child.lineno)))
            visit(child, inside, guarded)

    visit(tree, False, False)
    return list(dict.fromkeys(found))  # one per (module, line, target): `from x import a, b` is one import


def graph(packages=PACKAGES) -> tuple[dict[str, Path], list[Import]]:
    known = modules(packages)
    edges = [edge for name, path in known.items() for edge in imports_of(name, path, known)]
    return known, edges


def circles(edges: list[Import]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan's algorithm), each sorted, largest first."""
    arrows: dict[str, set[str]] = defaultdict(set)
    for edge in edges:
        arrows[edge.source].add(edge.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    counter = [0]

    def connect(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(arrows.get(node, ())):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    sys.setrecursionlimit(max(10_000, sys.getrecursionlimit()))
    for node in sorted({e.source for e in edges} | {e.target for e in edges}):
        if node not in index:
            connect(node)
    return sorted(groups, key=lambda group: (-len(group), group))


def late_imports(edges: list[Import]) -> list[Import]:
    """House imports made inside functions."""
    return [edge for edge in edges if edge.late]


def room(name: str) -> str:
    """A module's room: its package and first sub-package or module (``diagnostics.services``, ``mlcore.rules``)."""
    parts = name.split(".")
    return ".".join(parts[:2])


def library_late_imports(packages=PACKAGES) -> list[tuple[str, int, str, str]]:
    """Imports of libraries (not house modules) made inside functions: (module, line, imported, comment)."""
    known = modules(packages)
    found = []
    for name, path in known.items():
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        for node in ast.walk(ast.parse(text)):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for child in ast.walk(node):
                if isinstance(child, (ast.Import, ast.ImportFrom)):
                    target = child.module if isinstance(child, ast.ImportFrom) else child.names[0].name
                    if target and _resolve(target, known) is None and getattr(child, "level", 0) == 0:
                        found.append((name, child.lineno, target, _comment(lines, child.lineno)))
    return sorted(set(found))


def report(packages=PACKAGES) -> str:
    known, edges = graph(packages)
    out = []
    sizes = {name: len(path.read_text(encoding="utf-8").splitlines()) for name, path in known.items()}
    rooms: dict[tuple[str, str], int] = defaultdict(int)
    for edge in edges:
        if room(edge.source) != room(edge.target):
            rooms[(room(edge.source), room(edge.target))] += 1
    room_names = sorted({room(name) for name in known})
    out.append(f"{len(known)} modules in {len(room_names)} rooms, {len(edges)} imports of house modules")
    out.append("\nArrows between rooms (imports):")
    for source in room_names:
        targets = [f"{target} ({n})" for (s, target), n in sorted(rooms.items()) if s == source]
        if targets:
            out.append(f"  {source} -> {', '.join(targets)}")
    found = circles(edges)
    out.append(f"\nCircles: {len(found)}")
    for group in found:
        members = set(group)
        inside = sorted({(e.source, e.target, e.late) for e in edges if e.source in members and e.target in members})
        out.append("  " + " <-> ".join(group))
        for source, target, late in inside:
            out.append(f"      {source} -> {target}{'  (inside a function)' if late else ''}")
    late = late_imports(edges)
    libraries = library_late_imports(packages)
    out.append(f"\nImports inside functions: {len(late)} of house modules, {len(libraries)} of libraries")
    for edge in late:
        out.append(f"  {edge.source}:{edge.line} -> {edge.target}  # {edge.comment or '(no reason given)'}")
    for name, line, target, comment in libraries:
        out.append(f"  {name}:{line} -> {target}  # {comment or '(no reason given)'}")
    out.append("\nLargest modules (lines):")
    for name, lines in sorted(sizes.items(), key=lambda item: -item[1])[:12]:
        out.append(f"  {lines:5d}  {name}")
    return "\n".join(out)


def dot(packages=PACKAGES) -> str:
    known, edges = graph(packages)
    lines = ["digraph thyroweb {", "  rankdir=LR; node [shape=box, fontsize=10];"]
    for source, target in sorted({(e.source, e.target) for e in edges}):
        lines.append(f'  "{source}" -> "{target}";')
    lines.append("}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--packages", nargs="+", default=list(PACKAGES))
    parser.add_argument("--dot", type=Path, help="also write the module graph in Graphviz's format here")
    args = parser.parse_args()
    print(report(args.packages))
    if args.dot:
        args.dot.write_text(dot(args.packages) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
