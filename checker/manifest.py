"""The syllabus: every exercise, in course order, with its points and hints.

This is the one place that says what the course is. The checker, the report,
the hints and the kit's own tests all read it.

Hints are graduated: each is a question that gets a little closer to the
answer than the one before. `make hint EX=1.2` shows one more each time it
is asked.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

# Files of the exercise package that are given code, not exercises. They live
# once, in exercises/ (solutions/ finds them there); a submission that lacks
# them is graded with the kit's copy.
GIVEN_MODULES = ("core", "functional")

# The exercise files, in course order. An earlier file never imports a later one.
PART_MODULES = {
    "1": "part1_backward",
    "2": "part2_autograd",
    "3": "part3_ops",
    "4": "part4_nn",
    "5": "part5_training",
    "bonus": "bonus",
}

# What each part builds, and where its lesson is (relative to the kit's folder).
PART_TITLES = {
    "1": "backward functions by hand",
    "2": "automatic differentiation",
    "3": "more operations",
    "4": "neural networks",
    "5": "the capstone: training on digits",
    "bonus": "bonus (optional, scored apart)",
}


def lesson_of(part: str) -> str:
    """The lesson to read before a part's exercises: docs/course/part1.md, ..., docs/course/bonus.md."""
    return f"docs/course/{'bonus' if part == 'bonus' else 'part' + part}.md"


@dataclass(frozen=True)
class Exercise:
    id: str  # "1.2"; bonus exercises are "b.1", ...
    title: str
    part: str  # a key of PART_MODULES
    functions: tuple[str, ...]  # the curriculum names it grades (classes by class name)
    points: float
    requires: tuple[str, ...] = ()  # exercises whose code this one runs
    # Functions of earlier exercises that this one's suite puts known-good
    # versions in place of, so that it does not build on them (2.6 runs the
    # student's backprop on a known-good sort).
    stands_in_for: tuple[str, ...] = ()
    hints: tuple[str, ...] = ()
    timeout: float = 5.0  # seconds per test case
    file: str | None = None  # the module it lives in, when not its part's

    @property
    def module(self) -> str:
        return self.file or PART_MODULES[self.part]

    @property
    def bonus(self) -> bool:
        return self.part == "bonus"

    @property
    def label(self) -> str:
        return f"{self.id} {self.title}"

    @property
    def lesson(self) -> str:
        return lesson_of(self.part)


# The points of the main exercises add up to this (the bonus is scored apart).
MAIN_POINTS = 100

# The framework that Tensor operations run on: Parts 3 to 5 need all of it.
AUTOGRAD = ("2.1", "2.3", "2.4", "2.5", "2.6")

