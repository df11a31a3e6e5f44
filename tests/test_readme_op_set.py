"""The README's "Op set" section lists exactly the ops, activations, layers and losses the code has."""

import inspect
import re
from pathlib import Path

import pytest

import nnlab
from nnlab import functional, losses, nn
from nnlab.cli.config import ACTIVATIONS, LossConfig

README = Path(__file__).resolve().parents[1] / "README.md"
NOT_OPS = {"backward", "detach", "item", "numpy", "data", "grad", "requires_grad", "shape", "dtype", "ndim",
           "is_leaf", "size"}  # a Tensor's bookkeeping, not ops
NOT_LAYERS = {"Module", "Parameter", "init", "to_spec", "from_spec", "register", "layer_types"}
PREFIXES = ("nnlab.", "functional.", "nn.", "losses.", "x.")


def _section() -> str:
    text = README.read_text(encoding="utf-8")
    if "\n## Op set\n" not in text:
        pytest.skip("README.md is not next to tests/ (installed package)")
    return text.split("\n## Op set\n", 1)[1].split("\n## ", 1)[0]


def _listed() -> set[str]:
    names = set()
    for token in re.findall(r"`([^`]+)`", _section()):
        token = token.strip()
        for prefix in PREFIXES:
            token = token.removeprefix(prefix)
        token = token.removesuffix("()")
        if re.fullmatch(r'[A-Za-z_][A-Za-z0-9_]*|"[a-z_0-9]+"', token):
            names.add(token)
    return names


def _ops_in_code() -> set[str]:
    tensor = {n for n in dir(nnlab.Tensor) if not n.startswith("_")} - NOT_OPS
    top = {n for n in nnlab.__all__ if inspect.isfunction(getattr(nnlab, n)) and getattr(nnlab, n).__module__.startswith(
        ("nnlab.ops", "nnlab.creation"))}
    acts = {n for n, f in vars(functional).items() if inspect.isfunction(f) and not n.startswith("_")
            and f.__module__ in ("nnlab.functional", "nnlab.ops.activations", "nnlab.ops.activations_more")
            and n != "input_scale"}
    layers = set(nn.__all__) - NOT_LAYERS
    loss_names = (set(losses.__all__) - {"Loss", "get", "names"}) | {f'"{n}"' for n in losses.names()}
    return tensor | top | acts | layers | loss_names


def _keywords() -> set[str]:
    """The parameter names of the listed functions and classes (the section names some: ``delta``, ``ddof``, …)."""
    found = set()
    for name in _ops_in_code():
        for obj in (nnlab.Tensor, nnlab, functional, nn, losses):
            member = getattr(obj, name.strip('"'), None)
            if callable(member):
                try:
                    found |= set(inspect.signature(member).parameters)
                except (TypeError, ValueError):
                    pass
    return found


def _exists(name: str) -> bool:
    if name.startswith('"'):
        return name.strip('"') in losses.names() + ("batchmean",)
    return (any(hasattr(obj, name) for obj in (nnlab.Tensor, nnlab, functional, nn, losses))
            or name in _keywords() or name in ACTIVATIONS)


def test_every_op_of_the_code_is_listed():
    missing = sorted(_ops_in_code() - _listed())
    assert not missing, f"README 'Op set' does not list {missing}: add each to the fitting line of that section"


def test_everything_listed_exists():
    unknown = sorted(n for n in _listed() if not _exists(n))
    assert not unknown, f"README 'Op set' lists {unknown}, which the code does not have"


def test_the_cli_names_it_states():
    section = _section()
    cli_losses = LossConfig.model_fields["name"].annotation.__args__
    assert all(f'`"{name}"`' in section.split("The CLI's `loss.name` takes", 1)[1] for name in cli_losses)
    # the softmaxes and glu change the distribution or the width, threshold has no defaults: not CLI names
    acts = {n for n in ACTIVATIONS} | {"softmax", "log_softmax", "softmin", "glu", "threshold"}
    assert acts - {"prelu", "maxout"} == {n for n in _ops_in_code() if hasattr(functional, n)} - {"logsumexp"}


def test_every_functional_form_is_listed():
    from nnlab.nn import functional_forms

    listed = set(re.findall(r"`F\.([a-z_0-9]+)`", _section()))
    missing = sorted(set(functional_forms.__all__) - listed)
    assert not missing, f"README 'Op set' does not list the functional forms {missing} (as `F.name`)"
    assert all(hasattr(nnlab.nn.functional, name) for name in listed), "README lists an F.name nnlab.nn.functional lacks"
