"""PyTorch's ``torch.optim.lr_scheduler`` for nnlab optimizers: the same classes, arguments, steps and values.

>>> import nnlab
>>> from nnlab.optim import SGD, lr_scheduler
>>> a, b = nnlab.tensor([1.0], requires_grad=True), nnlab.tensor([1.0], requires_grad=True)
>>> opt = SGD([{"params": [a]}, {"params": [b], "lr": 0.01}], lr=0.1)
>>> sched = lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
>>> for epoch in range(3):
...     opt.step()  # after each epoch's training steps
...     sched.step()
>>> [round(lr, 6) for lr in sched.get_last_lr()]
[0.05, 0.005]

Each group's rate follows its own ``initial_lr`` (set when the first scheduler
is built), so the groups' ratios stay.  ``state_dict()`` holds plain numbers,
strings and lists -- no callables: a LambdaLR's lambdas and a CyclicLR's
``scale_fn`` are skipped, as PyTorch skips them -- so it can be written as JSON
(or with the optimizer's state, in a checkpoint).  These schedulers drive an
optimizer by hand; the training loop's callbacks (``nnlab.train``) drive the
pure functions of :mod:`nnlab.optim.schedules` instead.
"""

from ._base import LRScheduler
from .compose import ChainedScheduler, SequentialLR
from .cosine import CosineAnnealingLR, CosineAnnealingWarmRestarts
from .cyclic import CyclicLR, OneCycleLR
from .multiplicative import (ConstantLR, ExponentialLR, LambdaLR, LinearLR, MultiplicativeLR, MultiStepLR,
                             PolynomialLR, StepLR)
from .plateau import ReduceLROnPlateau

__all__ = [
    "LRScheduler",
    "LambdaLR",
    "MultiplicativeLR",
    "StepLR",
    "MultiStepLR",
    "ConstantLR",
    "LinearLR",
    "ExponentialLR",
    "SequentialLR",
    "CosineAnnealingLR",
    "ChainedScheduler",
    "ReduceLROnPlateau",
    "CyclicLR",
    "CosineAnnealingWarmRestarts",
    "OneCycleLR",
    "PolynomialLR",
]