EXERCISES: tuple[Exercise, ...] = (
    # Part 1: backward functions by hand
    Exercise(
        "1.1",
        "log_back",
        "1",
        ("log_back",),
        2,
        hints=(
            "Look at sin_back above it: the same two steps work here. First, what is d(out)/dx for out = log(x)?",
            "The chain rule: dL/dx = dL/d(out) * d(out)/dx, entry by entry. dL/d(out) is grad_out; what is the other factor?",
            "d(log x)/dx = 1/x, so return grad_out / x (or grad_out * (1 / x)): elementwise, shaped like x.",
        ),
    ),
    Exercise(
        "1.2",
        "unbroadcast",
        "1",
        ("unbroadcast",),
        4,
        hints=(
            "When broadcasting copies an entry many times, what happens to the gradients of the copies? (The lesson's section on broadcasting draws it.)",
            "How many leading dims did broadcasting add? broadcasted.ndim - original.ndim of them: sum those away first.",
            "After that, which dims have size 1 in `original` but not in the gradient? Sum over them with keepdims=True.",
            "What should a 0-d original get back? Check the result's shape against original.shape.",
        ),
    ),
    Exercise(
        "1.3",
        "multiply_back",
        "1",
        ("multiply_back0", "multiply_back1"),
        3,
        requires=("1.2",),
        hints=(
            "Treat y as a constant: what is d(x*y)/dx for one entry? What do you multiply grad_out by?",
            "grad_out * y has the broadcast shape. Whose shape must the result have, and which function of 1.2 gets it there?",
            "dL/dx = unbroadcast(grad_out * y, x), and dL/dy = unbroadcast(grad_out * x, y).",
            "y may be a Python float: grad_out * y still works, but y.shape or y.ndim would not. Does your code use either?",
        ),
    ),
    Exercise(
        "1.4",
        "forward_and_back",
        "1",
        ("forward_and_back",),
        3,
        requires=("1.1", "1.3"),
        hints=(
            "Write the forward pass first, keeping every intermediate (d, e, f, g).",
            "Start from ones shaped like g. Which backward function takes you from g to f?",
            "f = d * e: which of multiply_back0/1 gives d's gradient, and which e's?",
            "c's gradient comes through e = log(c): call log_back with e's gradient.",
        ),
    ),
    # Part 2: automatic differentiation
    Exercise(
        "2.1",
        "BackwardFuncLookup",
        "2",
        ("BackwardFuncLookup",),
        2,
        hints=(
            "What identifies one backward function? Two things together: which forward function, and which argument.",
            "__init__ already gives each lookup its own dict, self.back_funcs. What tuple is a good key for it?",
            "add_back_func stores under (forward_fn, arg_position); get_back_func reads from there. When the key is missing, raise KeyError with a message that names the function and the position.",
        ),
    ),
    Exercise(
        "2.2",
        "log_forward and multiply_forward",
        "2",
        ("log_forward", "multiply_forward"),
        4,
        hints=(
            "Compute the NumPy result on the arrays, then wrap it in a Tensor.",
            "When should the result require grad? Read core.grad_tracking_enabled at call time.",
            "The recipe's args are the arrays themselves (not copies); its parents map position to Tensor.",
            "In multiply_forward, either operand may be a plain number: it goes into args as it is, and is never a parent.",
        ),
    ),
    Exercise(
        "2.3",
        "wrap_forward_fn",
        "2",
        ("wrap_forward_fn",),
        5,
        hints=(
            "wrap_forward_fn returns a new function. What does that function do with each positional argument?",
            "Generalise multiply_forward: unbox every Tensor argument, keep the others, pass kwargs through.",
            "When is_differentiable is False, the result never requires grad and has no recipe.",
            "Which positions go into parents? Only those holding Tensors.",
        ),
    ),
    Exercise(
        "2.4",
        "topological_sort",
        "2",
        ("topological_sort",),
        5,
        hints=(
            "Think of the order reversed, parents before children: which node can go first? Once it is placed, which can follow?",
            "A node can be placed once every node pointing to it is placed. So first find all reachable nodes (a loop with a to-visit list) and count, for each, the edges pointing to it. A child listed twice counts twice.",
            "Kahn's algorithm: keep a list of ready nodes (count 0), starting with `node`. Take one, append it, and take 1 off each of its children's counts; a child that reaches 0 is ready. Reverse the list at the end.",
            "If fewer nodes were placed than are reachable, the rest wait on each other: a cycle, so raise ValueError. Key the counts by id(node), never by ==.",
        ),
    ),
    Exercise(
        "2.5",
        "sorted_computational_graph",
        "2",
        ("sorted_computational_graph",),
        3,
        requires=("2.4",),
        hints=(
            "What are the children of a tensor, for this purpose? Look at its recipe.",
            "A tensor with no recipe has no children. Leaves must still appear in the result.",
            "topological_sort puts inputs first; backprop wants the output first. What one step fixes that?",
        ),
    ),
    Exercise(
        "2.6",
        "backprop",
        "2",
        ("backprop",),
        7,
        stands_in_for=("sorted_computational_graph",),
        hints=(
            "Keep a dict from each tensor to the gradient it has received so far. What goes in first?",
            "Visit nodes in sorted_computational_graph order. For each parent of a node, which backward function do you call, and with what arguments?",
            "A tensor used twice receives two gradients: add them, never overwrite.",
            "At a leaf that requires grad, add to .grad if it is already set. Could the array you store be shared with another leaf, or with end_grad?",
        ),
    ),
    # Part 3: more operations
    Exercise(
        "3.1",
        "negative_back and exp_back",
        "3",
        ("negative_back", "exp_back"),
        2,
        hints=(
            "As in sin_back: what is d(out)/dx for out = -x, entry by entry? And for out = exp(x)?",
            "Multiply each local derivative by grad_out. exp's derivative is exp itself: which argument already holds exp(x)? Do not exponentiate it again.",
        ),
    ),
    Exercise(
        "3.2",
        "reshape_back",
        "3",
        ("reshape_back",),
        2,
        hints=(
            "Reshape only relabels the entries; their order stays. So each entry of x has exactly one entry of out, with derivative 1. What shape must the gradient get back to?",
            "Reshape grad_out to x.shape (not to new_shape, and without transposing).",
        ),
    ),
    Exercise(
        "3.3",
        "permute_back",
        "3",
        ("invert_transposition", "permute_back"),
        3,
        hints=(
            "Transposing moves entries and changes none: each gradient entry just moves back. If axes sends dim axes[i] of x to position i of out, where must the gradient's dim i go back to?",
            "Try axes = (1, 2, 0): is the inverse the same tuple? Why not?",
            "The inverse of a permutation p is the q with q[p[i]] = i.",
            "Tensor.T calls permute with axes=(-1, -2): turn each axis into axis % x.ndim before inverting.",
        ),
    ),
    Exercise(
        "3.4",
        "expand",
        "3",
        ("_expand", "expand_back"),
        3,
        requires=("1.2",),
        hints=(
            "New dims may appear in front, so line new_shape up with x.shape from the right. Each -1 keeps the size of x's dim it lines up with.",
            "Once -1 is replaced, np.broadcast_to does the rest.",
            "Expanding is broadcasting: the copies' gradients add up. Which function of Part 1 does exactly that?",
        ),
    ),
    Exercise(
        "3.5",
        "sum_back",
        "3",
        ("sum_back",),
        4,
        hints=(
            "Each x entry is added, with weight 1, into exactly one out entry. So what is dL/dx for it? (The lesson of Part 3 works this through.)",
            "dim may be None, an int, a negative int, or a tuple. Turn it into a tuple of non-negative dims first.",
            "With keepdim=False the summed dims are gone from grad_out. Put them back as size 1 (np.expand_dims), then broadcast to x.shape.",
        ),
    ),
    Exercise(
        "3.6",
        "getitem",
        "3",
        ("coerce_index", "getitem_back"),
        4,
        hints=(
            "An index may be a Tensor or a tuple holding Tensors: coerce_index swaps each Tensor for its array, and keeps a tuple a tuple.",
            "The gradient is zeros shaped like x, with grad_out placed where the indexed entries came from.",
            "If an index picks the same entry twice, its gradient must be added twice. Does plain assignment do that? Look up np.add.at.",
        ),
    ),
    Exercise(
        "3.7",
        "add, subtract and true_divide backward",
        "3",
        ("add_back0", "add_back1", "subtract_back0", "subtract_back1", "true_divide_back0", "true_divide_back1"),
        4,
        requires=("1.2",),
        hints=(
            "Write down d(x+y)/dx, d(x-y)/dy and d(x/y)/dy, treating the other operand as a constant. Which one has a minus sign, and which one needs x?",
            "Multiply grad_out by that local derivative, as in multiply_back0. Either operand may have been broadcast, or be a Python number: where does unbroadcast come in?",
            "d(x/y)/dx = 1/y and d(x/y)/dy = -x / y**2.",
        ),
    ),
    Exercise(
        "3.8",
        "maximum and relu",
        "3",
        ("maximum_back0", "maximum_back1", "relu"),
        4,
        requires=("1.2",) + AUTOGRAD,
        hints=(
            "Where x > y, out moves with x and not at all with y: what is d(out)/dx there? And where x < y?",
            "At a tie maximum has no derivative. Any split whose two shares add up to grad_out is accepted: never all of it to both, or none to either. Half to each is the simplest.",
            "x and y may have been broadcast, and one may be a Python number: unbroadcast each share.",
            "relu(x) is maximum(x, 0.0) on Tensors: build it from Tensor operations so backprop can go through it.",
        ),
    ),
    Exercise(
        "3.9",
        "matmul",
        "3",
        ("_matmul2d", "matmul2d_back0", "matmul2d_back1"),
        4,
        hints=(
            "For out = x @ y, what shapes do x, y and grad_out have?",
            "out[i, j] = sum over l of x[i, l] * y[l, j]. Which entries of out does x[i, l] appear in, and with which factor?",
            "dL/dx[i, l] = sum over j of grad_out[i, j] * y[l, j]: which matrix product is that? Check its shape against x's.",
            "grad_out @ y.T for x, x.T @ grad_out for y.",
        ),
    ),
    Exercise(
        "3.10",
        "argmax and in-place add_ and sub_",
        "3",
        ("argmax", "add_", "sub_"),
        2,
        requires=AUTOGRAD,
        hints=(
            "argmax is not differentiable: wrap np.argmax's result in a Tensor that does not require grad. Pass keepdim on as keepdims.",
            "add_ changes the entries of x.array itself (x.array += ...): afterwards x.array must be the same array object.",
            "other may be a Tensor or a number: take other.array for a Tensor. Do not forget alpha.",
        ),
    ),
    # Part 4: neural networks
    Exercise(
        "4.1",
        "Parameter",
        "4",
        ("Parameter",),
        1,
        hints=(
            "A Parameter is a Tensor: which __init__ does it call, and with which array?",
            "Shares the array means the very same ndarray object: no np.array(...), no .copy(), no .astype(...).",
            "requires_grad is True unless the caller says otherwise.",
        ),
    ),
    Exercise(
        "4.2",
        "Module",
        "4",
        ("Module",),
        4,
        requires=("4.1",),
        hints=(
            "Where does each instance keep its Parameters and its child Modules? (Not on the class: every module needs dicts of its own.)",
            "__setattr__ sees every `self.name = value`: register Parameters and Modules there, and still store the attribute.",
            "__init__ creates the dicts, but assigning them goes through your own __setattr__: object.__setattr__(self, ...) sidesteps it.",
            "parameters(): own parameters first, then `yield from child.parameters()` for each direct child. modules() gives only direct children.",
        ),
    ),
    Exercise(
        "4.3",
        "Linear",
        "4",
        ("Linear",),
        3,
        requires=("1.2", "3.3", "3.7", "3.9", "4.1", "4.2") + AUTOGRAD,
        hints=(
            "weight has shape (out_features, in_features), bias (out_features,). Both are Parameters.",
            "Both start uniform in [-b, b]. Is b 1/sqrt(in_features) or something else?",
            "forward is x @ self.weight.T + self.bias, with Tensor operations so that backprop reaches the weights.",
            "With bias=False, set self.bias = None and skip the addition.",
        ),
    ),
    Exercise(
        "4.4",
        "ReLU and MLP",
        "4",
        ("ReLU", "MLP"),
        2,
        requires=("3.8", "4.3") + AUTOGRAD,
        hints=(
            "ReLU.forward is one Tensor operation.",
            "An MLP is Linear, ReLU, Linear, ReLU, ..., Linear: how many Linear layers for hidden_features=[7, 6]? Is there a ReLU after the last one?",
            "Layers kept only in a Python list are invisible to parameters(): assign each one as an attribute (setattr(self, name, layer)).",
        ),
    ),
    Exercise(
        "4.5",
        "cross_entropy",
        "4",
        ("cross_entropy",),
        4,
        requires=("1.1", "1.2", "3.1", "3.5", "3.6", "3.7") + AUTOGRAD,
        hints=(
            "For one example, loss = log(sum_j exp(z_j)) - z_y. Which Tensor operations compute that for a whole batch at once?",
            "One loss per example: the result has shape (batch,). Averaging is the training loop's job.",
            "exp(1e4) overflows. Subtracting each row's max first changes nothing mathematically: why? The max can be a constant Tensor.",
            "Pick the true-label entries with integer-array indexing: shifted[np.arange(batch), labels]. Never change the logits in place.",
        ),
    ),
    Exercise(
        "4.6",
        "NoGrad",
        "4",
        ("NoGrad",),
        3,
        requires=("2.3",),
        hints=(
            "The switch is core.grad_tracking_enabled, in core.py. Assign it there (core.grad_tracking_enabled = ...), not to a global of part4_nn.py.",
            "On entry, remember its current value, then turn it off. On exit, put back what you remembered: it may have been False already.",
            "__exit__ runs even when an exception leaves the block. Return None so that the exception carries on.",
        ),
    ),
    Exercise(
        "4.7",
        "SGD",
        "4",
        ("SGD",),
        5,
        requires=("4.1",),
        hints=(
            "params may be a generator, which can be read only once: make a list of it in __init__.",
            "Follow the rule in order: weight decay into g first, then the momentum buffer, then p -= lr * g.",
            "Each parameter needs its own momentum buffer, made at its first step (a copy of g, not g itself).",
            "Update p.array; never change p.grad in step. zero_grad sets every grad to None (or zeros).",
        ),
    ),
    # Part 5: the capstone
    Exercise(
        "5.1",
        "training on digits",
        "5",
        ("train_digits", "evaluate"),
        8,
        requires=(
            "1.1",
            "1.2",
            "1.3",
            "3.1",
            "3.3",
            "3.5",
            "3.6",
            "3.7",
            "3.8",
            "3.9",
            "3.10",
            "4.1",
            "4.2",
            "4.3",
            "4.4",
            "4.5",
            "4.6",
            "4.7",
        )
        + AUTOGRAD,
        timeout=60.0,
        hints=(
            "Start with MLP(64, [64], 10) and SGD(model.parameters(), lr=0.1, momentum=0.9).",
            "Each step: zero_grad, loss = cross_entropy(logits, labels).sum() / batch_size, loss.backward(), step. Append loss.item() to your losses.",
            "Shuffle the examples every epoch (one permutation for features and labels together), mini-batches of 32, 10 to 20 epochs.",
            "Loss flat or NaN? Look at your loss curve: lower the learning rate if it explodes, raise it or train longer if it creeps down.",
        ),
    ),
    # Bonus: scored apart from the main total
    Exercise(
        "b.1",
        "recursion-free topological sort",
        "bonus",
        ("topological_sort",),
        2,
        requires=("2.4",),
        timeout=10.0,
        file="part2_autograd",
        hints=(
            "How deep can a recursive function go before Python stops it? How long is the longest path in a 10,000-deep graph?",
            "Kahn's algorithm (the hints of 2.4) uses loops only: if your 2.4 follows it, it passes already. A recursive depth-first search has to change.",
            "To keep a depth-first search, replace the call stack by your own: a list of (node, iterator over its children). Look at the top: if it has an unseen child, push that child; if not, pop it and append it to the order.",
            "You still need both marks: 'finished' (skip it) and 'on the current path' (a cycle). A node is on the path while it is on the stack.",
        ),
    ),
    Exercise(
        "b.2",
        "numerical gradient checker",
        "bonus",
        ("numerical_gradient",),
        2,
        hints=(
            "For one entry x[i]: how do f(x + eps e_i) and f(x - eps e_i) give the slope of f along that entry?",
            "np.ndindex(x.shape) visits every index of an array of any shape, 0-d included.",
            "Work on a float64 copy, and put each entry back by assigning the saved value: is x + eps - eps always x?",
        ),
    ),
    Exercise(
        "b.3",
        "in-place modification detection",
        "bonus",
        ("versioned_add_", "checked_forward_fn", "checked_backprop"),
        3,
        requires=("1.1", "1.3") + AUTOGRAD,
        hints=(
            "versioned_add_ changes x.array in place (x.array += ...) and then sets x.version = version_of(x) + 1.",
            "Which tensors does a backward function read? All of its Tensor arguments, even those that do not require grad, and out.",
            "In checked_forward_fn, call the function wrap_forward_fn gives you, then store (tensor, version_of(tensor)) pairs on the result.",
            "In checked_backprop, walk sorted_computational_graph(end_node) once to compare every saved version with version_of now, and only then call backprop.",
        ),
    ),
    Exercise(
        "b.4",
        "batched matmul backward",
        "bonus",
        ("matmul_back0", "matmul_back1"),
        3,
        requires=("1.2",),
        hints=(
            "For one matrix product, what are the gradients? Now, which dims of x and y are the matrix, and which the batch?",
            "y.T reverses every dim of a 3-D array. Which NumPy call swaps only the last two?",
            "Batch dims broadcast like any other: unbroadcast sums them back to the operand's shape.",
            "A 1-D x acts as a (1, k) matrix and out has lost that 1: put it back on x and grad_out, and reshape the result to x.shape.",
        ),
    ),
)

