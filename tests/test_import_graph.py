"""nnlab's import graph has no cycle but the documented tensor <-> ops idiom.

Read statically with ``ast``: every import that runs when a module is loaded
(module level, including inside a module-level ``if``/``try``; imports inside
functions run later and are left out).  ``from pkg import name`` depends on the
submodule ``pkg.name`` when there is one, otherwise on ``pkg`` itself (its
``__init__``, whose re-exports then count as its own imports).  The one allowed
cycle: the op modules import ``Tensor`` from ``nnlab.tensor``, and ``tensor.py``
imports the op modules at its bottom to give Tensor its methods -- binding
modules, never names (see the note there), so either side may load first.
"""

from __future__ import annotations

import ast
from pathlib import Path

import nnlab

PACKAGE = Path(nnlab.__file__).parent


def _modules() -> dict[str, tuple[Path, bool]]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        found[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return found


def _load_time_imports(tree: ast.Module):
    pending = list(tree.body)
    while pending:
        node = pending.pop(0)
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If | ast.Try):
            pending.extend(node.body + node.orelse + getattr(node, "finalbody", []))
            for handler in getattr(node, "handlers", []):
                pending.extend(handler.body)


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    graph = {}
    for name, (path, is_package) in modules.items():
        package = name if is_package else name.rpartition(".")[0]
        targets = set()
        for node in _load_time_imports(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names if alias.name in modules)
                continue
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module
            if source in modules:
                for alias in node.names:
                    sub = f"{source}.{alias.name}"
                    targets.add(sub if sub in modules else source)
        graph[name] = targets
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as a list of modules (first == last), or None."""
    state: dict[str, int] = {}  # 1 on the current path, 2 finished
    path: list[str] = []

    def visit(node):
        state[node] = 1
        path.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return path[path.index(target):] + [target]
            if target not in state and (found := visit(target)):
                return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return None


def _tensor_bottom_imports():
    tree = ast.parse((PACKAGE / "tensor.py").read_text(encoding="utf-8"))
    return tree.body, [n for n in tree.body if isinstance(n, ast.ImportFrom) and n.module and n.module.startswith("ops")]


def test_the_only_import_cycle_is_tensor_and_ops():
    graph = _graph()
    assert any("nnlab.tensor" in graph[m] for m in graph if m.startswith("nnlab.ops."))  # the idiom is there
    allowed = {target for target in graph["nnlab.tensor"] if target.startswith("nnlab.ops.")}
    without_idiom = {m: (t - allowed if m == "nnlab.tensor" else t) for m, t in graph.items()}
    assert _cycle(without_idiom) is None, " -> ".join(_cycle(without_idiom))


def test_tensor_binds_op_modules_at_its_bottom_never_names():
    body, bottom = _tensor_bottom_imports()
    assert bottom, "tensor.py gives Tensor its methods by importing the op modules at its end"
    modules = _modules()
    for node in bottom:
        assert node.level == 1 and node.module == "ops", ast.unparse(node)
        for alias in node.names:
            assert f"nnlab.ops.{alias.name}" in modules, f"tensor.py binds the name {alias.name!r}, not a module"
    # Nothing but those imports follows them: everything the op modules import from tensor exists by then.
    assert body[-len(bottom):] == bottom


def test_optim_does_not_import_train_when_loaded():
    graph = _graph()
    offenders = {(m, t) for m in graph if m.startswith("nnlab.optim") for t in graph[m] if t.startswith("nnlab.train")}
    assert not offenders


def test_the_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_import_nnlab_stays_light():
    # optional integrations are imported where used; so are the file formats and the optimizer's thread pool
    import subprocess
    import sys

    heavy = ["torch", "sklearn", "scipy", "matplotlib", "onnx", "onnxruntime", "optuna", "mpi4py", "dask", "numba",
             "jinja2", "tensorboardX", "zipfile", "gzip", "csv", "concurrent.futures", "logging"]
    code = f"import sys, nnlab; print([m for m in {heavy!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
