"""The import-graph checker (robust3d.devtools.imports) on small packages in tmp_path, and on the real tree."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from robust3d.devtools.imports import (
    PROJECT_RULES,
    Rules,
    check,
    cycle_path,
    forbidden_imports,
    import_graph,
    main,
    module_cycles,
    only_roots_import,
    package_cycles,
    package_graph,
    scan_imports,
)

REPO = Path(__file__).resolve().parents[1]
CYCLES_ONLY = Rules(module_cycles=True, package_cycle_depth=2)


def write_package(root: Path, files: dict[str, str], name: str = "pkg") -> Path:
    """Write ``files`` (paths relative to the package folder) under ``root/name``; every folder gets an
    ``__init__.py`` (empty unless given). Returns the package folder."""
    package_dir = root / name
    for rel, source in files.items():
        path = package_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
    for folder in [package_dir, *(p for p in package_dir.rglob("*") if p.is_dir())]:
        (folder / "__init__.py").touch()
    return package_dir


SECOND_SIDE = {
    "top-level": "from pkg import a\n",
    "deferred": "def f():\n    import pkg.a\n    return pkg.a\n",
    "type-checking": "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    from pkg.a import A\n",
}


@pytest.mark.parametrize("kind", sorted(SECOND_SIDE))
def test_two_module_cycle_is_reported(tmp_path: Path, kind: str) -> None:
    pkg = write_package(tmp_path, {"a.py": "from pkg.b import B\n\nA = 1\n", "b.py": "B = 2\n" + SECOND_SIDE[kind]})
    graph = import_graph(pkg, "pkg")
    assert graph["pkg.a"] == {"pkg.b"} and graph["pkg.b"] == {"pkg.a"}
    assert module_cycles(graph) == [["pkg.a", "pkg.b"]]
    assert cycle_path(graph, ["pkg.a", "pkg.b"]) == ["pkg.a", "pkg.b", "pkg.a"]
    problems = check(pkg, "pkg", CYCLES_ONLY)
    assert len(problems) == 1
    assert "module cycle" in problems[0] and "pkg.a -> pkg.b -> pkg.a" in problems[0]
    assert "pkg/a.py:1 (top-level)" in problems[0] and "pkg/b.py:" in problems[0] and f"({kind})" in problems[0]


def test_no_cycle_no_problem_and_self_import_is_not_an_edge(tmp_path: Path) -> None:
    pkg = write_package(tmp_path, {"a.py": "import pkg.a\nfrom pkg.b import B\n", "b.py": "import os\nB = 1\n"})
    graph = import_graph(pkg, "pkg")
    assert graph == {"pkg": set(), "pkg.a": {"pkg.b"}, "pkg.b": set()}
    assert module_cycles(graph) == [] and check(pkg, "pkg", CYCLES_ONLY) == []
    assert module_cycles({"x": {"x"}}) == []  # self-loops are ignored


def test_only_roots_import_flags_shared_importers_but_not_roots(tmp_path: Path) -> None:
    pkg = write_package(tmp_path, {
        "papers/y.py": "Y = 1\n",
        "tables/x.py": "def rows():\n    from pkg.papers.y import Y\n    return Y\n",
        "cli.py": "import pkg.papers.y\n",
    })
    graph = scan_imports(pkg, "pkg")
    problems = only_roots_import(graph.edges, target="pkg.papers", roots=("pkg.cli", "pkg.papers"), sites=graph.sites)
    assert len(problems) == 1
    assert "pkg.tables.x -> pkg.papers.y" in problems[0] and "pkg/tables/x.py:2 (deferred)" in problems[0]
    assert not any("pkg.cli ->" in problem for problem in problems)
    rules = Rules(module_cycles=False, package_cycle_depth=None,
                  only_roots=(("pkg.papers", ("pkg.cli", "pkg.papers")),))
    assert check(pkg, "pkg", rules) == problems


def test_forbidden_imports_name_the_file_and_line(tmp_path: Path) -> None:
    pkg = write_package(tmp_path, {
        "models/m.py": "import json\n\n\ndef f():\n    from pkg.tables import t\n",
        "tables/t.py": "",
        "modelsx.py": "import pkg.tables.t\n",  # not under pkg.models: prefixes match whole name parts
    })
    graph = scan_imports(pkg, "pkg")
    problems = forbidden_imports(graph.edges, [("pkg.models", "pkg.tables")], graph.sites)
    assert problems == ["forbidden import (pkg.models must not import pkg.tables): "
                        "pkg.models.m -> pkg.tables.t at pkg/models/m.py:5 (deferred)"]
    assert forbidden_imports(graph.edges, [("pkg.tables", "pkg.models")]) == []


def test_package_cycle_is_not_a_module_cycle(tmp_path: Path) -> None:
    pkg = write_package(tmp_path, {
        "a/x.py": "from pkg.b.y import Y\n",
        "a/w.py": "W = 1\n",
        "b/y.py": "Y = 1\n",
        "b/z.py": "from pkg.a.w import W\n",
    })
    graph = import_graph(pkg, "pkg")
    assert module_cycles(graph) == []
    assert package_graph(graph) == {"pkg": set(), "pkg.a": {"pkg.b"}, "pkg.b": {"pkg.a"}}
    assert package_cycles(graph, depth=2) == [["pkg.a", "pkg.b"]]
    problems = check(pkg, "pkg", CYCLES_ONLY)
    assert len(problems) == 1 and problems[0].startswith("package (depth 2) cycle")
    assert "pkg.a.x -> pkg.b.y at pkg/a/x.py:1" in problems[0] and "pkg.b.z -> pkg.a.w at pkg/b/z.py:1" in problems[0]


def test_package_graph_keeps_top_level_modules_and_drops_inner_edges() -> None:
    graph = {"r.cli": {"r.tables.spec"}, "r.tables.spec": {"r.tables.sources"}, "r.tables.sources": {"r.cli"}}
    assert package_graph(graph, depth=2) == {"r.cli": {"r.tables"}, "r.tables": {"r.cli"}}
    assert package_cycles(graph) == [["r.cli", "r.tables"]]
    assert package_graph({"r.tables.spec": {"r.tables.sources"}}, depth=2) == {"r.tables": set()}


def test_registry_strings_are_edges(tmp_path: Path) -> None:
    pkg = write_package(tmp_path, {
        "registry.py": """\
            FAMILIES = {"mesh": "pkg.models.mesh", "head": "pkg.models.head"}
            COMMAND_MODULES = ("pkg.commands", "pkg.not_a_module")
            NAMES: list[str] = ["pkg.extra"]
            DOC = "pkg.unused"  # a bare string is not a registry


            def f():
                local = ("pkg.unused",)  # inside a function: not a module-level registry
                return local
            """,
        "models/mesh.py": "", "models/head.py": "", "commands.py": "", "extra.py": "", "unused.py": "",
    })
    graph = scan_imports(pkg, "pkg")
    assert graph.edges["pkg.registry"] == {"pkg.models.mesh", "pkg.models.head", "pkg.commands", "pkg.extra"}
    assert graph.sites[("pkg.registry", "pkg.commands")].kind == "registry"
    assert graph.sites[("pkg.registry", "pkg.commands")].line == 2


def test_import_module_literals_are_edges(tmp_path: Path) -> None:
    pkg = write_package(tmp_path, {
        "a.py": """\
            import importlib
            from importlib import import_module as load


            def f(name):
                importlib.import_module("pkg.b")
                load(".c", __package__)
                importlib.import_module(name)  # not a literal: unknown
            """,
        "b.py": "", "c.py": "", "d.py": "",
    })
    graph = scan_imports(pkg, "pkg")
    assert graph.edges["pkg.a"] == {"pkg.b", "pkg.c"}
    assert graph.sites[("pkg.a", "pkg.b")].kind == "import_module, deferred"


def test_relative_imports_resolve(tmp_path: Path) -> None:
    pkg = write_package(tmp_path, {
        "a/__init__.py": "from . import x\nfrom .y import Y\n",
        "a/x.py": "from ..b import z\nfrom ..b.z import Z\nfrom .. import c\n",
        "a/y.py": "from . import x\nfrom .sub import deep\nY = 1\n",
        "a/sub/deep.py": "from ...b import NAME\nfrom ... import c\n",
        "b/__init__.py": "NAME = 1\n",
        "b/z.py": "Z = 1\n",
        "c.py": "",
    })
    graph = import_graph(pkg, "pkg")
    assert graph["pkg.a"] == {"pkg.a.x", "pkg.a.y"}
    assert graph["pkg.a.x"] == {"pkg.b.z", "pkg.c"}
    assert graph["pkg.a.y"] == {"pkg.a.x", "pkg.a.sub.deep"}
    assert graph["pkg.a.sub.deep"] == {"pkg.b", "pkg.c"}


def test_from_import_of_a_submodule_vs_a_name(tmp_path: Path) -> None:
    pkg = write_package(tmp_path, {
        "a/__init__.py": "NAME = 1\n", "a/b.py": "", "a/sub/__init__.py": "",
        "m.py": "from pkg.a import b\nfrom pkg.a import sub\n",
        "n.py": "from pkg.a import NAME\n",
    })
    graph = import_graph(pkg, "pkg")
    assert graph["pkg.m"] == {"pkg.a.b", "pkg.a.sub"}
    assert graph["pkg.n"] == {"pkg.a"}


def test_parent_init_edges_only_for_nontrivial_inits_of_other_packages(tmp_path: Path) -> None:
    pkg = write_package(tmp_path, {
        "heavy/__init__.py": "from .core import run\n",  # imports a module: importing pkg.heavy.* runs it
        "heavy/core.py": "def run():\n    pass\n",
        "heavy/util.py": "from pkg.heavy.core import run\n",  # its own parent: already imported, no edge
        "light/x.py": "",  # light/__init__.py is empty: no edge
        "user.py": "from pkg.heavy.util import run\nimport pkg.light.x\n",
    })
    graph = scan_imports(pkg, "pkg")
    assert graph.edges["pkg.user"] == {"pkg.heavy.util", "pkg.heavy", "pkg.light.x"}
    assert graph.sites[("pkg.user", "pkg.heavy")].kind == "parent __init__ of pkg.heavy.util"
    assert graph.edges["pkg.heavy.util"] == {"pkg.heavy.core"}


def test_cycle_through_a_parent_init_is_reported(tmp_path: Path) -> None:
    pkg = write_package(tmp_path, {
        "a/__init__.py": "from pkg.a.x import X\n",
        "a/x.py": "X = 1\n",
        "a/y.py": "from pkg.b import B\n",
        "b.py": "from pkg.a.y import *\nB = 1\n",  # runs pkg/a/__init__.py, which imports nothing of pkg.b
        "c.py": "import pkg.d\n", "d/__init__.py": "import pkg.c\n", "d/e.py": "",
    })
    graph = import_graph(pkg, "pkg")
    assert graph["pkg.b"] == {"pkg.a.y", "pkg.a"}
    assert module_cycles(graph) == [["pkg.a.y", "pkg.b"], ["pkg.c", "pkg.d"]]


def test_main_exit_status(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clean = write_package(tmp_path / "clean", {"a.py": "from pkg import b\n", "b.py": ""})
    assert main([str(clean)]) == 0
    assert "no import problems" in capsys.readouterr().out
    cyclic = write_package(tmp_path / "cyclic", {"a.py": "from pkg import b\n", "b.py": "import pkg.a\n"})
    assert main([str(cyclic)]) == 1
    out = capsys.readouterr().out
    assert "module cycle" in out and "pkg.a -> pkg.b -> pkg.a" in out and "1 import problem(s)" in out


def test_no_pipeline_module_imports_devtools() -> None:
    graph = scan_imports(REPO / "src" / "robust3d", "robust3d")
    assert "robust3d.devtools.imports" in graph.edges
    assert only_roots_import(graph.edges, "robust3d.devtools", ("robust3d.devtools",), graph.sites) == []


def test_real_package_follows_the_project_rules() -> None:
    problems = check(REPO / "src" / "robust3d", "robust3d", PROJECT_RULES)
    print("\n".join(problems))
    assert problems == []