_BY_ID = {exercise.id: exercise for exercise in EXERCISES}

# A student's kit built for part of the course (`checker release --out DIR 2`)
# lists, in this file at its root, the exercises it hands out. The
# instructor's copy has none: it hands out the whole course.
COURSE_FILE = Path(__file__).resolve().parent.parent / "course.json"


def get(exercise_id: str) -> Exercise:
    return _BY_ID[exercise_id]


class UnknownExercise(ValueError):
    """A selection word that names no exercise, part or function (or none this kit hands out)."""

    def __init__(self, message: str, word: str | None = None):
        super().__init__(message)
        self.word = word  # the word that named nothing, when that is the problem


class DamagedCourseFile(UnknownExercise):
    """course.json cannot be read. Every command reports it like an unknown word: one line, exit status 2."""


def released() -> list[Exercise]:
    """The exercises this copy of the kit hands out, in course order: those
    course.json lists in a release of part of the course, else all of them.

    Read on each call, in the checker's own process only (a confined child
    may not read the kit's root, and never needs to).
    """
    try:
        text = COURSE_FILE.read_text(encoding="utf-8")
    except FileNotFoundError:
        return list(EXERCISES)
    except OSError as error:
        raise DamagedCourseFile(f"cannot read {COURSE_FILE.name}: {error.strerror or error}") from None
    try:
        listed = json.loads(text)["exercises"]
        if (
            not isinstance(listed, list)
            or not listed
            or not all(isinstance(item, str) and item in _BY_ID for item in listed)
        ):
            raise ValueError
    except (ValueError, KeyError, TypeError):
        raise DamagedCourseFile(
            f"{COURSE_FILE.name} at the kit's root is damaged: it should list the exercises of this release; "
            "restore it from the kit as you received it"
        ) from None
    return [exercise for exercise in EXERCISES if exercise.id in listed]


