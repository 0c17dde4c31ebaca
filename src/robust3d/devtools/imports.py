"""Import-graph checks of a package: module cycles, package cycles, forbidden imports, root-only imports.

Standard library only (``ast``, ``pathlib``); nothing is imported, every file's source is parsed. An edge
``a -> b`` (both modules of the package) is counted for every import ``a``'s source contains, wherever it is:

- ``import x`` / ``from x import y`` at the top level, inside functions (deferred) and under ``if TYPE_CHECKING:``;
  ``from pkg.a import b`` is an edge to ``pkg.a.b`` when ``b`` is a module or subpackage, else to ``pkg.a``;
- relative imports (``from . import x``, ``from ..a import b``), resolved against the importing file;
- ``importlib.import_module("pkg.x")`` calls with a literal string (``".x"`` with a literal, ``__name__`` or
  ``__package__`` anchor too);
- registry strings: string values of module-level dicts and items of module-level tuples/lists/sets that are
  exactly the name of a module of the package (``FAMILIES = {"neural_mesh": "pkg.models.neural_mesh.family"}``),
  because registries import them lazily.

A module importing itself is not an edge. Not seen: names built at run time (``import_module(f"{__name__}.{x}")``,
as in the PEP 562 lazy exports of ``robust3d.geometry``).

Parent packages: importing ``pkg.a.b`` also runs ``pkg/a/__init__.py``. That implicit edge ``m -> pkg.a`` is
added only when (1) the ``__init__`` itself imports a module of the package (an ``__init__`` that imports nothing
has no outgoing edges, so it can close no cycle and only adds noise) and (2) ``pkg.a`` is not a parent package
of ``m`` (a module's own parent packages are always imported before it runs).

Messages (:func:`check`): one per strongly connected component with a shortest cycle through it and the file,
line and kind (top-level, deferred, type-checking, import_module, registry, parent ``__init__``) of each edge, then
one per mutual import inside the component, so a large component still names the pairs to cut; the same for
packages (a package cycle identical to a module cycle is not repeated); one per forbidden or non-root edge.

``python -m robust3d.devtools.imports [src/robust3d]`` prints the problems with :data:`PROJECT_RULES` and exits 1
if there are any.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

Graph = dict[str, set[str]]
Edge = tuple[str, str]

#: Top-level packages (and modules) of robust3d that every paper shares; none may import robust3d.papers.
SHARED_PACKAGES = ("geometry", "render", "data", "synth", "variants", "depth", "models", "evaluate", "tables",
                   "figures", "byom", "compare", "config", "errors", "cli_registry")
#: The composition roots that may import robust3d.papers: the CLI (cli.py and its command modules), the stages and
#: the report (one section per registered paper).
ROOTS = tuple(f"robust3d.{name}" for name in ("cli", "commands", "papers", "report"))


@dataclass(frozen=True)
class Rules:
    """What :func:`check` enforces.

    ``forbidden``: (importer prefix, imported prefix) pairs; no module under the first imports one under the second.
    ``only_roots``: (target prefix, roots) pairs; every importer of a module under target is under one of the roots.
    """

    module_cycles: bool = True
    package_cycle_depth: int | None = 2
    forbidden: tuple[tuple[str, str], ...] = ()
    only_roots: tuple[tuple[str, tuple[str, ...]], ...] = ()


#: The project's layering: no module cycles, no package cycles at depth 2, models never reach tables or papers,
#: only the CLI (cli.py and robust3d.commands) and the papers themselves import robust3d.papers (the Snakemake
#: workflow is the other root, outside this check), shared packages never import robust3d.papers, and nobody imports
#: robust3d.devtools.
PROJECT_RULES = Rules(
    module_cycles=True,
    package_cycle_depth=2,
    forbidden=(("robust3d.models", "robust3d.tables"),
               *((f"robust3d.{name}", "robust3d.papers") for name in SHARED_PACKAGES)),
    only_roots=(("robust3d.papers", ROOTS),
                ("robust3d.devtools", ("robust3d.devtools",))),
)


@dataclass(frozen=True)
class Site:
    """Where an edge was first seen: a file (relative to the package's parent folder), a line, how it imports."""

    path: str
    line: int
    kind: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line} ({self.kind})"


