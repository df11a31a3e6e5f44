"""Modules of two inputs that compare them: ``CosineSimilarity`` and ``PairwiseDistance``, as torch's.

Each calls its functional form (``F.cosine_similarity``, ``F.pairwise_distance``).  They
take two inputs, so they are used inside a Module of your own, not in a Sequential, and
are not layer types of the model file.
"""

from __future__ import annotations

from .._checks import check_bool, check_float, check_int
from .functional_forms import cosine_similarity, pairwise_distance
from .module import Module


class CosineSimilarity(Module):
    """``CosineSimilarity(dim=1, eps=1e-8)(x1, x2)``: the cosine of x1 and x2 along ``dim``, each norm at least ``eps``.

    >>> import nnlab
    >>> round(CosineSimilarity()(nnlab.tensor([[1.0, 0.0]]), nnlab.tensor([[1.0, 1.0]])).item(), 4)
    0.7071
    """

    def __init__(self, dim=1, eps=1e-8):
        super().__init__()
        self.dim = check_int("dim", dim, owner="CosineSimilarity")
        self.eps = check_float("eps", eps, 0.0, owner="CosineSimilarity")

    def forward(self, x1, x2):
        return cosine_similarity(x1, x2, self.dim, self.eps)

    def extra_repr(self):
        return f"dim={self.dim}, eps={self.eps}"


class PairwiseDistance(Module):
    """``PairwiseDistance(p=2.0, eps=1e-6, keepdim=False)(x1, x2)``: the p-norm of x1 − x2 + eps along the last axis.

    >>> import nnlab
    >>> PairwiseDistance(eps=0.0)(nnlab.tensor([[3.0, 0.0]]), nnlab.tensor([[0.0, 4.0]])).numpy().tolist()
    [5.0]
    """

    def __init__(self, p=2.0, eps=1e-6, keepdim=False):
        super().__init__()
        owner = "PairwiseDistance"
        self.norm = check_float("p", p, 0.0, low_open=True, allow_inf=True, owner=owner)
        self.eps = check_float("eps", eps, owner=owner)
        self.keepdim = check_bool("keepdim", keepdim, owner=owner)

    def forward(self, x1, x2):
        return pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)

    def extra_repr(self):
        return f"p={self.norm}, eps={self.eps}, keepdim={self.keepdim}"
