"""Hidden suite for Part 4: neural networks.

Mistakes these cases are built to catch:
- Parameter: copying the array (np.array, .copy(), .astype), ignoring
  requires_grad=False, not being a Tensor.
- Module: registries on the class (shared by every instance), own
  parameters after the children's, children's parameters listed twice
  (modules() giving every descendant), plain Tensors or lists registered,
  attributes that no longer read back, __call__ dropping keyword arguments.
- Linear: weight stored transposed, init bound 1/in_features or
  1/sqrt(out_features) or not symmetric, bias ignored or kept at zero,
  bias=False ignored, gradients that miss the weights.
- ReLU and MLP: a ReLU after the last layer, a missing ReLU, layers hidden
  in a plain list (no parameters), wrong widths.
- cross_entropy: a mean instead of one loss per example, an unstable
  softmax (exp overflows at 1e4), a shift by the global max (underflows),
  logits[:, labels], a flipped sign, changing the logits in place, a loss
  built from NumPy results that backprop cannot reach.
- NoGrad: setting a global of part4_nn.py instead of core's, restoring True
  instead of the previous value, not restoring after an exception,
  swallowing the exception.
- SGD: the wrong steps of SGD_MISTAKES (weight decay after momentum, with
  the wrong sign or left out, one momentum buffer shared by all parameters,
  dampened momentum, a doubled first step, momentum that never builds up,
  a step uphill), a generator read twice, defaults other than 0, a buffer
  that aliases the gradient, zero_grad that resets nothing, updating p.grad,
  stepping or crashing on a parameter without a gradient, Tensor operations
  in step.

Most judges are lists of Checks: an entry of the observation, the value it
should have, the message when it has not, and the mistake it names.

Every probe starts by switching gradient tracking on: a broken NoGrad must
not spoil the cases that run after it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from ..cases import CaseFailure, probe
from ..numeric import expect_array, expect_finite, numerical_vjp, values_match
from ..observe import returned
from ..seeds import rng
from .common import Check, as_array, expect_each, float32, normal

MODULE = "part4_nn"


def fresh(student: Any) -> Any:
    """The student's part4_nn module, with gradient tracking switched on."""
    student.core.grad_tracking_enabled = True
    return getattr(student, MODULE)


def tensor(student: Any, values: np.ndarray, requires_grad: bool = False) -> Any:
    return student.core.Tensor(values.copy(), requires_grad=requires_grad)


def grad_of(value: Any) -> dict[str, Any]:
    """A tensor's .grad as plain data (NoneType when there is none)."""
    return returned(getattr(value, "grad", None))


def expect_grad(observation: dict[str, Any], expected: np.ndarray, *, what: str, **options: Any) -> None:
    """A .grad after backward: there, and equal to `expected` (options: expect_array's tolerances and mistakes)."""
    if observation.get("type") == "NoneType":
        raise CaseFailure(
            f"{what} is None after backward: no gradient reached it. Is it used through Tensor operations "
            "(not through a NumPy result wrapped in a new Tensor)?",
            mistake="no gradient reaches it",
        )
    expect_array(as_array(observation), expected, what=what, **options)


def tensor_values(observation: dict[str, Any], what: str, should: str) -> dict[str, Any]:
    """A returned Tensor, read as its array; a NumPy array returned instead fails, saying what the Tensor `should` be."""
    if observation.get("kind") == "array":
        raise CaseFailure(
            f"{what} returned a NumPy array; it should return a Tensor{should}", mistake="a NumPy array for a Tensor"
        )
    return as_array(observation)


# 4.1 Parameter -----------------------------------------------------------------

# Promises of Parameter's docstring, and the cases that check them:
# - wraps the data of an existing Tensor, is a Tensor, starts with no grad and no recipe:
#   "Parameter(tensor) shares the tensor's array and requires grad"
# - shares the very same ndarray object, not a copy: "Parameter(tensor) shares the tensor's array and requires grad",
#   "Parameter(tensor, requires_grad=False) does not require grad"
# - requires grad unless told otherwise (even when the tensor does not):
#   "Parameter(tensor) shares the tensor's array and requires grad"
# - requires_grad=False is honoured: "Parameter(tensor, requires_grad=False) does not require grad"

PARAMETER_DATA = normal(401, (3, 4))


@probe("4.1", "Parameter(tensor) shares the tensor's array and requires grad")
def parameter_shares(student: Any) -> dict[str, Any]:
    nn = fresh(student)
    source = tensor(student, PARAMETER_DATA)
    parameter = nn.Parameter(source)
    return {
        "is_tensor": isinstance(parameter, student.core.Tensor),
        "same_array": getattr(parameter, "array", None) is source.array,
        "object_array": getattr(getattr(parameter, "array", None), "dtype", None) == np.dtype(object),
        "values": returned(getattr(parameter, "array", None)),
        "requires_grad": getattr(parameter, "requires_grad", None) is True,
        "grad_none": getattr(parameter, "grad", 0) is None,
        "recipe_none": getattr(parameter, "recipe", 0) is None,
    }


PARAMETER_IS_NEW = [
    Check(
        "requires_grad",
        True,
        "Parameter(t).requires_grad should be True by default, even when t does not require grad.",
        "requires_grad copied from t",
    ),
    Check("grad_none", True, "a new Parameter's .grad should be None."),
    Check("recipe_none", True, "a new Parameter's .recipe should be None: it is a leaf made by hand."),
]


@parameter_shares.judge
def judge_parameter_shares(observation: dict[str, Any]) -> None:
    expect_each(
        observation,
        [
            Check(
                "is_tensor",
                True,
                "Parameter(t) is not a Tensor: Parameter must subclass Tensor and call Tensor.__init__.",
            ),
        ],
    )
    if not observation["same_array"]:
        expect_each(
            observation,
            [
                Check(
                    "object_array",
                    False,
                    "Parameter(t).array is a NumPy array of Python objects (the Tensor t itself, wrapped): "
                    "pass t's array, t.array, to Tensor.__init__, not t.",
                    "the Tensor itself for its array",
                ),
            ],
        )
        expect_array(observation["values"], PARAMETER_DATA, what="Parameter(t).array")
        raise CaseFailure(
            "Parameter(t).array holds the right numbers but is not the same ndarray object as t.array: "
            "it must share t's array (no np.array(...), .copy() or .astype(...)), so that a change to one is seen by the other.",
            mistake="a copy of the array",
        )
    expect_each(observation, PARAMETER_IS_NEW)


@probe("4.1", "Parameter(tensor, requires_grad=False) does not require grad")
def parameter_no_grad(student: Any) -> dict[str, Any]:
    nn = fresh(student)
    source = tensor(student, PARAMETER_DATA, requires_grad=True)
    parameter = nn.Parameter(source, requires_grad=False)
    return {
        "requires_grad": getattr(parameter, "requires_grad", None),
        "same_array": getattr(parameter, "array", None) is source.array,
    }


@parameter_no_grad.judge
def judge_parameter_no_grad(observation: dict[str, Any]) -> None:
    expect_each(
        observation,
        [
            Check(
                "requires_grad",
                False,
                "Parameter(t, requires_grad=False).requires_grad is {requires_grad!r}; it should be False.",
                "requires_grad=False ignored",
            ),
            Check(
                "same_array", True, "Parameter(t, requires_grad=False).array is not t.array: it must share t's array."
            ),
        ],
    )


# 4.2 Module --------------------------------------------------------------------

# Promises of Module's docstrings, and the cases that check them:
# - assigning a Parameter registers it among the module's own parameters:
#   "parameters() of a three-level model: own first, then each child's, each once"
# - assigning a Module registers it among the children:
#   "modules() gives the direct children only, and attributes read back"
# - the registries keep the order of assignment:
#   "parameters() of a three-level model: own first, then each child's, each once",
#   "modules() gives the direct children only, and attributes read back"
# - assigning the same name again replaces the entry (its place in the order is free):
#   "reassigning an attribute replaces its parameter"
# - anything else (a number, a plain Tensor, a list) is an ordinary attribute:
#   "parameters() of a three-level model: own first, then each child's, each once" (a plain Tensor and a list of
#   modules, not registered)
# - every attribute reads back as it was assigned: "modules() gives the direct children only, and attributes read back",
#   "a registered name given something else (None) is no longer registered"
# - each instance has registries of its own: "two modules of one class keep separate registries"
# - Module.__setattr__: a name that held a Parameter or Module and is given something else is no longer registered:
#   "a registered name given something else (None) is no longer registered"
# - Module.modules: the direct children only, not grandchildren, in order of assignment:
#   "modules() gives the direct children only, and attributes read back"
# - Module.parameters: own parameters first, in order of assignment, then each child's, in order, depth first;
#   recurse=False gives only the module's own; each listed once:
#   "parameters() of a three-level model: own first, then each child's, each once"
# - Module.__call__: module(x) is module.forward(x), every argument passed on, the result returned:
#   "calling a module runs forward with every argument"

# Parameters of the test models are told apart by identity; these are their names.
TREE_PARAMETERS = [
    "root.alpha",
    "root.beta",
    "branch.gain",
    "first.w",
    "first.b",
    "second.w",
    "second.b",
    "leaf.w",
    "leaf.b",
]


