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
        self.back_funcs[(forward_fn, arg_position)] = back_fn

    def get_back_func(self, forward_fn: Callable, arg_position: int) -> Callable:
        """Return the backward function registered for (forward_fn, arg_position).

        Raises KeyError, with a message naming both the forward function and
        the position, when nothing was registered for them.
        """
        try:
            return self.back_funcs[(forward_fn, arg_position)]
        except KeyError:
            name = getattr(forward_fn, "__name__", repr(forward_fn))
            raise KeyError(f"no backward function registered for {name} at argument position {arg_position}") from None


BACK_FUNCS = BackwardFuncLookup()


def log_forward(x: Tensor) -> Tensor:
    """`np.log` on a Tensor, recording how the result was made.

    The result requires grad exactly when gradient tracking is on
    (`core.grad_tracking_enabled`) and x requires grad. Only then does it get
    a recipe: `Recipe(func=np.log, args=(x.array,), kwargs={}, parents={0: x})`.
    """
    requires_grad = core.grad_tracking_enabled and x.requires_grad
    out = Tensor(np.log(x.array), requires_grad=requires_grad)
    if requires_grad:
        out.recipe = Recipe(func=np.log, args=(x.array,), kwargs={}, parents={0: x})
    return out


def multiply_forward(a: Tensor | float, b: Tensor | float) -> Tensor:
    """`np.multiply` on two operands, at least one of them a Tensor.

    The other may be a plain Python number. The recipe's args hold each
    Tensor's array (the same object, not a copy) and each number as it is;
    its parents map position 0 and/or 1 to the Tensor operands that backprop
    must reach. The result requires grad when tracking is on and some Tensor
    operand requires grad. Only then does it get a recipe.
    """
    assert isinstance(a, Tensor) or isinstance(b, Tensor), "multiply_forward needs a Tensor operand"
    a_value = a.array if isinstance(a, Tensor) else a
    b_value = b.array if isinstance(b, Tensor) else b
    parents = {
        position: operand
        for position, operand in enumerate((a, b))
        if isinstance(operand, Tensor) and operand.requires_grad
    }
    requires_grad = core.grad_tracking_enabled and bool(parents)
    out = Tensor(np.multiply(a_value, b_value), requires_grad=requires_grad)
    if requires_grad:
        out.recipe = Recipe(func=np.multiply, args=(a_value, b_value), kwargs={}, parents=parents)
    return out


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

    def tensor_func(*args: Any, **kwargs: Any) -> Tensor:
        # One pass over the arguments: unbox each Tensor, and note the ones
        # that backprop must reach.
        arrays = []
        parents = {}
        for position, arg in enumerate(args):
            if isinstance(arg, Tensor):
                arrays.append(arg.array)
                if arg.requires_grad:
                    parents[position] = arg
            else:
                arrays.append(arg)
        unboxed_args = tuple(arrays)  # one tuple, both for the call and for the recipe
        requires_grad = is_differentiable and core.grad_tracking_enabled and bool(parents)
        # Arguments by position, here and for the Recipe (its fields in
        # order: func, args, kwargs, parents): this runs once per operation,
        # and calling a class with keywords costs a dict each time.
        out = Tensor(numpy_func(*unboxed_args, **kwargs), requires_grad)
        if requires_grad:
            out.recipe = Recipe(numpy_func, unboxed_args, kwargs, parents)
        return out

    return tensor_func


def topological_sort(node: Hashable, get_children: Callable[[Any], Iterable[Any]]) -> list[Any]:
    """All nodes reachable from `node`, each once, children before parents.

    `get_children(n)` gives the nodes that n points to. In the returned list
    every node comes after all of its children, and `node` itself comes last.
    Any order with that property is right.

    Raises ValueError if the graph has a cycle.

    Nodes are hashable, but compare them by identity: two distinct nodes are
    two nodes, whatever their `==` says.
    """
    # Kahn's algorithm, with no recursion, so that deep graphs cannot hit
    # Python's recursion limit. Nodes are keyed by id().
    #
    # First pass: every reachable node (the keys), and how many times
    # reachable nodes point to it (the values).
    pointed_to: dict[int, int] = {id(node): 0}
    to_visit = [node]
    while to_visit:
        for child in get_children(to_visit.pop()):
            child_id = id(child)
            if child_id in pointed_to:
                pointed_to[child_id] += 1
            else:  # seen for the first time
                pointed_to[child_id] = 1
                to_visit.append(child)

    # Second pass: take a node once every node pointing to it is taken. That
    # lists parents before children; reversed, it is the order we want.
    # On a cycle, the nodes of the cycle never become ready.
    order: list[Any] = []
    ready = [node] if pointed_to[id(node)] == 0 else []
    while ready:
        current = ready.pop()
        order.append(current)
        for child in get_children(current):
            child_id = id(child)
            still_pointing = pointed_to[child_id] - 1
            pointed_to[child_id] = still_pointing
            if still_pointing == 0:
                ready.append(child)
    if len(order) != len(pointed_to):
        raise ValueError("the graph has a cycle")
    order.reverse()
    return order


def sorted_computational_graph(tensor: Tensor) -> list[Tensor]:
    """Every Tensor that `tensor` was computed from, in backprop order.

    A Tensor's children, for this purpose, are its recipe's parents (none if
    it has no recipe). The list starts with `tensor` itself, includes the
    leaves, and puts each Tensor before all of the Tensors it was computed
    from: the reverse of a topological order.
    """

    def get_parents(t: Tensor) -> Iterable[Tensor]:
        return () if t.recipe is None else t.recipe.parents.values()

    return topological_sort(tensor, get_parents)[::-1]


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
    if end_grad is None:
        end_grad_array = np.ones_like(end_node.array)
    else:
        end_grad_array = end_grad.array

    # The gradient each node has received so far from its children.
    grads: dict[Tensor, Arr] = {end_node: end_grad_array}

    for node in sorted_computational_graph(end_node):
        grad = grads.pop(node)

        if node.is_leaf:
            if node.requires_grad:
                if node.grad is None:
                    # A copy: the same array may also be another leaf's
                    # gradient, or the caller's end_grad. In C order, like
                    # the leaf's own array: a gradient that arrived
                    # transposed (the weight of `x @ W.T`) would make every
                    # optimiser update several times slower.
                    node.grad = Tensor(np.array(grad, copy=True, order="C"))
                else:
                    node.grad.array = node.grad.array + grad
            continue

        recipe = node.recipe
        for position, parent in recipe.parents.items():
            back_fn = BACK_FUNCS.get_back_func(recipe.func, position)
            parent_grad = back_fn(grad, node.array, *recipe.args, **recipe.kwargs)
            # One lookup: most parents hear from a single child.
            received = grads.get(parent)
            grads[parent] = parent_grad if received is None else received + parent_grad
