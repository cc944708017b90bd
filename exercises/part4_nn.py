"""Part 4: neural networks.

With Tensors that backpropagate (Parts 2 and 3), a neural network is a few
small classes, shaped like PyTorch's:

- `Parameter`: a Tensor that a model learns. It always requires grad.
- `Module`: a box of Parameters and of other Modules. It finds them itself,
  so `model.parameters()` lists everything an optimiser must update.
- `Linear`, `ReLU`, `MLP`: the layers of a classic multi-layer perceptron.
- `cross_entropy`: the loss of a classifier, one number per example.
- `NoGrad`: a `with` block in which nothing is recorded for backprop.
- `SGD`: stochastic gradient descent, with momentum and weight decay.

Everything here is built from the Tensor operations you already have; no new
backward function is needed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from . import core
from .core import Arr, Tensor


class Parameter(Tensor):
    """A Tensor that a Module learns: its weights and biases.

    `Parameter(tensor)` wraps the data of an existing Tensor. It shares that
    Tensor's array (the very same ndarray object, not a copy), so changing
    one changes the other. It requires grad unless told otherwise, and, like
    any Tensor you make by hand, it starts with no grad and no recipe.

    >>> t = Tensor(np.zeros(3, dtype=np.float32))
    >>> p = Parameter(t)
    >>> p.array is t.array, p.requires_grad
    (True, True)
    """

    def __init__(self, tensor: Tensor, requires_grad: bool = True):
        # TODO(4.1): write Parameter.__init__.
        raise NotImplementedError("exercise 4.1 Parameter.__init__")

    def __repr__(self) -> str:
        return f"Parameter({self.array!r}, requires_grad={self.requires_grad})"


class Module:
    """The base class of every layer and model.

    A subclass calls `super().__init__()` first, then assigns its parts as
    attributes, and defines `forward`:

        class Affine(Module):
            def __init__(self):
                super().__init__()
                self.scale = Parameter(Tensor(np.ones(3, dtype=np.float32)))
                self.inner = Linear(3, 3)

            def forward(self, x):
                return self.inner(x) * self.scale

    Assigning an attribute registers it: a Parameter among the module's own
    parameters, a Module among its children, in the order they are assigned
    (assigning the same name again replaces the entry; whether it keeps its
    place in that order or moves to the end is left to you).
    Anything else (a number, a plain Tensor, a list) is an ordinary
    attribute. Every attribute reads back as it was assigned
    (`model.inner is the_linear`).

    Each instance has registries of its own: two modules never share one.
    """

    def __init__(self) -> None:
        """Give this module its own two registries: Parameters by name, child Modules by name.

        Careful: `self.x = ...` here already goes through your __setattr__.
        """
        # TODO(4.2): write Module.__init__.
        raise NotImplementedError("exercise 4.2 Module.__init__")

    def __setattr__(self, name: str, value: Any) -> None:
        """Set the attribute, registering Parameters and Modules.

        A name that held a Parameter or a Module and is given something
        else is no longer registered.
        """
        # TODO(4.2): write Module.__setattr__.
        raise NotImplementedError("exercise 4.2 Module.__setattr__")

    def modules(self) -> Iterator[Module]:
        """The direct children of this module (not grandchildren), in order of assignment."""
        # TODO(4.2): write Module.modules.
        raise NotImplementedError("exercise 4.2 Module.modules")

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """Every Parameter of this module and, with recurse, of its children.

        First the module's own parameters in order of assignment; then, if
        recurse is true, the parameters of each child in order of assignment,
        each child listing its own before its children's (depth first).
        With recurse=False, only the module's own parameters. (The course's
        models never share a Parameter between modules, so there are no
        duplicates to remove.)
        """
        # TODO(4.2): write Module.parameters.
        raise NotImplementedError("exercise 4.2 Module.parameters")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """`module(x)` is `module.forward(x)`: pass every argument on, return its result.

        Subclasses define `forward`; nobody calls it directly.
        """
        # TODO(4.2): write Module.__call__.
        raise NotImplementedError("exercise 4.2 Module.__call__")


def uniform(low: float, high: float, shape: tuple[int, ...]) -> Tensor:
    """Given: a float32 Tensor of independent draws from U(low, high), from NumPy's global generator.

    `np.random.seed(seed)` before building a model makes its initial weights repeatable.
    """
    return Tensor(np.random.uniform(low, high, size=shape).astype(np.float32))


class Linear(Module):
    """A fully connected layer: out = x @ weight.T + bias.

    weight: a Parameter of shape (out_features, in_features).
    bias:   a Parameter of shape (out_features,), or None when bias=False.

    Both start uniform in [-1/sqrt(in_features), 1/sqrt(in_features)]
    (PyTorch's default), so that each output starts at about the scale of
    each input, whatever the number of inputs.

    forward takes x of shape (batch, in_features) and returns a Tensor of
    shape (batch, out_features).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        # TODO(4.3): write Linear.__init__.
        raise NotImplementedError("exercise 4.3 Linear.__init__")

    def forward(self, x: Tensor) -> Tensor:
        # TODO(4.3): write Linear.forward.
        raise NotImplementedError("exercise 4.3 Linear.forward")


class ReLU(Module):
    """relu as a layer: forward(x) = max(x, 0) elementwise, shaped like x. It has no parameters."""

    def forward(self, x: Tensor) -> Tensor:
        # TODO(4.4): write ReLU.forward.
        raise NotImplementedError("exercise 4.4 ReLU.forward")


class MLP(Module):
    """A multi-layer perceptron: Linear layers with a ReLU between each two.

    MLP(in_features, hidden_features, out_features), where hidden_features
    is a sequence of layer widths, builds

        Linear(in_features, h1), ReLU, Linear(h1, h2), ReLU, ..., Linear(hk, out_features)

    with no ReLU after the last layer: its outputs are logits, and a loss
    such as cross_entropy takes them as they are. An empty hidden_features
    gives a single Linear(in_features, out_features). For example
    MLP(64, [32], 10) has 2 Linear layers and 4 Parameters.

    Every layer must be registered (assigned as an attribute) so that
    parameters() finds its weights; a plain Python list is not looked into.

    forward takes x of shape (batch, in_features) and returns logits of shape
    (batch, out_features).
    """

    def __init__(self, in_features: int, hidden_features: Sequence[int], out_features: int):
        # TODO(4.4): write MLP.__init__.
        raise NotImplementedError("exercise 4.4 MLP.__init__")

    def forward(self, x: Tensor) -> Tensor:
        # TODO(4.4): write MLP.forward.
        raise NotImplementedError("exercise 4.4 MLP.forward")


def cross_entropy(logits: Tensor, true_labels: Tensor) -> Tensor:
    """The cross-entropy loss of each example, as a Tensor of shape (batch,).

    logits:      a Tensor of shape (batch, classes), any real numbers.
    true_labels: a Tensor of integer class indices, shape (batch,).

    For one example with logits z and true class y:

        loss = -log(softmax(z)[y]) = log(sum_j exp(z_j)) - z_y

    Return one loss per example (do not average; the training loop does).
    It must stay finite and right for huge logits (1e4): exp(1e4)
    overflows, so subtract each row's largest logit first. That changes
    nothing mathematically (the softmax of z - c equals the softmax of z),
    and the shift can be a constant Tensor that needs no gradient: the
    gradient of the loss with respect to a shift of the whole row is zero.

    Build it from Tensor operations, so that backprop reaches the logits.
    """
    # TODO(4.5): write cross_entropy.
    raise NotImplementedError("exercise 4.5 cross_entropy")


class NoGrad:
    """A `with` block in which no operation records a graph.

        with NoGrad():
            logits = model(x)   # logits.requires_grad is False, no recipe

    On entry, turn `core.grad_tracking_enabled` off (assign it on the core
    module, `core.grad_tracking_enabled = False`: a global of this file would
    be a different variable). On exit, put back the value it had on entry,
    which may already have been False (so blocks nest), and do so even when
    an exception leaves the block. Do not swallow the exception.
    """

    def __enter__(self) -> NoGrad:
        # TODO(4.6): write NoGrad.__enter__.
        raise NotImplementedError("exercise 4.6 NoGrad.__enter__")

    def __exit__(self, exc_type: Any, exc_value: Any, traceback: Any) -> None:
        # TODO(4.6): write NoGrad.__exit__.
        raise NotImplementedError("exercise 4.6 NoGrad.__exit__")


class SGD:
    """Stochastic gradient descent, with PyTorch's update rule.

    params may be any iterable of Parameters, a generator included (such as
    `model.parameters()`): read it once, in __init__, and keep a list.
    lr > 0, momentum in [0, 1) and weight_decay >= 0 are floats. Left out,
    momentum and weight_decay are 0.0: plain gradient descent.

    step(), for each parameter p whose p.grad is not None (the others are
    skipped), with g = p.grad.array:

        g = g + weight_decay * p                      (weight decay first)
        b = momentum * b + g, or b = g the first time  (only if momentum != 0;
        g = b                                          each p has its own b)
        p = p - lr * g

    Update p's data (p.array), never p.grad: the gradient is the caller's.
    Nothing of this is recorded for backprop.

    zero_grad() clears every gradient, before the next backward pass adds
    to it: set each p.grad to None (or to zeros; both work).
    """

    def __init__(self, params: Iterable[Parameter], lr: float, momentum: float = 0.0, weight_decay: float = 0.0):
        # TODO(4.7): write SGD.__init__.
        raise NotImplementedError("exercise 4.7 SGD.__init__")

    def zero_grad(self) -> None:
        # TODO(4.7): write SGD.zero_grad.
        raise NotImplementedError("exercise 4.7 SGD.zero_grad")

    def step(self) -> None:
        # TODO(4.7): write SGD.step.
        raise NotImplementedError("exercise 4.7 SGD.step")