@dataclass
class ImportGraph:
    """A package's module graph (``edges``, every module a key) and the first :class:`Site` of each edge."""

    package: str
    edges: Graph
    sites: dict[Edge, Site] = field(default_factory=dict)


def is_under(name: str, prefix: str) -> bool:
    """Whether module ``name`` is ``prefix`` or inside it (``pkg.a.b`` is under ``pkg.a``, ``pkg.ab`` is not)."""
    return name == prefix or name.startswith(prefix + ".")


def discover_modules(package_dir: Path, package: str) -> dict[str, Path]:
    """Module name -> file of every .py file under ``package_dir`` (``__init__.py`` names its package)."""
    modules: dict[str, Path] = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = path.relative_to(package_dir).with_suffix("").parts
        if "__pycache__" in parts:
            continue
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join((package, *parts))] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _literal_strings(node: ast.expr) -> Iterator[str]:
    """String constants of a literal: the node itself, dict values, tuple/list/set items (recursively)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        yield node.value
    elif isinstance(node, ast.Dict):
        for value in node.values:
            yield from _literal_strings(value)
    elif isinstance(node, ast.Tuple | ast.List | ast.Set):
        for item in node.elts:
            yield from _literal_strings(item)


class _ModuleScanner(ast.NodeVisitor):
    """Collects (target module, line, kind) for every import in one module's AST."""

    def __init__(self, module: str, is_package: bool, modules: Mapping[str, Path], tree: ast.Module) -> None:
        self.module = module
        self.package_parts = module.split(".") if is_package else module.split(".")[:-1]
        self.modules = modules
        self.found: list[tuple[str, int, str]] = []
        self._functions = 0
        self._type_checking = 0
        self._importlib_names, self._import_module_names = self._importlib_aliases(tree)

    @staticmethod
    def _importlib_aliases(tree: ast.Module) -> tuple[set[str], set[str]]:
        """Names bound to the ``importlib`` module and to ``importlib.import_module`` anywhere in the file."""
        modules, functions = set(), set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules |= {alias.asname or alias.name for alias in node.names if alias.name == "importlib"}
            elif isinstance(node, ast.ImportFrom) and node.module == "importlib" and node.level == 0:
                functions |= {alias.asname or alias.name for alias in node.names if alias.name == "import_module"}
        return modules, functions

    def _context(self) -> str:
        if self._type_checking:
            return "type-checking"
        return "deferred" if self._functions else "top-level"

    def resolve(self, name: str | None) -> str | None:
        """The longest module of the package that ``name`` starts with, or None outside the package."""
        while name:
            if name in self.modules:
                return name
            name = name.rpartition(".")[0]
        return None

    def _add(self, target: str | None, node: ast.AST, kind: str) -> None:
        if target is not None and target != self.module:
            self.found.append((target, getattr(node, "lineno", 0), kind))

    def _relative(self, level: int, name: str | None, anchor: list[str]) -> str | None:
        """``name`` imported ``level`` dots relative to the package ``anchor``; None past the top."""
        if level - 1 >= len(anchor):
            return None
        base = ".".join(anchor[: len(anchor) - (level - 1)])
        return f"{base}.{name}" if name else base

    def scan_registries(self, tree: ast.Module) -> None:
        """Module-level dict values / tuple, list, set items naming a module of the package."""
        for stmt in tree.body:
            value = stmt.value if isinstance(stmt, ast.Assign | ast.AnnAssign) else None
            if value is not None and not isinstance(value, ast.Constant):
                for text in _literal_strings(value):
                    if text in self.modules:
                        self._add(text, stmt, "registry")

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        self._functions += 1
        self.generic_visit(node)
        self._functions -= 1

    visit_AsyncFunctionDef = visit_FunctionDef
    visit_Lambda = visit_FunctionDef

    def visit_If(self, node: ast.If) -> None:
        if not _is_type_checking(node.test):
            self.generic_visit(node)
            return
        self._type_checking += 1
        for stmt in node.body:
            self.visit(stmt)
        self._type_checking -= 1
        for stmt in node.orelse:
            self.visit(stmt)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(self.resolve(alias.name), node, self._context())

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = node.module if node.level == 0 else self._relative(node.level, node.module, self.package_parts)
        if base is None:
            return
        for alias in node.names:
            submodule = f"{base}.{alias.name}"
            target = submodule if alias.name != "*" and submodule in self.modules else self.resolve(base)
            self._add(target, node, self._context())

    def _is_import_module(self, func: ast.expr) -> bool:
        if isinstance(func, ast.Name):
            return func.id in self._import_module_names
        return (isinstance(func, ast.Attribute) and func.attr == "import_module"
                and isinstance(func.value, ast.Name) and func.value.id in self._importlib_names)

    def _anchor(self, node: ast.Call) -> list[str] | None:
        """The package a relative ``import_module`` name is resolved against, when it is known statically."""
        arg = node.args[1] if len(node.args) > 1 else next((k.value for k in node.keywords if k.arg == "package"),
                                                            None)
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            return arg.value.split(".")
        if isinstance(arg, ast.Name) and arg.id == "__name__":
            return self.module.split(".")
        if isinstance(arg, ast.Name) and arg.id == "__package__":
            return list(self.package_parts)
        return None

    def visit_Call(self, node: ast.Call) -> None:
        first = node.args[0] if node.args else None
        if self._is_import_module(node.func) and isinstance(first, ast.Constant) and isinstance(first.value, str):
            name: str | None = first.value
            if first.value.startswith("."):
                anchor = self._anchor(node)
                rest = first.value.lstrip(".")
                level = len(first.value) - len(rest)
                name = None if anchor is None else self._relative(level, rest or None, anchor)
            self._add(self.resolve(name), node, f"import_module, {self._context()}")
        self.generic_visit(node)