def describe(exercises: list[Exercise]) -> str:
    """A short name for a set of exercises: 'the whole course', 'Part 2', 'Parts 1 and 2 and the bonus', 'Part 3 and exercise b.4'."""
    chosen = {exercise.id for exercise in exercises}
    if len(chosen) == len(EXERCISES):
        return "the whole course"
    whole_parts, single = [], []
    for part in PART_MODULES:
        members = [exercise.id for exercise in EXERCISES if exercise.part == part]
        if set(members) <= chosen:
            whole_parts.append(part)
        else:
            single += [exercise_id for exercise_id in members if exercise_id in chosen]
    numbered = [part for part in whole_parts if part != "bonus"]
    pieces = []
    if numbered:
        pieces.append(("Part " if len(numbered) == 1 else "Parts ") + spoken_list(numbered))
    if "bonus" in whole_parts:
        pieces.append("the bonus")
    if single:
        pieces.append(("exercise " if len(single) == 1 else "exercises ") + spoken_list(single))
    return spoken_list(pieces)


def spoken_list(words: list[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def select(words: list[str]) -> list[Exercise]:
    """The exercises named by `words`, in course order; all those the kit hands out for no words.

    A word is an exercise id ("1.2"), a part ("1", or "bonus"), or the name of
    a function or class an exercise grades ("unbroadcast", "SGD"). In a
    release of part of the course a word selects the released exercises it
    names; one that names only others is refused with the reason.
    """
    handed_out = released()
    if not words:
        return handed_out
    handed_out_ids = {exercise.id for exercise in handed_out}
    chosen: set[str] = set()
    for word in words:
        matches = _match(word)
        if not matches:
            raise UnknownExercise(f"no exercise, part or function is called {word!r} (see: make list)", word)
        kept = [exercise.id for exercise in matches if exercise.id in handed_out_ids]
        if not kept:
            raise UnknownExercise(_not_released(word, matches, handed_out), word)
        chosen.update(kept)
    return [exercise for exercise in EXERCISES if exercise.id in chosen]


def _not_released(word: str, matches: list[Exercise], handed_out: list[Exercise]) -> str:
    reason = f"{word!r} is not part of this release of the course, which hands out {describe(handed_out)}"
    built_on = {exercise.id for exercise in with_prerequisites(handed_out)}
    if any(exercise.id in built_on for exercise in matches):
        files = ", ".join(dict.fromkeys(f"{exercise.module}.py" for exercise in matches))
        reason += f"; it builds on {word!r}: copy your own {files} into exercises/"
    return reason + " (see: make list)"


def with_prerequisites(exercises: list[Exercise]) -> list[Exercise]:
    """The exercises and everything they require, transitively, in course order."""
    wanted = {exercise.id for exercise in exercises}
    frontier = list(wanted)
    while frontier:
        for required in get(frontier.pop()).requires:
            if required not in wanted:
                wanted.add(required)
                frontier.append(required)
    return [exercise for exercise in EXERCISES if exercise.id in wanted]


def optional_bonus(words: list[str]) -> frozenset[str]:
    """The bonus exercises a selection shows without deciding the exit status:
    all those handed out for a plain `check`, none when the words name any exercise."""
    return frozenset() if words else frozenset(exercise.id for exercise in released() if exercise.bonus)


def _match(word: str) -> list[Exercise]:
    word = word.strip()
    if word in _BY_ID:
        return [_BY_ID[word]]
    if word.lower() in ("bonus", "b"):
        return [exercise for exercise in EXERCISES if exercise.bonus]
    by_part = [exercise for exercise in EXERCISES if exercise.part == word]
    if by_part:
        return by_part
    return [exercise for exercise in EXERCISES if word in exercise.functions]
