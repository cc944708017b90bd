"""Part 2: automatic differentiation.

Part 1 called backward functions by hand, in an order worked out by hand.
This part automates both:

- Every Tensor made by an operation carries a `Recipe` (see core.py) saying
  which NumPy function made it, from which arrays, and which input Tensors
  are its parents.
- `BACK_FUNCS` maps (forward function, argument position) to the backward
  function for that argument.
- `backprop` sorts the graph so that every node comes before its parents,
  then walks it once, handing each node's gradient on to its parents.

The lookup is filled in functional.py, which also wraps every NumPy function
the kit uses into a Tensor function with your `wrap_forward_fn`.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from typing import Any

import numpy as np

from . import core
from .core import Arr, Recipe, Tensor


class BackwardFuncLookup:
    """A table from (forward function, argument position) to backward function.

    >>> lookup = BackwardFuncLookup()
    >>> lookup.add_back_func(np.log, 0, log_back)
    >>> lookup.get_back_func(np.log, 0) is log_back
    True

    Each lookup has a table of its own: registering in one never changes
    another.
    """

    def __init__(self) -> None:
        self.back_funcs: dict[tuple[Callable, int], Callable] = {}

    def add_back_func(self, forward_fn: Callable, arg_position: int, back_fn: Callable) -> None:
        """Register `back_fn` as the backward function of `forward_fn` with
        respect to its argument at `arg_position`."""
        # TODO(2.1): write BackwardFuncLookup.add_back_func.
        raise NotImplementedError("exercise 2.1 BackwardFuncLookup.add_back_func")

    def get_back_func(self, forward_fn: Callable, arg_position: int) -> Callable:
        """Return the backward function registered for (forward_fn, arg_position).

        Raises KeyError, with a message naming both the forward function and
        the position, when nothing was registered for them.
        """
        # TODO(2.1): write BackwardFuncLookup.get_back_func.
        raise NotImplementedError("exercise 2.1 BackwardFuncLookup.get_back_func")


BACK_FUNCS = BackwardFuncLookup()


def log_forward(x: Tensor) -> Tensor:
    """`np.log` on a Tensor, recording how the result was made.

    The result requires grad exactly when gradient tracking is on
    (`core.grad_tracking_enabled`) and x requires grad. Only then does it get
    a recipe: `Recipe(func=np.log, args=(x.array,), kwargs={}, parents={0: x})`.
    """
    # TODO(2.2): write log_forward.
    raise NotImplementedError("exercise 2.2 log_forward")


def multiply_forward(a: Tensor | float, b: Tensor | float) -> Tensor:
    """`np.multiply` on two operands, at least one of them a Tensor.

    The other may be a plain Python number. The recipe's args hold each
    Tensor's array (the same object, not a copy) and each number as it is;
    its parents map position 0 and/or 1 to the Tensor operands that backprop
    must reach. The result requires grad when tracking is on and some Tensor
    operand requires grad. Only then does it get a recipe.
    """
    # TODO(2.2): write multiply_forward.
    raise NotImplementedError("exercise 2.2 multiply_forward")


def wrap_forward_fn(numpy_func: Callable, is_differentiable: bool = True) -> Callable:
    """Turn a NumPy function into the same function on Tensors.

    The returned function takes the same arguments as `numpy_func`, except
    that any positional argument may be a Tensor. It calls `numpy_func` on the
    unboxed arguments (each Tensor replaced by its array, everything else as
    given, keyword arguments passed through) and wraps the result in a new
    Tensor.

    The result requires grad when `is_differentiable` is true, gradient
    tracking is on, and at least one Tensor argument requires grad. Only then
    does it get a recipe: `Recipe(func=numpy_func, args=<the unboxed
    positional args>, kwargs=<the keyword args>, parents=<position -> Tensor,
    for the Tensor arguments>)`.

    >>> log = wrap_forward_fn(np.log)
    >>> y = log(Tensor([1.0, 2.0], requires_grad=True))
    >>> y.recipe.func is np.log
    True
    """
    # TODO(2.3): write wrap_forward_fn.
    raise NotImplementedError("exercise 2.3 wrap_forward_fn")


def topological_sort(node: Hashable, get_children: Callable[[Any], Iterable[Any]]) -> list[Any]:
    """All nodes reachable from `node`, each once, children before parents.

    `get_children(n)` gives the nodes that n points to. In the returned list
    every node comes after all of its children, and `node` itself comes last.
    Any order with that property is right.

    Raises ValueError if the graph has a cycle.

    Nodes are hashable, but compare them by identity: two distinct nodes are
    two nodes, whatever their `==` says.
    """
    # TODO(2.4): write topological_sort.
    raise NotImplementedError("exercise 2.4 topological_sort")


def sorted_computational_graph(tensor: Tensor) -> list[Tensor]:
    """Every Tensor that `tensor` was computed from, in backprop order.

    A Tensor's children, for this purpose, are its recipe's parents (none if
    it has no recipe). The list starts with `tensor` itself, includes the
    leaves, and puts each Tensor before all of the Tensors it was computed
    from: the reverse of a topological order.
    """
    # TODO(2.5): write sorted_computational_graph.
    raise NotImplementedError("exercise 2.5 sorted_computational_graph")


def backprop(end_node: Tensor, end_grad: Tensor | None = None) -> None:
    """Fill in `.grad` on every leaf that `end_node` depends on and that
    requires grad.

    end_grad is dL/d(end_node), a Tensor shaped like end_node; None means all
    ones (that is, L = end_node.sum()).

    Walk `sorted_computational_graph(end_node)`. Each node's gradient is the
    sum of what all its children sent it; pass it on to the node's parents
    with the backward functions from `BACK_FUNCS`, called as
    `back_fn(grad_out, node.array, *recipe.args, **recipe.kwargs)`.
    At a leaf that requires grad, add the gradient to `leaf.grad` (a Tensor),
    or set it if `leaf.grad` is None: calling backward twice accumulates.

    Never store in `.grad` an array that something else also holds (end_grad,
    another leaf's gradient, ...), and never modify such arrays in place.
    """
    # TODO(2.6): write backprop.
    raise NotImplementedError("exercise 2.6 backprop")