def scan_imports(package_dir: Path, package: str) -> ImportGraph:
    """The module graph of ``package`` (folder ``package_dir``) with the file and line of each edge."""
    package_dir = Path(package_dir)
    modules = discover_modules(package_dir, package)
    graph = ImportGraph(package, {name: set() for name in modules})
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        scanner = _ModuleScanner(name, path.name == "__init__.py", modules, tree)
        scanner.visit(tree)
        scanner.scan_registries(tree)
        rel = path.relative_to(package_dir.parent).as_posix()
        for target, line, kind in sorted(scanner.found, key=lambda found: found[1]):
            graph.edges[name].add(target)
            graph.sites.setdefault((name, target), Site(rel, line, kind))
    _add_parent_init_edges(graph, modules)
    return graph


def _add_parent_init_edges(graph: ImportGraph, modules: Mapping[str, Path]) -> None:
    """Edges to the non-trivial parent ``__init__`` of each imported module (see the module docstring)."""
    nontrivial = {name for name, path in modules.items() if path.name == "__init__.py" and graph.edges[name]}
    for importer in sorted(graph.edges):
        for target in sorted(graph.edges[importer]):
            parts = target.split(".")
            for parent in (".".join(parts[:i]) for i in range(len(parts) - 1, 0, -1)):
                edge = (importer, parent)
                if parent in nontrivial and not is_under(importer, parent) and edge not in graph.sites:
                    site = graph.sites[(importer, target)]
                    graph.edges[importer].add(parent)
                    graph.sites[edge] = Site(site.path, site.line, f"parent __init__ of {target}")


def import_graph(package_dir: Path, package: str) -> dict[str, set[str]]:
    """Module -> the package's modules it imports (every module of the package is a key)."""
    return scan_imports(package_dir, package).edges


