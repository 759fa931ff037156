"""The package stays as drawn (README, "Layers"): each module of ipfi imports only from its own
layer or the layers below it, with no import cycles; nothing outside the standard library is
imported; every module parses as Python 3.9; no module imports a name it does not use."""
from __future__ import annotations

import ast
import os
import sys
import unittest
from typing import Dict, List, Set

PACKAGE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "ipfi")

#: Bottom to top. Modules in one entry sit side by side.
LAYERS: List[List[str]] = [
    ["errors", "values", "limits"],
    ["error_record"],
    ["codec"],
    ["wire"],
    ["frames"],
    ["port", "heartbeat", "at_exit"],
    ["handles"],
    ["link"],
    ["channel"],
    ["connection", "procedures"],
    ["admission", "address"],
    ["process", "server"],
    ["__init__"],
]


def modules() -> Dict[str, ast.Module]:
    out = {}
    for name in sorted(os.listdir(PACKAGE)):
        if name.endswith(".py"):
            with open(os.path.join(PACKAGE, name), encoding="utf-8") as f:
                out[name[:-3]] = ast.parse(f.read(), name, feature_version=(3, 9))
    return out


def run_time_nodes(tree: ast.Module) -> List[ast.AST]:
    """Every node, leaving out ``if TYPE_CHECKING:`` blocks (imports for annotations only)."""
    out: List[ast.AST] = []
    stack: List[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            continue
        out.append(node)
        stack.extend(ast.iter_child_nodes(node))
    return out


def imports_of(tree: ast.Module) -> "tuple[Set[str], Set[str]]":
    """(ipfi modules imported at run time, top-level outside modules imported)."""
    inner, outer = set(), set()
    for node in run_time_nodes(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1:
                if node.module:
                    inner.add(node.module.split(".")[0])
                else:
                    inner.update(a.name for a in node.names)
            elif node.module:
                outer.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            outer.update(a.name.split(".")[0] for a in node.names)
    return inner, outer


class Layers(unittest.TestCase):
    def test_every_module_is_in_a_layer_and_imports_only_downwards(self) -> None:
        rank = {m: i for i, layer in enumerate(LAYERS) for m in layer}
        mods = modules()
        self.assertEqual(set(mods), set(rank), "add new modules to LAYERS here and to the README")
        for name, tree in mods.items():
            inner, _ = imports_of(tree)
            for dep in inner:
                self.assertLessEqual(rank[dep], rank[name], f"ipfi.{name} imports ipfi.{dep}, a layer above it")

    def test_no_import_cycles(self) -> None:
        graph = {name: imports_of(tree)[0] for name, tree in modules().items()}

        def visit(n: str, path: List[str]) -> None:
            self.assertNotIn(n, path, f"import cycle: {' -> '.join(path + [n])}")
            for d in graph[n]:
                visit(d, path + [n])

        for n in graph:
            visit(n, [])

    def test_only_the_standard_library(self) -> None:
        stdlib = getattr(sys, "stdlib_module_names", None)
        for name, tree in modules().items():
            _, outer = imports_of(tree)
            outer.discard("__future__")
            if stdlib is not None:
                self.assertLessEqual(outer, set(stdlib), f"ipfi.{name} imports outside the standard library")

    def test_no_unused_imports(self) -> None:
        for name, tree in modules().items():
            if name == "__init__":
                continue  # it re-exports
            imported: Set[str] = set()
            for node in ast.walk(tree):
                if isinstance(node, (ast.Import, ast.ImportFrom)) and not (isinstance(node, ast.ImportFrom) and node.module == "__future__"):
                    imported.update((a.asname or a.name).split(".")[0] for a in node.names)
            used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
            for node in ast.walk(tree):  # names inside string annotations ("asyncio.Future[Entry]")
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    try:
                        used |= {n.id for n in ast.walk(ast.parse(node.value, mode="eval")) if isinstance(n, ast.Name)}
                    except SyntaxError:
                        pass
            self.assertEqual(imported - used, set(), f"ipfi.{name} imports names it never uses")


if __name__ == "__main__":
    unittest.main()
