"""The package map: the import graph of paddle_gan has no cycle, and data flows down
(cli -> experiments / perf -> train -> evaluation / viz -> io -> models / data -> blocks).

Every import counts, at module level or inside a function: a function-level import hides a
dependency from a reader, it does not remove it."""
import ast
import os

from conftest import ROOT

PACKAGE = os.path.join(ROOT, "paddle_gan")


def unit(module):
    """The part of paddle_gan a module belongs to: its subpackage or top-level module."""
    parts = module.split(".")
    if parts[0] != "paddle_gan" or len(parts) == 1:
        return None
    return parts[1]


def import_graph():
    """{unit: {units it imports}} over every .py file of the package."""
    edges = {}
    for folder, _, files in os.walk(PACKAGE):
        for name in files:
            if not name.endswith(".py"):
                continue
            path = os.path.join(folder, name)
            module = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
            source = unit(module.removesuffix(".__init__"))
            with open(path, encoding="utf-8") as handle:
                tree = ast.parse(handle.read())
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    targets = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
                else:
                    continue
                for target in targets:
                    dest = unit(target)
                    if source and dest and dest != source:
                        edges.setdefault(source, set()).add(dest)
    return edges


def find_cycle(edges):
    """One cycle as a list of units, or None."""
    state = {}

    def visit(node, path):
        state[node] = "open"
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == "open":
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt, path + [nxt])
                if found:
                    return found
        state[node] = "done"
        return None

    for start in sorted(edges):
        if start not in state:
            found = visit(start, [start])
            if found:
                return found
    return None


def test_the_package_import_graph_has_no_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, " -> ".join(cycle)


def test_the_cycle_finder_finds_a_planted_cycle():
    edges = import_graph()
    edges.setdefault("models", set()).add("train")  # a model file importing training code
    assert find_cycle(edges) is not None


def test_models_and_data_import_no_training_plotting_or_tools():
    edges = import_graph()
    for low in ("blocks", "losses", "models", "data"):
        assert not edges.get(low, set()) & {"train", "viz", "cli", "evaluation", "experiments",
                                            "perf", "io"}, (low, edges.get(low))