def build_tree(student: Any) -> tuple[Any, dict[int, str], dict[str, Any]]:
    """A three-level model; returns it, a map from id to name, and its parts by name."""
    nn = fresh(student)
    Tensor = student.core.Tensor

    def make_parameter(seed: int) -> Any:
        return nn.Parameter(Tensor(normal(seed, (2,))))

    class Leaf(nn.Module):
        def __init__(self, seed: int):
            super().__init__()
            self.w = make_parameter(seed)
            self.scale = 3.0
            self.plain = Tensor(normal(seed + 50, (2,)), requires_grad=True)  # not a Parameter
            self.b = make_parameter(seed + 1)

        def forward(self, x: Any) -> Any:
            return x

    class Branch(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.first = Leaf(10)
            self.gain = make_parameter(20)  # assigned after a child, listed before it
            self.second = Leaf(30)
            self.extras = [Leaf(40)]  # a plain list is not looked into

        def forward(self, x: Any) -> Any:
            return x

    class Root(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.alpha = make_parameter(1)
            self.branch = Branch()
            self.leaf = Leaf(60)
            self.beta = make_parameter(2)

        def forward(self, x: Any) -> Any:
            return x

    root = Root()
    try:
        parts = {
            "root": root,
            "branch": root.branch,
            "first": root.branch.first,
            "second": root.branch.second,
            "leaf": root.leaf,
            "extra": root.branch.extras[0],
        }
    except AttributeError as error:
        raise Unreadable(str(error)) from None
    names = {}
    for owner in ("root", "branch", "first", "second", "leaf", "extra"):
        for attribute in ("alpha", "beta", "gain", "w", "b", "plain"):
            value = parts[owner].__dict__.get(attribute)
            if value is None:
                try:
                    value = getattr(parts[owner], attribute)
                except AttributeError:
                    continue
            names[id(value)] = f"{owner}.{attribute}"
    for owner, module in parts.items():
        names[id(module)] = owner
    return root, names, parts


class Unreadable(Exception):
    """An attribute assigned in __init__ could not be read back."""


UNREADABLE = (
    "after `self.branch = Branch()` (or another assignment) in __init__, reading the attribute back raised "
    "AttributeError ({}). __setattr__ must still store every attribute: object.__setattr__(self, name, value)."
)


def named(items: Any, names: dict[int, str]) -> list[str]:
    return [names.get(id(item), f"an unknown {type(item).__name__}") for item in items]


@probe("4.2", "parameters() of a three-level model: own first, then each child's, each once")
def module_parameters(student: Any) -> dict[str, Any]:
    try:
        root, names, parts = build_tree(student)
    except Unreadable as error:
        return {"unreadable": str(error)}
    try:
        return {
            "all": named(list(root.parameters()), names),
            "own": named(list(root.parameters(recurse=False)), names),
            "branch": named(list(parts["branch"].parameters()), names),
            "leaf": named(list(parts["leaf"].parameters()), names),
        }
    except RecursionError:
        return {"recursion": True, "lists_itself": lists_itself(getattr(student, MODULE))}


def lists_itself(nn: Any) -> bool:
    """Whether modules() gives the module itself (as PyTorch's modules() does), which makes parameters() recurse forever.

    Asked of a bare new Module: it has no children, so it lists exactly
    itself then (registries shared on the class list other modules too).
    """
    try:
        bare = nn.Module()
        return [child is bare for child in bare.modules()] == [True]
    except Exception:
        return False


SHARED_REGISTRIES = (
    "recursed without end, as if a module were its own descendant. Are the registries dicts on the class "
    "(shared by every instance, so each module sees every other's children)? Create them in __init__."
)

LISTS_ITSELF = (
    "recursed without end: modules() gives the module itself, so parameters() calls itself again and again. "
    "modules() gives only the direct children (PyTorch calls those children()), never the module itself."
)


def expect_module_works(observation: dict[str, Any], what: str) -> None:
    """What any Module case can meet before its own checks: attributes that no longer read back, endless recursion."""
    if "unreadable" in observation:
        raise CaseFailure(UNREADABLE.format(observation["unreadable"]), mistake="__setattr__ stores nothing")
    if observation.get("recursion"):
        if observation.get("lists_itself"):
            raise CaseFailure(f"{what} {LISTS_ITSELF}", mistake="modules() gives the module itself")
        raise CaseFailure(f"{what} {SHARED_REGISTRIES}", mistake="registries on the class")


@module_parameters.judge
def judge_module_parameters(observation: dict[str, Any]) -> None:
    expect_module_works(observation, "root.parameters()")
    describe = "a model `root` with Parameters alpha, beta and children branch (Parameter gain, children first and second) and leaf"
    got = observation["all"]
    duplicates = sorted({name for name in got if got.count(name) > 1})
    if duplicates:
        raise CaseFailure(
            f"root.parameters() lists {', '.join(duplicates)} more than once ({describe}). "
            "Does modules() give every descendant instead of only the direct children, or are parameters found twice?",
            mistake="parameters listed twice",
        )
    if any(name.endswith(".plain") for name in got):
        raise CaseFailure(
            "parameters() lists a plain Tensor attribute: only Parameters are parameters, even a Tensor that requires grad.",
            mistake="plain Tensors registered",
        )
    if any(name.startswith("extra.") for name in got):
        raise CaseFailure(
            "parameters() lists the parameters of a Module kept in a plain list attribute: only attributes that are Modules are children.",
            mistake="lists registered",
        )
    if sorted(got) != sorted(TREE_PARAMETERS):
        missing = [name for name in TREE_PARAMETERS if name not in got]
        raise CaseFailure(
            f"root.parameters() gives {got}, but should give {TREE_PARAMETERS} ({describe}). Missing: {missing}."
        )
    if got != TREE_PARAMETERS:
        raise CaseFailure(
            f"root.parameters() gives the right parameters in the wrong order: {got}. "
            f"Expected {TREE_PARAMETERS}: a module's own parameters first (in order of assignment), "
            "then each child's, in order of assignment, depth first.",
            mistake="own parameters after the children's",
        )
    expect_each(
        observation,
        [
            Check(
                "own",
                ["root.alpha", "root.beta"],
                "root.parameters(recurse=False) gives {own}; it should give only root's own: ['root.alpha', 'root.beta'].",
                "recurse=False ignored",
            ),
            Check(
                "branch",
                ["branch.gain", "first.w", "first.b", "second.w", "second.b"],
                "branch.parameters() gives {branch}; expected ['branch.gain', 'first.w', 'first.b', 'second.w', 'second.b'].",
            ),
        ],
    )


@probe("4.2", "modules() gives the direct children only, and attributes read back")
def module_children(student: Any) -> dict[str, Any]:
    try:
        root, names, parts = build_tree(student)
    except Unreadable as error:
        return {"unreadable": str(error)}
    leaf = parts["leaf"]
    try:
        children = [list(module.modules()) for module in (root, parts["branch"], leaf)]
    except RecursionError:
        return {"recursion": True, "lists_itself": lists_itself(getattr(student, MODULE))}
    return {
        "root": named(children[0], names),
        "branch": named(children[1], names),
        "leaf": named(children[2], names),
        "reads": {
            "root.alpha": names.get(id(root.alpha)),
            "root.branch": names.get(id(root.branch)),
            "leaf.scale": leaf.scale,
            "leaf.plain is a Tensor": isinstance(leaf.plain, student.core.Tensor),
        },
    }


LOST_MODULE_ATTRIBUTE = "after `self.alpha = Parameter(...)`, reading self.alpha does not give that Parameter back: __setattr__ must still store the attribute."
LOST_ATTRIBUTE = "ordinary attributes (a number, a plain Tensor) no longer read back after assignment: __setattr__ must store every attribute."
ATTRIBUTES_READ_BACK = [
    Check("root.alpha", "root.alpha", LOST_MODULE_ATTRIBUTE, "__setattr__ stores nothing"),
    Check("root.branch", "branch", LOST_MODULE_ATTRIBUTE, "__setattr__ stores nothing"),
    Check("leaf.scale", 3.0, LOST_ATTRIBUTE, "__setattr__ stores nothing"),
    Check("leaf.plain is a Tensor", True, LOST_ATTRIBUTE, "__setattr__ stores nothing"),
]


@module_children.judge
def judge_module_children(observation: dict[str, Any]) -> None:
    expect_module_works(observation, "modules()")
    expect_each(observation["reads"], ATTRIBUTES_READ_BACK)
    for owner, expected in (("root", ["branch", "leaf"]), ("branch", ["first", "second"]), ("leaf", [])):
        got = observation[owner]
        if got != expected:
            extra, mistake = "", None
            if owner in got:
                extra = " modules() gives the direct children only, never the module itself (PyTorch calls those children())."
                mistake = "modules() gives the module itself"
            elif set(expected) < set(got):
                extra = " modules() gives only the direct children, not grandchildren (and not modules inside a list)."
                mistake = "modules() gives every descendant"
            raise CaseFailure(f"{owner}.modules() gives {got}; expected {expected}.{extra}", mistake=mistake)


@probe("4.2", "two modules of one class keep separate registries")
def module_instances(student: Any) -> dict[str, Any]:
    nn = fresh(student)
    Tensor = student.core.Tensor

    class Pair(nn.Module):
        def __init__(self, seed: int):
            super().__init__()
            self.weight = nn.Parameter(Tensor(normal(seed, (3,))))

        def forward(self, x: Any) -> Any:
            return x

    class Other(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.gamma = nn.Parameter(Tensor(normal(7, (1,))))

        def forward(self, x: Any) -> Any:
            return x

    first, second, other = Pair(1), Pair(2), Other()
    try:
        return {
            "first": [p is first.weight for p in first.parameters()],
            "second": [p is second.weight for p in second.parameters()],
            "other": [p is other.gamma for p in other.parameters()],
            "other_children": len(list(other.modules())),
        }
    except RecursionError:
        return {"recursion": True, "lists_itself": lists_itself(getattr(student, MODULE))}


@module_instances.judge
def judge_module_instances(observation: dict[str, Any]) -> None:
    expect_module_works(observation, "parameters()")
    for name in ("first", "second", "other"):
        if observation[name] != [True]:
            raise CaseFailure(
                f"with several modules alive, one module's parameters() gives {len(observation[name])} parameter(s), "
                f"not just its own one. Are the registries dicts on the class (shared by every instance)? Create them in __init__.",
                mistake="registries on the class",
            )
    expect_each(
        observation,
        [
            Check(
                "other_children",
                0,
                "a module with no child modules lists children that belong to other modules: are the registries shared between instances?",
                "registries on the class",
            ),
        ],
    )


@probe("4.2", "reassigning an attribute replaces its parameter")
def module_reassign(student: Any) -> dict[str, Any]:
    nn = fresh(student)
    Tensor = student.core.Tensor

    class Box(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.weight = nn.Parameter(Tensor(normal(3, (2,))))
            self.bias = nn.Parameter(Tensor(normal(4, (2,))))

        def forward(self, x: Any) -> Any:
            return x

    box = Box()
    old = box.weight
    new = nn.Parameter(Tensor(normal(5, (2,))))
    box.weight = new
    try:
        listed = list(box.parameters())
    except RecursionError:
        return {"recursion": True, "lists_itself": lists_itself(nn)}
    return {
        "count": len(listed),
        "new": sum(p is new for p in listed),
        "old": sum(p is old for p in listed),
        "reads": box.weight is new,
    }


REPLACED = (
    "after `box.weight = new_parameter` (replacing the old one), box.parameters() should list the new "
    "Parameter once and the old one not at all, 2 in all; it lists {count}, "
    "the new one {new} time(s), the old one {old} time(s). Key the registry by attribute name."
)
REPLACEMENT_CHECKS = [
    Check("old", 0, REPLACED, "the replaced parameter kept"),
    Check("new", 1, REPLACED),
    Check("count", 2, REPLACED),
    Check("reads", True, "after `box.weight = new_parameter`, box.weight does not give the new Parameter back."),
]


@module_reassign.judge
def judge_module_reassign(observation: dict[str, Any]) -> None:
    expect_module_works(observation, "parameters()")
    expect_each(observation, REPLACEMENT_CHECKS)


@probe("4.2", "calling a module runs forward with every argument")
def module_call(student: Any) -> dict[str, Any]:
    nn = fresh(student)

    class Recorder(nn.Module):
        def forward(self, x: Any, y: Any = 0, *, factor: Any = 1) -> Any:
            return ("forward", x, y, factor)

    recorder = Recorder()
    return {"positional": recorder(2, 3), "keyword": recorder(5, factor=7)}


# What forward returned arrives as a list (a tuple crosses from the child as one).
CALL_CHECKS = [
    Check(
        "positional",
        ["forward", 2, 3, 1],
        "module(2, 3) should return what forward(2, 3) returns; got {positional!r}. "
        "Does __call__ pass every argument on and return forward's result?",
    ),
    Check(
        "keyword",
        ["forward", 5, 0, 7],
        "module(5, factor=7) should call forward(5, factor=7); got {keyword!r}. Does __call__ pass keyword arguments on?",
        "keyword arguments dropped",
    ),
]


@module_call.judge
def judge_module_call(observation: dict[str, Any]) -> None:
    expect_each(observation, CALL_CHECKS)


@probe("4.2", "a registered name given something else (None) is no longer registered")
def module_unregister(student: Any) -> dict[str, Any]:
    nn = fresh(student)
    Tensor = student.core.Tensor

    class Inner(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.gain = nn.Parameter(Tensor(normal(6, (2,))))

        def forward(self, x: Any) -> Any:
            return x

    class Box(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.weight = nn.Parameter(Tensor(normal(3, (2,))))
            self.bias = nn.Parameter(Tensor(normal(4, (2,))))
            self.inner = Inner()
            self.helper = Inner()

        def forward(self, x: Any) -> Any:
            return x

    box = Box()
    weight = box.weight
    box.bias = None  # as a Linear(..., bias=False) might do after all
    box.helper = None
    try:
        listed = list(box.parameters())
        children = list(box.modules())
    except RecursionError:
        return {"recursion": True, "lists_itself": lists_itself(getattr(student, MODULE))}
    return {
        "parameters": len(listed),
        "weight": sum(p is weight for p in listed),
        "inner": sum(p is box.inner.gain for p in listed),
        "children": len(children),
        "inner_child": sum(child is box.inner for child in children),
        "reads": [box.bias is None, box.helper is None],
    }


STALE = (
    "a module with Parameters weight and bias and child Modules inner and helper, after `box.bias = None` and "
    "`box.helper = None`: box.parameters() lists {parameters} parameter(s) (expected 2: weight and inner.gain) "
    "and box.modules() {children} child(ren) (expected 1: inner). A name that held a Parameter or a Module "
    "and is given something else is no longer registered: remove it from its registry in __setattr__."
)
STILL_THERE = "after `box.bias = None` and `box.helper = None`, box.parameters() should still list weight and inner.gain, and box.modules() inner."
UNREGISTER_CHECKS = [
    Check(
        "reads",
        [True, True],
        "after `box.bias = None` and `box.helper = None`, the attributes do not read back as None.",
    ),
    Check("parameters", 2, STALE, "a stale registration"),
    Check("children", 1, STALE, "a stale registration"),
    Check("weight", 1, STILL_THERE),
    Check("inner", 1, STILL_THERE),
    Check("inner_child", 1, STILL_THERE),
]


@module_unregister.judge
def judge_module_unregister(observation: dict[str, Any]) -> None:
    expect_module_works(observation, "parameters()")
    expect_each(observation, UNREGISTER_CHECKS)


# 4.3 Linear --------------------------------------------------------------------

# Promises of Linear's docstring, and the cases that check them:
# - weight is a Parameter of shape (out_features, in_features):
#   "Linear(9, 300): Parameters of the right shapes, uniform in +-1/sqrt(in_features)",
#   "Linear(4, 3) forward and its gradients for x, weight and bias"
# - bias is a Parameter of shape (out_features,):
#   "Linear(9, 300): Parameters of the right shapes, uniform in +-1/sqrt(in_features)"
# - bias is None when bias=False: "Linear(4, 3, bias=False) has only a weight"
# - both start uniform in [-1/sqrt(in_features), 1/sqrt(in_features)] (finite: NaN or inf is named):
#   "Linear(9, 300): Parameters of the right shapes, uniform in +-1/sqrt(in_features)"
# - forward: out = x @ weight.T + bias, of shape (batch, out_features):
#   "Linear(4, 3) forward and its gradients for x, weight and bias", "Linear(4, 3, bias=False) has only a weight"
# - built from Tensor operations, so gradients reach x, weight and bias:
#   "Linear(4, 3) forward and its gradients for x, weight and bias"

INIT_IN, INIT_OUT = 9, 300


@probe("4.3", "Linear(9, 300): Parameters of the right shapes, uniform in +-1/sqrt(in_features)")
def linear_init(student: Any) -> dict[str, Any]:
    nn = fresh(student)
    layer = nn.Linear(INIT_IN, INIT_OUT)
    listed = list(layer.parameters())
    return {
        "weight": returned(layer.weight),
        "bias": returned(layer.bias),
        "weight_is_parameter": isinstance(layer.weight, nn.Parameter),
        "bias_is_parameter": isinstance(layer.bias, nn.Parameter),
        "listed": len(listed),
        "listed_weight": sum(p is layer.weight for p in listed),
        "listed_bias": sum(p is layer.bias for p in listed),
    }


def check_uniform(observation: dict[str, Any], shape: tuple[int, ...], name: str) -> None:
    bound = 1 / np.sqrt(INIT_IN)
    if observation.get("type") == "NoneType":
        raise CaseFailure(f"Linear({INIT_IN}, {INIT_OUT}).{name} is None; it should be a Parameter of shape {shape}.")
    got_shape = tuple(observation.get("shape", ()))
    if got_shape != shape:
        hint = " It looks transposed: weight is (out_features, in_features)." if got_shape == shape[::-1] else ""
        raise CaseFailure(
            f"Linear({INIT_IN}, {INIT_OUT}).{name} has shape {got_shape}; it should be {shape}.{hint}",
            mistake="weight transposed" if hint else None,
        )
    values = np.asarray(observation["values"])
    where = f"Linear({INIT_IN}, {INIT_OUT}).{name}"
    # Every comparison with NaN is False: without this, NaN passes the bound checks below.
    expect_finite(values, where, f"Draw it uniform in +-1/sqrt(in_features) = +-{bound:.4g}.")
    largest, smallest = float(values.max()), float(values.min())
    if largest > bound * (1 + 1e-5) or smallest < -bound * (1 + 1e-5):
        raise CaseFailure(
            f"{where} has entries from {smallest:.4g} to {largest:.4g}, outside +-1/sqrt(in_features) = +-{bound:.4g}. "
            "Draw it uniform in [-1/sqrt(in_features), 1/sqrt(in_features)].",
            mistake="wrong bound",
        )
    if not np.any(values):
        raise CaseFailure(
            f"{where} is all zeros; it should start uniform in +-1/sqrt(in_features) = +-{bound:.4g}, like PyTorch's.",
            mistake="kept at zero",
        )
    if largest < 0.8 * bound or smallest > -0.8 * bound:
        raise CaseFailure(
            f"{where} has entries only from {smallest:.4g} to {largest:.4g}, but it should fill [-{bound:.4g}, {bound:.4g}], "
            f"that is +-1/sqrt(in_features) with in_features={INIT_IN}. Is the bound 1/in_features, or 1/sqrt(out_features), or one-sided?",
            mistake="wrong bound",
        )


LISTED_ONCE = "Linear(9, 300).parameters() should list weight and bias once each; it lists {listed} item(s)."
LINEAR_PARAMETERS = [
    Check("weight_is_parameter", True, "Linear's weight and bias should be Parameters."),
    Check("bias_is_parameter", True, "Linear's weight and bias should be Parameters."),
    Check("listed", 2, LISTED_ONCE),
    Check("listed_weight", 1, LISTED_ONCE),
    Check("listed_bias", 1, LISTED_ONCE),
]


@linear_init.judge
def judge_linear_init(observation: dict[str, Any]) -> None:
    check_uniform(observation["weight"], (INIT_OUT, INIT_IN), "weight")
    check_uniform(observation["bias"], (INIT_OUT,), "bias")
    expect_each(observation, LINEAR_PARAMETERS)


LINEAR_WEIGHT = normal(410, (3, 4))
LINEAR_BIAS = normal(411, (3,))
LINEAR_X = normal(412, (5, 4))
LINEAR_GRAD = normal(413, (5, 3))


def linear_forward(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None) -> np.ndarray:
    out = x @ weight.T
    return out if bias is None else out + bias


def run_linear(student: Any, bias: bool) -> dict[str, Any]:
    nn = fresh(student)
    layer = nn.Linear(4, 3, bias=bias) if not bias else nn.Linear(4, 3)
    shapes = {"weight": list(np.shape(layer.weight.array))}
    if bias:
        shapes["bias"] = list(np.shape(layer.bias.array))
    if shapes["weight"] != [3, 4] or (bias and shapes["bias"] != [3]):
        return {"shapes": shapes}
    layer.weight.array[...] = LINEAR_WEIGHT
    if bias:
        layer.bias.array[...] = LINEAR_BIAS
    x = tensor(student, LINEAR_X, requires_grad=True)
    out = layer(x)
    out.backward(LINEAR_GRAD.copy())
    return {
        "shapes": shapes,
        "out": returned(out),
        "weight_grad": grad_of(layer.weight),
        "bias_grad": grad_of(layer.bias) if bias else None,
        "x_grad": grad_of(x),
        "listed": len(list(layer.parameters())),
        "bias_attribute": None if bias else returned(getattr(layer, "bias", None)),
    }


def judge_linear(observation: dict[str, Any], bias: bool) -> None:
    made = "Linear(4, 3)" if bias else "Linear(4, 3, bias=False)"
    shapes = observation["shapes"]
    if shapes["weight"] != [3, 4]:
        hint = " It looks transposed: weight is (out_features, in_features)." if shapes["weight"] == [4, 3] else ""
        raise CaseFailure(
            f"{made}.weight has shape {tuple(shapes['weight'])}; it should be (3, 4).{hint}",
            mistake="weight transposed" if hint else None,
        )
    if bias and shapes["bias"] != [3]:
        raise CaseFailure(f"{made}.bias has shape {tuple(shapes['bias'])}; it should be (3,).")
    if not bias and observation["listed"] != 1:
        raise CaseFailure(
            f"{made}.parameters() lists {observation['listed']} parameters; with bias=False there is only the weight (set self.bias = None).",
            mistake="bias=False ignored",
        )
    arguments = [LINEAR_X, LINEAR_WEIGHT] + ([LINEAR_BIAS] if bias else [])
    what = f"{made}(x) with x of shape (5, 4)"
    out = tensor_values(
        observation["out"], what, ", computed with Tensor operations so that backprop can reach the weights."
    )
    mistakes = (
        {"when forward ignores the bias (forward is x @ weight.T + bias)": linear_forward(LINEAR_X, LINEAR_WEIGHT)}
        if bias
        else {}
    )
    expect_array(out, linear_forward(*arguments), what=what, mistakes=mistakes)
    for position, name in enumerate(["x", "weight", "bias"][: len(arguments)]):
        expected_grad = numerical_vjp(linear_forward, arguments, position, LINEAR_GRAD)
        expect_grad(observation[f"{name}_grad"], expected_grad, what=f"{name}.grad after {made}(x).backward(grad)")
    leftover = observation["bias_attribute"]
    if not bias and leftover is not None and leftover.get("type") != "NoneType":
        raise CaseFailure(
            f"{made}.bias is a {leftover.get('type')}; with bias=False it should be None (self.bias = None), and forward skips the addition.",
            mistake="bias=False ignored",
        )


@probe("4.3", "Linear(4, 3) forward and its gradients for x, weight and bias")
def linear_values(student: Any) -> dict[str, Any]:
    return run_linear(student, bias=True)


@linear_values.judge
def judge_linear_values(observation: dict[str, Any]) -> None:
    judge_linear(observation, bias=True)


@probe("4.3", "Linear(4, 3, bias=False) has only a weight")
def linear_no_bias(student: Any) -> dict[str, Any]:
    return run_linear(student, bias=False)


@linear_no_bias.judge
def judge_linear_no_bias(observation: dict[str, Any]) -> None:
    judge_linear(observation, bias=False)


# 4.4 ReLU and MLP ----------------------------------------------------------------

# Promises of ReLU and MLP's docstrings, and the cases that check them:
# - ReLU: forward(x) = max(x, 0) elementwise, shaped like x, with its gradient; no parameters:
#   "ReLU on a (3, 5) Tensor: values and gradient"
# - MLP: Linear(in, h1), ReLU, ..., Linear(hk, out), of those widths:
#   "MLP(5, [7, 6], 3): parameters, forward and gradients", "MLP(6, [8], 4): parameters, forward and gradients"
# - MLP: hidden_features is any sequence of widths (a tuple too): "MLP(4, (6, 5), 3): parameters, forward and gradients"
# - MLP: no ReLU after the last layer, the outputs are logits: "MLP(5, [7, 6], 3): parameters, forward and gradients",
#   "MLP(6, [8], 4): parameters, forward and gradients"
# - MLP: an empty hidden_features gives a single Linear: "MLP(3, [], 2): parameters, forward and gradients"
# - MLP: every layer registered, so parameters() finds its weights (2 Linear layers, 4 Parameters for one hidden layer):
#   "MLP(6, [8], 4): parameters, forward and gradients", and all MLP cases
# - MLP: forward maps (batch, in_features) to logits (batch, out_features), with gradients; initial weights finite (NaN
#   or inf is named): all MLP cases

# Away from 0, where relu has no derivative.
RELU_X = normal(420, (3, 5))
RELU_X = float32(np.where(np.abs(RELU_X) < 0.1, RELU_X + 0.3, RELU_X))
RELU_GRAD = normal(421, (3, 5))


def make_relu(student: Any) -> Any:
    nn = fresh(student)
    try:
        return nn.ReLU()
    except NotImplementedError:
        # Module is not written yet. If ReLU.forward is not written either,
        # let its own stub speak (4.4 is simply not started); otherwise say
        # that Module is missing.
        try:
            nn.ReLU.forward(object.__new__(nn.ReLU), tensor(student, RELU_X))
        except NotImplementedError:
            raise
        except Exception:
            pass
        raise


@probe("4.4", "ReLU on a (3, 5) Tensor: values and gradient")
def relu_values(student: Any) -> dict[str, Any]:
    layer = make_relu(student)
    x = tensor(student, RELU_X, requires_grad=True)
    out = layer(x)
    out.backward(RELU_GRAD.copy())
    return {"out": returned(out), "x_grad": grad_of(x), "parameters": len(list(layer.parameters()))}


@relu_values.judge
def judge_relu_values(observation: dict[str, Any]) -> None:
    out = tensor_values(observation["out"], "ReLU()(x)", " (use the relu Tensor operation).")
    expect_array(out, np.maximum(RELU_X, 0), what="ReLU()(x) with x of shape (3, 5)")
    expect_grad(
        observation["x_grad"],
        numerical_vjp(lambda x: np.maximum(x, 0), [RELU_X], 0, RELU_GRAD),
        what="x.grad after ReLU()(x).backward(grad)",
    )
    expect_each(
        observation, [Check("parameters", 0, "ReLU().parameters() lists {parameters} parameters; ReLU has none.")]
    )


def mlp_forward(x: np.ndarray, *layers: np.ndarray, final_relu: bool = False, relus: bool = True) -> np.ndarray:
    """layers = (w1, b1, w2, b2, ...) in float64."""
    pairs = list(zip(layers[0::2], layers[1::2]))
    for index, (weight, bias) in enumerate(pairs):
        x = x @ weight.T + bias
        last = index == len(pairs) - 1
        if (relus and not last) or (last and final_relu):
            x = np.maximum(x, 0)
    return x


def near_a_kink(x: np.ndarray, layers: list[np.ndarray], margin: float = 1e-4) -> bool:
    """Whether a hidden pre-activation is so close to 0 that rounding decides the ReLU's side."""
    pairs = list(zip(layers[0::2], layers[1::2]))
    for weight, bias in pairs[:-1]:
        x = x @ weight.T + bias
        if np.any(np.abs(x) < margin):
            return True
        x = np.maximum(x, 0)
    return False


def mlp_case(
    seed: int, in_features: int, hidden: list[int], out_features: int, batch: int, as_tuple: bool = False
) -> None:
    """An MLP's parameters, forward and gradients; as_tuple passes hidden_features as a tuple (any sequence will do)."""
    x = normal(seed, (batch, in_features))
    grad = normal(seed + 1, (batch, out_features))
    widths = [in_features, *hidden, out_features]
    expected_shapes = []
    for fan_in, fan_out in zip(widths[:-1], widths[1:]):
        expected_shapes += [(fan_out, fan_in), (fan_out,)]
    made = f"MLP({in_features}, {tuple(hidden) if as_tuple else hidden}, {out_features})"

    @probe("4.4", f"{made}: parameters, forward and gradients")
    def case(student: Any) -> dict[str, Any]:
        nn = fresh(student)
        np.random.seed(seed)
        model = nn.MLP(in_features, tuple(hidden) if as_tuple else list(hidden), out_features)
        parameters = list(model.parameters())
        observation: dict[str, Any] = {"shapes": [list(np.shape(p.array)) for p in parameters]}
        if sorted(map(tuple, observation["shapes"])) != sorted(expected_shapes):
            return observation
        x_tensor = tensor(student, x, requires_grad=True)
        out = model(x_tensor)
        out.backward(grad.copy())
        observation.update(
            {
                "values": [returned(p.array) for p in parameters],
                "grads": [grad_of(p) for p in parameters],
                "out": returned(out),
                "x_grad": grad_of(x_tensor),
            }
        )
        return observation

    @case.judge
    def judge_mlp(observation: dict[str, Any]) -> None:
        shapes = [tuple(shape) for shape in observation["shapes"]]
        if sorted(shapes) != sorted(expected_shapes):
            if not shapes:
                raise CaseFailure(
                    f"{made}.parameters() is empty. Are the layers only in a plain Python list? "
                    "Assign each layer as an attribute (setattr(self, f'layer{i}', layer)) so that Module registers it.",
                    mistake="layers in a plain list",
                )
            raise CaseFailure(
                f"{made}.parameters() gives parameters of shapes {shapes}; expected (in any order) {expected_shapes}: "
                f"{len(widths) - 1} Linear layer(s) of widths {widths}, each registered once."
            )
        by_shape = {shape: index for index, shape in enumerate(shapes)}
        order = [by_shape[shape] for shape in expected_shapes]
        layers = [np.asarray(observation["values"][index]["values"]) for index in order]
        for position, values in enumerate(layers):
            expect_finite(
                values,
                f"{made}'s initial parameter of shape {expected_shapes[position]}",
                "Each Linear starts uniform in +-1/sqrt(in_features).",
            )
        what = f"{made}(x) with x of shape {x.shape}"
        mistakes = {
            "with a ReLU after the last layer. The last Linear's outputs are logits: they must be allowed to be negative": lambda: (
                mlp_forward(x, *layers, final_relu=True)
            ),
        }
        if len(widths) > 2:
            mistakes["with no ReLU between the Linear layers: put one after every Linear but the last"] = lambda: (
                mlp_forward(x, *layers, relus=False)
            )
        expect_array(as_array(observation["out"]), mlp_forward(x, *layers), what=what, mistakes=mistakes)
        if near_a_kink(x, layers):
            return  # float32 and float64 may fall on two sides of a ReLU: the gradient is not comparable
        arguments = [x, *layers]
        expect_grad(
            observation["x_grad"],
            numerical_vjp(mlp_forward, arguments, 0, grad),
            what=f"x.grad after {what}.backward(grad)",
        )
        for position, index in enumerate(order):
            expected_grad = numerical_vjp(mlp_forward, arguments, position + 1, grad)
            expect_grad(
                observation["grads"][index],
                expected_grad,
                what=f"the grad of {made}'s parameter of shape {expected_shapes[position]}",
            )


mlp_case(430, 5, [7, 6], 3, batch=4)
mlp_case(440, 6, [8], 4, batch=3)
mlp_case(445, 4, [6, 5], 3, batch=2, as_tuple=True)
mlp_case(450, 3, [], 2, batch=5)


# 4.5 cross_entropy -----------------------------------------------------------------

# Promises of cross_entropy's docstring, and the cases that check them:
# - one loss per example, shape (batch,), no average; loss = log(sum_j exp(z_j)) - z_y:
#   "cross_entropy on logits of shape (6, 4)", "cross_entropy on one example of 3 classes"
# - true_labels is a Tensor of integer class indices: all cases (labels passed as a Tensor of int64)
# - finite and right for huge logits (1e4), each row shifted by its own max:
#   "cross_entropy on huge logits (around +-1e4) of shape (4, 5)"
# - the shift may be a constant Tensor, no gradient through it needed: "cross_entropy on logits of shape (6, 4)"
#   (gradient compared with softmax - one_hot)
# - built from Tensor operations, so that backprop reaches the logits: "cross_entropy on logits of shape (6, 4)",
#   "cross_entropy on one example of 3 classes"
# - the caller's logits are not changed: all cases (the logits compared before and after)


def cross_entropy_reference(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per-example losses in float64, stably: logsumexp(z) - z_y."""
    z = np.asarray(logits, dtype=np.float64)
    shifted = z - z.max(axis=1, keepdims=True)
    log_sum_exp = np.log(np.exp(shifted).sum(axis=1))
    return log_sum_exp - shifted[np.arange(len(labels)), labels]


def cross_entropy_gradient(logits: np.ndarray, labels: np.ndarray, grad: np.ndarray) -> np.ndarray:
    """d/d(logits) of sum(losses * grad): (softmax - one_hot) * grad per row."""
    z = np.asarray(logits, dtype=np.float64)
    shifted = z - z.max(axis=1, keepdims=True)
    softmax = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    one_hot = np.zeros_like(softmax)
    one_hot[np.arange(len(labels)), labels] = 1.0
    return (softmax - one_hot) * np.asarray(grad, dtype=np.float64)[:, None]


FAR_BELOW_ROW = 1  # the row of huge_logits() whose true class (1) is 2e4 below its max: its softmax underflows to 0


def huge_logits() -> np.ndarray:
    generator = rng(460)
    rows = [
        1e4 + generator.normal(scale=3.0, size=5),  # all huge: exp overflows without a shift
        [1e4, -1e4, 0.0, 5.0, 1e4 - 2.0],  # the true class far below the max (row FAR_BELOW_ROW): loss 2e4
        [0.0, 1.0, 2.0, -1.0, 0.5],  # small, beside huge rows: a global shift underflows here
        -1e4 + generator.normal(scale=3.0, size=5),  # all hugely negative
    ]
    return float32(rows)


CROSS_ENTROPY_CASES = [
    # (label, logits, labels, numerical check of the gradient)
    ("logits of shape (6, 4)", normal(470, (6, 4), scale=2.0), np.array([0, 3, 3, 1, 2, 0]), True),
    ("one example of 3 classes", normal(471, (1, 3)), np.array([2]), True),
    ("huge logits (around +-1e4) of shape (4, 5)", huge_logits(), np.array([1, 1, 4, 2]), False),
]


def cross_entropy_case(label: str, logits: np.ndarray, labels: np.ndarray, numerical: bool) -> None:
    grad = normal(480 + len(labels), (len(labels),))
    huge = not numerical

    @probe("4.5", f"cross_entropy on {label}")
    def case(student: Any) -> dict[str, Any]:
        nn = fresh(student)
        logits_tensor = tensor(student, logits, requires_grad=True)
        loss = nn.cross_entropy(logits_tensor, student.core.Tensor(labels.copy()))
        observation = {"loss": returned(loss), "changed": not np.array_equal(logits_tensor.array, logits)}
        if hasattr(loss, "backward") and np.shape(getattr(loss, "array", None)) == labels.shape:
            loss.backward(grad.copy())
            observation["grad"] = grad_of(logits_tensor)
        return observation

    @case.judge
    def judge_cross_entropy(observation: dict[str, Any]) -> None:
        what = f"cross_entropy(logits, true_labels) with logits of shape {logits.shape}"
        expect_each(
            observation,
            [
                Check(
                    "changed",
                    False,
                    "{what} changed the logits in place. Compute a new Tensor (logits - row_max), never modify the caller's data.",
                    "logits changed in place",
                ),
            ],
            what=what,
        )
        is_tensor = observation["loss"].get("kind") == "tensor"
        loss = tensor_values(
            observation["loss"], what, " built with Tensor operations, so that backprop reaches the logits."
        )
        got_shape = tuple(loss.get("shape", ()))
        batch = len(labels)
        if is_tensor and got_shape != (batch,):
            # The shapes of known mistakes: (message, mistake). With one example, (1, 1) could be anything.
            known_shapes = {
                (): (
                    f"{what} returned a single number; it should return one loss per example, shape ({batch},). "
                    "Do not average or sum: the training loop does that.",
                    "a mean of the losses",
                ),
            }
            if batch > 1:
                known_shapes[(batch, batch)] = (
                    f"{what} has shape {got_shape}, not ({batch},): logits[:, labels] picks every label for every row. "
                    "Index with (np.arange(batch), labels).",
                    "logits[:, labels]",
                )
            otherwise = (f"{what} has shape {got_shape}; it should have shape ({batch},), one loss per example.", None)
            message, mistake = known_shapes.get(got_shape, otherwise)
            raise CaseFailure(message, mistake=mistake)
        expected = cross_entropy_reference(logits, labels)
        got = np.asarray(loss.get("values", np.nan), dtype=np.float64)
        if huge and got.shape == expected.shape and not np.all(np.isfinite(got)):
            rows = [int(row) for row in np.flatnonzero(~np.isfinite(got))]
            if rows == [FAR_BELOW_ROW]:
                raise CaseFailure(
                    f"{what}: the loss of row {FAR_BELOW_ROW} is {got[FAR_BELOW_ROW]} instead of {expected[FAR_BELOW_ROW]:.4f}. "
                    "Its true class is 2e4 below the row's max, so its softmax underflows to exactly 0, and log(0) is -inf: "
                    "taking log(softmax) loses it even after the shift. Compute log(sum(exp(shifted))) - shifted[y] "
                    "(log-sum-exp minus the true logit), which never takes the log of a tiny number.",
                    mistake="log of the softmax",
                )
            raise CaseFailure(
                f"{what}: the losses of rows {rows} are {got[~np.isfinite(got)].tolist()} instead of finite numbers "
                f"(expected {expected[~np.isfinite(got)].round(4).tolist()}). exp overflows (or underflows to log(0)) without a shift: "
                "subtract each row's own max from that row before exp (not one max for the whole batch).",
                mistake="unstable softmax",
            )
        # Near 1e4 float32 keeps about 3 decimals: allow for that, no more.
        tolerances = {"atol": 4e-3 / max(1.0, float(np.abs(expected).max()))} if huge else {}
        expect_array(loss, expected, what=what, **tolerances)
        if "grad" in observation:
            one_hot = np.eye(logits.shape[1])[labels]
            expect_grad(
                observation["grad"],
                cross_entropy_gradient(logits, labels, grad),
                what=f"logits.grad after {what}.backward(grad)",
                mistakes={
                    "when only -z_y reaches the logits: log(sum(exp(z))) was computed in NumPy and wrapped in a new Tensor, "
                    "so backprop cannot reach it (the log-sum-exp part must be Tensor operations too)": -one_hot
                    * grad[:, None],
                },
            )
            if numerical:
                # The analytic gradient is the oracle's shortcut; confirm it numerically too.
                numeric = numerical_vjp(lambda z: cross_entropy_reference(z, labels), [logits], 0, grad)
                assert np.allclose(numeric, cross_entropy_gradient(logits, labels, grad), atol=1e-6)


for label, logits, labels, numerical in CROSS_ENTROPY_CASES:
    cross_entropy_case(label, logits, labels, numerical)


# 4.6 NoGrad --------------------------------------------------------------------

# Promises of NoGrad's docstring, and the cases that check them:
# - inside the block no operation records a graph (no requires_grad, no recipe):
#   "operations inside NoGrad record nothing; after it, they do again"
# - on entry core.grad_tracking_enabled is False (on the core module):
#   "operations inside NoGrad record nothing; after it, they do again", "nested NoGrad blocks"
# - on exit the value it had on entry comes back: "operations inside NoGrad record nothing; after it, they do again",
#   "NoGrad entered while tracking is already off leaves it off"
# - blocks nest: "nested NoGrad blocks"
# - restored even when an exception leaves the block, and the exception is not swallowed:
#   "an exception inside NoGrad: tracking restored, the exception not swallowed"
# - what `with NoGrad() as x` binds is free (the docstring promises nothing): no case may depend on it


NOGRAD_X = normal(490, (2, 3))


@probe("4.6", "operations inside NoGrad record nothing; after it, they do again")
def nograd_ops(student: Any) -> dict[str, Any]:
    nn = fresh(student)
    core = student.core
    x = tensor(student, NOGRAD_X, requires_grad=True)
    with nn.NoGrad():
        inside_flag = core.grad_tracking_enabled
        inside = x * 2.0
    after_flag = core.grad_tracking_enabled
    after = x * 2.0
    core.grad_tracking_enabled = True
    return {
        "inside_flag": inside_flag,
        "inside_requires_grad": bool(inside.requires_grad),
        "inside_recipe": inside.recipe is not None,
        "after_flag": after_flag,
        "after_requires_grad": after.requires_grad,
    }


STILL_RECORDED = (
    "inside `with NoGrad():`, x * 2.0 still requires grad or has a recipe. "
    "Does wrap_forward_fn read core.grad_tracking_enabled each time it is called?"
)
NOGRAD_OPS_CHECKS = [
    Check(
        "inside_flag",
        False,
        "inside `with NoGrad():`, core.grad_tracking_enabled is {inside_flag!r}; it should be False. "
        "Assign it on the core module (core.grad_tracking_enabled = False): "
        "`global grad_tracking_enabled` in part4_nn.py makes a different variable.",
        "a global of part4_nn.py",
    ),
    Check("inside_requires_grad", False, STILL_RECORDED),
    Check("inside_recipe", False, STILL_RECORDED),
    Check(
        "after_flag",
        True,
        "after `with NoGrad():` ends, core.grad_tracking_enabled is {after_flag!r}; it should be True again, as it was before.",
    ),
    Check(
        "after_requires_grad",
        True,
        "after `with NoGrad():` ends, x * 2.0 no longer requires grad: tracking was not switched back on.",
    ),
]


@nograd_ops.judge
def judge_nograd_ops(observation: dict[str, Any]) -> None:
    expect_each(observation, NOGRAD_OPS_CHECKS)


@probe("4.6", "nested NoGrad blocks")
def nograd_nested(student: Any) -> dict[str, Any]:
    nn = fresh(student)
    core = student.core
    with nn.NoGrad():
        with nn.NoGrad():
            innermost = core.grad_tracking_enabled
        between = core.grad_tracking_enabled
    after = core.grad_tracking_enabled
    core.grad_tracking_enabled = True
    return {"innermost": innermost, "between": between, "after": after}


NESTED_NOGRAD_CHECKS = [
    Check(
        "innermost",
        False,
        "inside two nested NoGrad blocks, core.grad_tracking_enabled is {innermost!r}; it should be False.",
    ),
    Check(
        "between",
        False,
        "after an inner `with NoGrad():` ends inside an outer one, core.grad_tracking_enabled is "
        "{between!r}: it should still be False. On exit, restore the value it had on entry, not True.",
        "True restored, not the value on entry",
    ),
    Check(
        "after",
        True,
        "after the outer NoGrad block ends, core.grad_tracking_enabled is {after!r}; it should be True again, "
        "as it was when the outer block was entered. Does each block keep its own saved value (on self)? A saved value "
        "shared by all blocks (a class attribute or a global) is overwritten by the inner block's __enter__: nested blocks "
        "need one each, or a stack.",
        "one saved value shared by all blocks",
    ),
]


@nograd_nested.judge
def judge_nograd_nested(observation: dict[str, Any]) -> None:
    expect_each(observation, NESTED_NOGRAD_CHECKS)


@probe("4.6", "NoGrad entered while tracking is already off leaves it off")
def nograd_already_off(student: Any) -> dict[str, Any]:
    nn = fresh(student)
    core = student.core
    core.grad_tracking_enabled = False
    try:
        with nn.NoGrad():
            inside = core.grad_tracking_enabled
        after = core.grad_tracking_enabled
    finally:
        core.grad_tracking_enabled = True
    return {"inside": inside, "after": after}


@nograd_already_off.judge
def judge_nograd_already_off(observation: dict[str, Any]) -> None:
    expect_each(
        observation,
        [
            Check("inside", False, "inside NoGrad, core.grad_tracking_enabled should be False."),
            Check(
                "after",
                False,
                "with core.grad_tracking_enabled already False, a NoGrad block turned it on when it ended. "
                "On exit, put back the value it had on entry (remember it in __enter__), not True.",
                "True restored, not the value on entry",
            ),
        ],
    )


class _Planted(Exception):
    """The checker's own exception, raised inside a NoGrad block."""


@probe("4.6", "an exception inside NoGrad: tracking restored, the exception not swallowed")
def nograd_exception(student: Any) -> dict[str, Any]:
    nn = fresh(student)
    core = student.core
    propagated = False
    try:
        with nn.NoGrad():
            raise _Planted("raised inside the block")
    except _Planted:
        propagated = True
    after = core.grad_tracking_enabled
    core.grad_tracking_enabled = True
    return {"propagated": propagated, "after": after}


@nograd_exception.judge
def judge_nograd_exception(observation: dict[str, Any]) -> None:
    expect_each(
        observation,
        [
            Check(
                "after",
                True,
                "when an exception leaves a `with NoGrad():` block, core.grad_tracking_enabled stays "
                "{after!r}: restore it in __exit__, which runs even then (or use try/finally).",
                "not restored after an exception",
            ),
            Check(
                "propagated",
                True,
                "an exception raised inside `with NoGrad():` was swallowed: __exit__ must return None (or False) so that it carries on.",
                "the exception swallowed",
            ),
        ],
    )


# 4.7 SGD -----------------------------------------------------------------------

# Promises of SGD's docstrings, and the cases that check them:
# - params may be any iterable, a generator included, read once:
#   "SGD given a generator of parameters, momentum 0.5, 3 steps",
#   "SGD(params, lr=0.1) with the defaults: no momentum, no weight decay" (a tuple)
# - lr > 0, momentum in [0, 1), weight_decay >= 0, floats: a promise to SGD, not by it; all cases stay inside this range
# - left out, momentum and weight_decay are 0.0 (plain gradient descent):
#   "SGD(params, lr=0.1) with the defaults: no momentum, no weight decay"
# - SGD.step: parameters whose grad is None are skipped: "SGD skips a parameter whose grad is None"
# - SGD.step: g = g + weight_decay * p, weight decay first: "SGD with weight decay 0.1, 3 steps",
#   "SGD with weight decay 1.0, 2 steps", "SGD with momentum 0.9 and weight decay 0.1, 5 steps"
# - SGD.step: b = momentum * b + g, b = g the first time, each p its own b: "SGD with momentum 0.9, 4 steps",
#   "SGD with momentum 0.9 and weight decay 0.1, 5 steps"
# - SGD.step: p = p - lr * g: "SGD(lr=0.1), 3 steps", and all cases
# - SGD.step: p.array is updated, never p.grad, which is the caller's (a buffer must not alias it):
#   "SGD with momentum 0.9 while gradients accumulate in place"; all cases compare the grads after each step
# - SGD.step: nothing is recorded for backprop: all cases (the parameters stay leaves that require grad)
# - SGD.zero_grad: clears every gradient, to None or zeros (never NaN, never the old values): all cases (
#   "SGD with momentum 0.9 while gradients accumulate in place" calls it only before the first step)

SGD_SHAPES = [(3, 4), (5,), (3, 4)]  # two of one shape: a shared momentum buffer does not crash, it is just wrong


class SGDSettings(NamedTuple):
    lr: float
    momentum: float = 0.0
    weight_decay: float = 0.0


# A step of one parameter: (p, its grad, its momentum buffer or None at first, settings) -> (new p, new buffer).
Step = Callable[[np.ndarray, np.ndarray, Any, SGDSettings], tuple[np.ndarray, Any]]


def sgd_step(p: np.ndarray, grad: np.ndarray, buffer: Any, s: SGDSettings) -> tuple[np.ndarray, Any]:
    """PyTorch's SGD step, in float64."""
    g = grad + s.weight_decay * p
    if s.momentum:
        buffer = g if buffer is None else s.momentum * buffer + g
        g = buffer
    return p - s.lr * g, buffer


PYTORCH_STEP = "PyTorch's step: g = grad + weight_decay * p; b = momentum * b + g (b = g at first); p -= lr * b."


def sgd_trajectory(
    initial: list[np.ndarray],
    grads: list[list[np.ndarray | None]],
    settings: SGDSettings,
    step: Step = sgd_step,
    shared_buffer: bool = False,
) -> list[list[np.ndarray]]:
    """The parameters after each step; a parameter whose grad is None is skipped.

    shared_buffer: one momentum buffer for all the parameters (a mistake); a
    parameter of another shape than the buffer's starts it again.
    """
    params = [np.asarray(p, dtype=np.float64) for p in initial]
    buffers: dict[int, np.ndarray | None] = {}
    history = []
    for step_grads in grads:
        for index, grad in enumerate(step_grads):
            if grad is None:
                continue
            slot = 0 if shared_buffer else index
            buffer = buffers.get(slot)
            if buffer is not None and buffer.shape != params[index].shape:
                buffer = None
            params[index], buffers[slot] = step(params[index], np.asarray(grad, dtype=np.float64), buffer, settings)
        history.append(list(params))
    return history


# Wrong steps: the right one, with a piece out of place.


def decay_after_momentum(p: np.ndarray, grad: np.ndarray, buffer: Any, s: SGDSettings) -> tuple[np.ndarray, Any]:
    moved, buffer = sgd_step(p, grad, buffer, s._replace(weight_decay=0.0))
    return moved - s.lr * s.weight_decay * p, buffer


def dampened(p: np.ndarray, grad: np.ndarray, buffer: Any, s: SGDSettings) -> tuple[np.ndarray, Any]:
    g = grad + s.weight_decay * p
    if s.momentum:
        buffer = g if buffer is None else s.momentum * buffer + (1 - s.momentum) * g
        g = buffer
    return p - s.lr * g, buffer


def first_step_doubled(p: np.ndarray, grad: np.ndarray, buffer: Any, s: SGDSettings) -> tuple[np.ndarray, Any]:
    if buffer is None:  # b = momentum * g + g at the first step, as if b = g were there already
        buffer = grad + s.weight_decay * p
    return sgd_step(p, grad, buffer, s)


def with_settings(change: Callable[[SGDSettings], SGDSettings]) -> Step:
    """The right step, taken with wrong settings."""
    return lambda p, grad, buffer, s: sgd_step(p, grad, buffer, change(s))


class WrongSGD(NamedTuple):
    description: str  # completes "it matches ..."
    step: Step
    shared_buffer: bool = False


# Known mistakes, by short name; tried in this order.
SGD_MISTAKES = {
    "decay after momentum": WrongSGD(
        "weight decay added after the momentum buffer (it goes into g first)", decay_after_momentum
    ),
    "one shared momentum buffer": WrongSGD(
        "one momentum buffer shared by all the parameters (each needs its own)", sgd_step, shared_buffer=True
    ),
    "dampened momentum": WrongSGD(
        "a dampened buffer b = momentum * b + (1 - momentum) * g (PyTorch adds g itself)", dampened
    ),
    "uphill step": WrongSGD("p + lr * g: the step goes uphill", with_settings(lambda s: s._replace(lr=-s.lr))),
    "weight decay sign": WrongSGD(
        "g = grad - weight_decay * p: the weight decay has the wrong sign (it pulls p towards 0 with +)",
        with_settings(lambda s: s._replace(weight_decay=-s.weight_decay)),
    ),
    "first step doubled": WrongSGD(
        "a first step with b = momentum * g + g: at the first step b = g, and only later b = momentum * b + g "
        "(is an else missing after the first-step branch?)",
        first_step_doubled,
    ),
    # b = g at every step: the same as no momentum at all.
    "momentum never builds up": WrongSGD(
        "momentum that never builds up (b = g at every step), as if momentum were left out. Is momentum used at all "
        "(b = momentum * b + g)? Or is the buffer p.grad's own array, which zero_grad or backprop then resets? "
        "Make it a copy at the first step",
        with_settings(lambda s: s._replace(momentum=0.0)),
    ),
    "weight decay left out": WrongSGD(
        "weight decay left out: the step ignores weight_decay (g = grad + weight_decay * p before anything else)",
        with_settings(lambda s: s._replace(weight_decay=0.0)),
    ),
}


def sgd_mistake(
    got: np.ndarray, step: int, index: int, initial: list[np.ndarray], grads: list[list[Any]], settings: SGDSettings
) -> Any:
    """The short name of the first known mistake whose trajectory gives parameter `index` this value after `step` (or None)."""
    for name, wrong in SGD_MISTAKES.items():
        trajectory = sgd_trajectory(initial, grads, settings, wrong.step, wrong.shared_buffer)
        if values_match(got, trajectory[step - 1][index]):
            return name
    return None


def sgd_case(
    name: str,
    seed: int,
    steps: int,
    *,
    lr: float,
    momentum: float = 0.0,
    weight_decay: float = 0.0,
    generator: bool = False,
    missing_grad: int | None = None,
    defaults: bool = False,
    accumulate_in_place: bool = False,
) -> None:
    """A probe that runs the student's SGD for `steps` steps on three parameters, and its judge.

    defaults:            call SGD(a tuple of the parameters, lr=lr), leaving
                         momentum and weight_decay to their defaults (0.0).
    accumulate_in_place: call zero_grad only before the first step; later
                         gradients are added into p.grad.array in place, as
                         gradient accumulation does, so p.grad keeps one
                         array that changes (a momentum buffer aliasing it
                         goes wrong).
    """
    assert not (defaults and (momentum or weight_decay)), "defaults means momentum=0 and weight_decay=0"
    initial = [normal(seed + index, shape) for index, shape in enumerate(SGD_SHAPES)]
    grads = [
        [
            None if index == missing_grad else normal(seed + 100 * (step + 1) + index, shape)
            for index, shape in enumerate(SGD_SHAPES)
        ]
        for step in range(steps)
    ]
    settings = SGDSettings(lr, momentum, weight_decay)
    settings_text = (
        f"lr={lr}"
        + (f", momentum={momentum}" if momentum else "")
        + (f", weight_decay={weight_decay}" if weight_decay else "")
    )
    # What p.grad holds at each step: with accumulation, the sum of the gradients so far.
    held = grads
    if accumulate_in_place:
        held = [
            [
                None if grad is None else float32(np.sum([g[index] for g in grads[: step + 1]], axis=0))
                for index, grad in enumerate(step_grads)
            ]
            for step, step_grads in enumerate(grads)
        ]

    @probe("4.7", name)
    def case(student: Any) -> dict[str, Any]:
        nn = fresh(student)
        try:
            nn.SGD([], lr=lr)  # an unwritten SGD says so before anything else
        except NotImplementedError:
            raise
        except Exception:
            pass  # refusing an empty list, as PyTorch does, is fine
        params = [nn.Parameter(student.core.Tensor(values.copy())) for values in initial]
        source = (param for param in params) if generator else params
        if defaults:
            optimiser = nn.SGD(tuple(params), lr=lr)
        else:
            optimiser = nn.SGD(source, lr=lr, momentum=momentum, weight_decay=weight_decay)
        history, grads_after, zeroed, none_at_step = [], [], [], []
        for step, step_grads in enumerate(grads):
            if accumulate_in_place and step > 0:
                zeroed.append(None)
            else:
                optimiser.zero_grad()
                zeroed.append([returned(param.grad) for param in params])
            for param, grad in zip(params, step_grads):
                if grad is None:
                    continue
                # As backprop does: set the grad, or add to the one there.
                if param.grad is None:
                    param.grad = student.core.Tensor(grad.copy())
                elif accumulate_in_place:
                    param.grad.array += grad
                else:
                    param.grad.array = param.grad.array + grad
            none_at_step.append([param.grad is None for param in params])
            optimiser.step()
            history.append([returned(param.array) for param in params])
            grads_after.append([returned(param.grad) for param in params])
        return {
            "history": history,
            "grads_after": grads_after,
            "zeroed": zeroed,
            "leaves": [param.recipe is None and param.requires_grad is True for param in params],
            "none_at_step": none_at_step,
        }

    made = f"SGD({'a generator of ' if generator else 'a tuple of ' if defaults else ''}3 parameters, {settings_text})"
    if accumulate_in_place:
        made += ", gradients accumulated in place (p.grad.array += g) with no zero_grad between steps,"

    @case.judge
    def judge_sgd_case(observation: dict[str, Any]) -> None:
        try:
            judge_sgd(observation)
        except CaseFailure as failure:
            if defaults:
                raise CaseFailure(
                    f"{failure} Called without momentum or weight_decay, SGD must do plain gradient descent: "
                    "their defaults are momentum=0.0 and weight_decay=0.0.",
                    mistake=failure.mistake,
                    size=failure.size,
                ) from None
            raise

    def judge_sgd(observation: dict[str, Any]) -> None:
        expect_some_parameter_changed(observation)
        expect_zeroed(observation)
        # A zero_grad that gives every parameter zeros (allowed) leaves the
        # parameter without a gradient holding zeros, not None: it is then
        # stepped like any other, with weight decay and momentum.
        effective = [
            [
                np.zeros(SGD_SHAPES[index], dtype=np.float32) if grad is None and not none_at_step[index] else grad
                for index, grad in enumerate(step_grads)
            ]
            for step_grads, none_at_step in zip(held, observation["none_at_step"])
        ]
        if accumulate_in_place:
            expect_grads_untouched(observation)  # a changed p.grad explains wrong steps here
        expected = sgd_trajectory(initial, effective, settings)
        for step, (got_params, want_params) in enumerate(zip(observation["history"], expected), start=1):
            for index, (got, want) in enumerate(zip(got_params, want_params)):
                expect_parameter(got, want, step, index, effective, observation["none_at_step"][step - 1][index])
        expect_grads_untouched(observation)
        expect_each(
            observation,
            [
                Check(
                    "leaves",
                    [True] * len(SGD_SHAPES),
                    "{made}: after the steps, a parameter has a recipe or no longer requires grad. "
                    "Update p.array in place (or assign a new array), without Tensor operations.",
                    "Tensor operations in step",
                ),
            ],
            made=made,
        )

    def expect_some_parameter_changed(observation: dict[str, Any]) -> None:
        first_step = [np.asarray(got.get("values", np.nan), dtype=np.float64) for got in observation["history"][0]]
        if all(got.shape == start.shape and np.array_equal(got, start) for got, start in zip(first_step, initial)):
            reason = (
                " Was the generator of parameters read twice? Keep a list of it, made once in __init__."
                if generator
                else ""
            )
            raise CaseFailure(
                f"{made}: step() changed no parameter.{reason}", mistake="a generator read twice" if generator else None
            )

    def expect_zeroed(observation: dict[str, Any]) -> None:
        for step, zeroed in enumerate(observation["zeroed"][1:], start=1):
            for index, grad in enumerate(zeroed or []):
                if grad.get("type") == "NoneType":
                    continue
                values = np.asarray(grad.get("values", np.nan), dtype=np.float64)
                expect_finite(
                    values,
                    f"{made}: after zero_grad() (before step {step + 1}), parameter {index}'s grad",
                    "zero_grad must set every p.grad to None (or to zeros: np.zeros, not np.empty, whose entries are whatever was in memory).",
                )
                if values.size and not np.all(values == 0):
                    raise CaseFailure(
                        f"{made}: after zero_grad() (before step {step + 1}), parameter {index}'s grad still holds "
                        "the old gradient. zero_grad must set every p.grad to None (or to zeros).",
                        mistake="zero_grad resets nothing",
                    )

    def expect_parameter(
        got: dict[str, Any], want: np.ndarray, step: int, index: int, effective: list[Any], had_no_grad: bool
    ) -> None:
        what = f"parameter {index} (shape {SGD_SHAPES[index]}) after step {step} of {made}"
        got_values = np.asarray(got.get("values", np.nan), dtype=np.float64)
        if got_values.shape == want.shape:
            if step == 1 and np.array_equal(got_values, initial[index]) and index != missing_grad:
                raise CaseFailure(f"{what} has not changed, though it has a gradient.")
            if not values_match(got_values, want):
                mistake = sgd_mistake(got_values, step, index, initial, effective, settings)
                if mistake is not None:
                    description = SGD_MISTAKES[mistake].description
                    raise CaseFailure(f"{what} is wrong: it matches {description}. {PYTORCH_STEP}", mistake=mistake)
                if index == missing_grad and had_no_grad:
                    raise CaseFailure(
                        f"{what} changed, but it never had a gradient (its grad is None): skip such parameters.",
                        mistake="a step without a gradient",
                    )
        expect_array(got, want, what=what)

    def expect_grads_untouched(observation: dict[str, Any]) -> None:
        for step, grads_after in enumerate(observation["grads_after"], start=1):
            for index, grad in enumerate(grads_after):
                want = held[step - 1][index]
                # p.grad must be left exactly as it was: a tighter tolerance than for computed values.
                if want is not None and not values_match(grad.get("values", np.nan), want, rtol=1e-6, atol=1e-7):
                    raise CaseFailure(
                        f"SGD(3 parameters, {settings_text}): step {step} changed parameter {index}'s grad. step must leave p.grad as it was; "
                        "if your momentum buffer is p.grad's own array, copy it first."
                    )


sgd_case("SGD(lr=0.1), 3 steps", 500, 3, lr=0.1)
sgd_case("SGD with momentum 0.9, 4 steps", 510, 4, lr=0.05, momentum=0.9)
sgd_case("SGD with weight decay 0.1, 3 steps", 520, 3, lr=0.1, weight_decay=0.1)
sgd_case("SGD with momentum 0.9 and weight decay 0.1, 5 steps", 530, 5, lr=0.05, momentum=0.9, weight_decay=0.1)
sgd_case("SGD given a generator of parameters, momentum 0.5, 3 steps", 540, 3, lr=0.1, momentum=0.5, generator=True)
sgd_case("SGD skips a parameter whose grad is None", 550, 3, lr=0.1, momentum=0.9, weight_decay=0.01, missing_grad=1)
sgd_case("SGD(params, lr=0.1) with the defaults: no momentum, no weight decay", 560, 3, lr=0.1, defaults=True)
sgd_case("SGD with weight decay 1.0, 2 steps", 580, 2, lr=0.05, weight_decay=1.0)
sgd_case(
    "SGD with momentum 0.9 while gradients accumulate in place", 570, 3, lr=0.05, momentum=0.9, accumulate_in_place=True
)