def _strongly_connected(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components (iterative), each sorted."""
    nodes = sorted(set(graph) | {t for targets in graph.values() for t in targets})
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    work: list[tuple[str, Iterator[str]]] = []

    def enter(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        work.append((node, iter(sorted(graph.get(node, ())))))

    for start in nodes:
        if start in index:
            continue
        enter(start)
        while work:
            node, successors = work[-1]
            for nxt in successors:
                if nxt not in index:
                    enter(nxt)
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    components.append(sorted(component))
    return components


def module_cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Every strongly connected component of more than one node, sorted (self-loops are ignored)."""
    return sorted(c for c in _strongly_connected(graph) if len(c) > 1)


def cycle_path(graph: Mapping[str, Iterable[str]], component: Iterable[str]) -> list[str]:
    """A shortest cycle through the smallest node of ``component``, as ``[a, b, ..., a]`` (``[]`` if none)."""
    members = set(component)
    if not members:
        return []
    start = min(members)
    previous: dict[str, str] = {}
    queue = deque([start])
    seen = {start}
    while queue:
        node = queue.popleft()
        for nxt in sorted(graph.get(node, ())):
            if nxt == start and node != start:
                path = [node]
                while path[-1] != start:
                    path.append(previous[path[-1]])
                return [*reversed(path), start]
            if nxt in members and nxt not in seen:
                seen.add(nxt)
                previous[nxt] = node
                queue.append(nxt)
    return []


def package_of(module: str, depth: int = 2) -> str:
    """``module`` cut to ``depth`` name parts: ``robust3d.tables.spec`` -> ``robust3d.tables`` at depth 2."""
    return ".".join(module.split(".")[:depth])


def package_graph(graph: Mapping[str, Iterable[str]], depth: int = 2) -> dict[str, set[str]]:
    """The graph collapsed to packages at ``depth`` (shorter names stay themselves); edges inside one are dropped."""
    collapsed: dict[str, set[str]] = {}
    for importer, targets in graph.items():
        source = collapsed.setdefault(package_of(importer, depth), set())
        for target in targets:
            name = package_of(target, depth)
            collapsed.setdefault(name, set())
            if name != package_of(importer, depth):
                source.add(name)
    return collapsed


def package_cycles(graph: Mapping[str, Iterable[str]], depth: int = 2) -> list[list[str]]:
    """The cycles (strongly connected components) of :func:`package_graph`."""
    return module_cycles(package_graph(graph, depth))


def _at(edge: Edge, sites: Mapping[Edge, Site] | None) -> str:
    site = sites.get(edge) if sites else None
    return f" at {site}" if site else ""


def forbidden_imports(graph: Mapping[str, Iterable[str]], rules: Iterable[tuple[str, str]],
                      sites: Mapping[Edge, Site] | None = None) -> list[str]:
    """One message per edge from a module under a rule's first prefix to one under its second."""
    problems = []
    for source, banned in rules:
        for importer in sorted(graph):
            for target in sorted(graph[importer]):
                if is_under(importer, source) and is_under(target, banned):
                    problems.append(f"forbidden import ({source} must not import {banned}): "
                                    f"{importer} -> {target}{_at((importer, target), sites)}")
    return problems


def only_roots_import(graph: Mapping[str, Iterable[str]], target: str = "robust3d.papers",
                      roots: tuple[str, ...] = ("robust3d.cli", "robust3d.papers"),
                      sites: Mapping[Edge, Site] | None = None) -> list[str]:
    """One message per importer of a module under ``target`` that is under none of ``roots``."""
    problems = []
    for importer in sorted(graph):
        if any(is_under(importer, root) for root in roots):
            continue
        for imported in sorted(graph[importer]):
            if is_under(imported, target):
                problems.append(f"root-only import ({target} may be imported only by {', '.join(roots)}): "
                                f"{importer} -> {imported}{_at((importer, imported), sites)}")
    return problems


def _witness(graph: ImportGraph, source: str, target: str, depth: int) -> str:
    """A module edge behind the package edge ``source -> target`` (an explicit import before a parent
    ``__init__`` edge), with its site."""
    edges = [(importer, imported) for importer in sorted(graph.edges) if package_of(importer, depth) == source
             for imported in sorted(graph.edges[importer]) if package_of(imported, depth) == target]
    if not edges:
        return f"{source} -> {target}"
    edge = min(edges, key=lambda e: graph.sites[e].kind.startswith("parent") if e in graph.sites else True)
    return f"{edge[0]} -> {edge[1]}{_at(edge, graph.sites)}"


def mutual_imports(graph: Mapping[str, Iterable[str]]) -> list[Edge]:
    """Pairs ``(a, b)``, ``a < b``, that import each other: the shortest cycles, usually the edges to cut."""
    return sorted((a, b) for a, targets in graph.items() for b in targets if a < b and a in graph.get(b, ()))


def _cycle_messages(graph: Mapping[str, Iterable[str]], what: str, describe: Callable[[str, str], str],
                    skip: Iterable[list[str]] = ()) -> list[str]:
    """One message per strongly connected component but those in ``skip`` (with a shortest cycle's path), then
    one per mutual import inside it that the path does not show, so that a large component still names its pairs."""
    problems = []
    for component in module_cycles(graph):
        if component in skip:
            continue
        path = cycle_path(graph, component)
        steps = "; ".join(describe(a, b) for a, b in pairwise(path))
        problems.append(f"{what} cycle among {len(component)} ({', '.join(component)}): {' -> '.join(path)} [{steps}]")
        members = set(component)
        for a, b in mutual_imports(graph):
            if a in members and not (len(path) == 3 and {a, b} == set(path)):
                problems.append(f"mutual {what} import: {a} <-> {b} [{describe(a, b)}; {describe(b, a)}]")
    return problems


def check(package_dir: Path, package: str, rules: Rules = PROJECT_RULES) -> list[str]:
    """Every import problem of the package under ``rules``, one line each."""
    graph = scan_imports(package_dir, package)
    problems = []
    cycles = module_cycles(graph.edges) if rules.module_cycles else []
    if rules.module_cycles:
        problems += _cycle_messages(graph.edges, "module", lambda a, b: f"{a} -> {b}{_at((a, b), graph.sites)}")
    if rules.package_cycle_depth is not None:
        depth = rules.package_cycle_depth
        # A cycle of modules that stay themselves at this depth (robust3d.cli <-> robust3d.config) is already a
        # module cycle: not reported twice.
        problems += _cycle_messages(package_graph(graph.edges, depth), f"package (depth {depth})",
                                    lambda a, b: _witness(graph, a, b, depth), skip=cycles)
    problems += forbidden_imports(graph.edges, rules.forbidden, graph.sites)
    for target, roots in rules.only_roots:
        problems += only_roots_import(graph.edges, target, roots, graph.sites)
    return problems


def main(argv: list[str] | None = None) -> int:
    """Print the import problems of a package folder (default: this robust3d) with the project rules; 1 if any."""
    parser = argparse.ArgumentParser(prog="python -m robust3d.devtools.imports", description=__doc__.splitlines()[0])
    parser.add_argument("package_dir", nargs="?", type=Path, default=Path(__file__).resolve().parents[1],
                        help="the package folder, e.g. src/robust3d (its name is the package name)")
    args = parser.parse_args(argv)
    package_dir = args.package_dir.resolve()
    if not (package_dir / "__init__.py").is_file():
        parser.error(f"{args.package_dir} is not a package folder (no __init__.py)")
    problems = check(package_dir, package_dir.name)
    for problem in problems:
        print(problem)
    print(f"{package_dir.name}: {len(problems)} import problem(s)" if problems
          else f"{package_dir.name}: no import problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
