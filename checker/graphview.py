"""`python -m checker graph`: draw a computational graph built by the student's own code.

A small example computation runs through the student's framework (their
wrap_forward_fn, Tensor operators, backprop and backward functions) in a
child process, never in this one. The child sends back the graph as plain
data: each node's operation, shape, value and the gradient the student's
backprop gave it. This process recomputes the right values and gradients
from the same inputs, and draws the graph as a tree, marking each gradient
right or wrong.

Examples (`--example NAME`):
  forward_and_back   g = log(a * b * log(c)), the computation of exercise 1.4
  reuse              h = log(a * a * b): a tensor used twice, whose gradients must add up
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .numeric import values_match

MARKER = "@@backprop-graph@@ "
TIMEOUT_SECONDS = 20.0

# name -> (description, leaf names). The child builds each one with Tensor operators.
EXAMPLES = {
    "forward_and_back": ("g = log(a * b * log(c)), the computation of exercise 1.4", ("a", "b", "c")),
    "reuse": ("h = log(a * a * b): a is used twice, so its two gradients must add up", ("a", "b")),
}


def example_inputs(name: str) -> dict[str, np.ndarray]:
    """The leaves' values: fixed, small, and positive where a log needs them."""
    generator = np.random.default_rng(7)
    leaves = EXAMPLES[name][1]
    values = {leaf: generator.uniform(0.5, 2.0, size=(2,)).astype(np.float32) for leaf in leaves}
    if "c" in values:
        values["c"] = generator.uniform(1.5, 4.0, size=(2,)).astype(np.float32)
    return values


# --- the child side: runs next to the student's code ---------------------------------------


def child_main(package_dir: str, user: str, portable_settings: str, example: str) -> None:
    """The one-off child of run_example (runner.run_one_off)."""
    from . import observe, wire
    from .child import confine_one_off

    # The same sandbox as the checker's test processes, before any student
    # code runs; on the portable path, the same caps.
    confine_one_off(package_dir, user, portable_settings)
    student = observe.install_package(package_dir)
    try:
        description = describe_example(student, example)
    except BaseException as exc:  # whatever happens, the parent gets a description
        description = {"error": observe.exception_info(exc), "stage": "setup"}
    sys.stdout.flush()
    sys.stdout.write("\n" + MARKER + json.dumps(wire.encode(description)) + "\n")
    sys.stdout.flush()
    os._exit(0)


def describe_example(student: Any, example: str) -> dict[str, Any]:
    Tensor = student.core.Tensor
    leaves = {name: Tensor(value.copy(), requires_grad=True) for name, value in example_inputs(example).items()}
    try:
        if example == "forward_and_back":
            a, b, c = leaves["a"], leaves["b"], leaves["c"]
            output = (a * b * c.log()).log()
        else:
            a, b = leaves["a"], leaves["b"]
            output = (a * a * b).log()
    except BaseException as exc:
        from .observe import exception_info

        return {"error": exception_info(exc), "stage": "forward"}

    received = _record_gradients(student)
    description: dict[str, Any] = {"nodes": _describe_graph(output, leaves)}
    try:
        output.backward()
    except BaseException as exc:
        from .observe import exception_info

        description["error"] = exception_info(exc)
        description["stage"] = "backward"
    for node in description["nodes"]:
        if node["leaf"]:
            grad = node.pop("tensor").grad
            array = getattr(grad, "array", grad)
            node["grad"] = np.array(array, dtype=np.float64) if array is not None else None
        else:
            node.pop("tensor")
            node["grad"] = received.get(node["array_id"])
    return description


def _record_gradients(student: Any) -> dict[int, np.ndarray]:
    """Wrap the lookup so that each node's incoming gradient is seen on its way through."""
    received: dict[int, np.ndarray] = {}
    lookup = student.part2_autograd.BACK_FUNCS
    original = lookup.get_back_func

    def get_back_func(forward_fn: Any, arg_position: int) -> Any:
        back_fn = original(forward_fn, arg_position)

        def recording(grad_out: Any, out: Any, *args: Any, **kwargs: Any) -> Any:
            received[id(out)] = np.array(getattr(grad_out, "array", grad_out), dtype=np.float64)
            return back_fn(grad_out, out, *args, **kwargs)

        return recording

    lookup.get_back_func = get_back_func
    return received


def _describe_graph(output: Any, leaves: dict[str, Any]) -> list[dict[str, Any]]:
    """Every node reachable through recipes, each once: plain data plus the tensor itself (removed later)."""
    names = {id(tensor): name for name, tensor in leaves.items()}
    numbers: dict[int, int] = {}
    nodes: list[dict[str, Any]] = []
    stack = [output]
    while stack:
        tensor = stack.pop()
        if id(tensor) in numbers:
            continue
        numbers[id(tensor)] = len(nodes)
        recipe = getattr(tensor, "recipe", None)
        parents = dict(getattr(recipe, "parents", None) or {}) if recipe is not None else {}
        nodes.append(
            {
                "tensor": tensor,
                "name": names.get(id(tensor), ""),
                "op": getattr(getattr(recipe, "func", None), "__name__", "") if recipe is not None else "",
                "leaf": recipe is None or not parents,
                "shape": list(np.shape(tensor.array)),
                "value": np.array(tensor.array, dtype=np.float64),
                "array_id": id(tensor.array),
                "parents": [[int(position), parent] for position, parent in sorted(parents.items())],
            }
        )
        stack.extend(parent for _, parent in sorted(parents.items(), reverse=True))
    for node in nodes:
        node["parents"] = [[position, numbers[id(parent)]] for position, parent in node["parents"]]
    return nodes


# --- the parent side: never imports student code --------------------------------------------


@dataclass
class GraphRun:
    example: str
    description: dict[str, Any]
    printed: str  # what the student's code printed


def run_example(impl_dir: Path, example: str = "forward_and_back") -> GraphRun:
    """Run the example on the student's code in a child process, under the checker's limits."""
    from . import runner

    run = runner.run_one_off(
        "graphview:child_main", [example], timeout=TIMEOUT_SECONDS, impl_dir=Path(impl_dir), prefix="backprop-graph-"
    )
    if run.returncode is None:
        return GraphRun(example, {"problem": f"your code did not finish the example within {TIMEOUT_SECONDS:g} s"}, "")
    output = run.output.decode("utf-8", "replace")
    printed, marker, payload = output.rpartition(MARKER)
    if not marker:
        reason = f"exit status {run.returncode}" if run.returncode >= 0 else f"signal {-run.returncode}"
        tail = output[-800:]
        return GraphRun(example, {"problem": f"the process running your code stopped ({reason})"}, tail)
    from . import wire

    try:
        description = wire.decode(json.loads(payload.strip().splitlines()[0]))
    except (ValueError, IndexError, TypeError):
        description = {"problem": "the graph could not be read back from your code's process"}
    return GraphRun(example, description, printed.strip())


def reference_gradients(
    example: str, nodes: list[dict[str, Any]]
) -> tuple[list[np.ndarray | None], list[np.ndarray | None]]:
    """The right value and gradient of each node, recomputed in float64 from the example's inputs.

    Only the operations the examples use (log, multiply) are known; a node
    made by anything else gets None.
    """
    inputs = {name: value.astype(np.float64) for name, value in example_inputs(example).items()}
    values: list[np.ndarray | None] = [None] * len(nodes)

    def value_of(index: int) -> np.ndarray | None:
        if values[index] is not None:
            return values[index]
        node = nodes[index]
        if node["leaf"]:
            result = inputs.get(node["name"])
        else:
            operands = [value_of(parent) for _, parent in node["parents"]]
            if any(operand is None for operand in operands):
                return None
            if node["op"] == "log" and len(operands) == 1:
                result = np.log(operands[0])
            elif node["op"] == "multiply" and len(operands) == 2:
                result = operands[0] * operands[1]
            else:
                result = None
        values[index] = result
        return result

    for index in range(len(nodes)):
        value_of(index)

    gradients: list[np.ndarray | None] = [None] * len(nodes)
    if values[0] is None:
        return values, gradients
    gradients[0] = np.ones_like(values[0])
    # nodes[0] is the output; a node's gradient is complete once every node
    # that uses it has passed its share on: walk in reverse topological order.
    for index in _reverse_topological(nodes):
        node, grad = nodes[index], gradients[index]
        if grad is None or node["leaf"]:
            continue
        for position, parent in node["parents"]:
            operands = [values[p] for _, p in node["parents"]]
            if node["op"] == "log":
                share = grad / operands[0]
            elif node["op"] == "multiply":
                share = grad * operands[1 - position]
            else:
                continue
            gradients[parent] = share if gradients[parent] is None else gradients[parent] + share
    return values, gradients


def _reverse_topological(nodes: list[dict[str, Any]]) -> list[int]:
    order: list[int] = []
    done: set[int] = set()

    def visit(index: int) -> None:
        if index in done:
            return
        done.add(index)
        for _, parent in nodes[index]["parents"]:
            visit(parent)
        order.append(index)

    visit(0)
    return order[::-1]


def render(run: GraphRun) -> Any:
    """A rich Tree of the graph: op, shape, value and gradient per node, each gradient marked."""
    from rich.console import Group
    from rich.panel import Panel
    from rich.text import Text
    from rich.tree import Tree

    description = run.description
    title = "Your computational graph"
    heading = Text(EXAMPLES[run.example][0], style="bold")
    if "problem" in description or "nodes" not in description:
        problem = description.get("problem") or _error_text(description)
        body = Text.assemble(heading, "\n\n", f"Could not build the graph: {problem}")
        if run.printed:
            body.append("\n\nYour code printed:\n" + run.printed[-1500:], style="dim")
        return Panel(body, title=title, title_align="left", expand=False)

    nodes = description["nodes"]
    if nodes and nodes[0]["leaf"]:
        body = Text.assemble(
            heading,
            "\n\n",
            "The output has no recipe (or no parents): the forward pass returned a fresh tensor with no graph, "
            "so backprop has nothing to walk. Does your wrap_forward_fn set out.recipe with the Tensor arguments as parents?",
        )
        return Panel(body, title=title, title_align="left", expand=False)
    values, expected = reference_gradients(run.example, nodes)
    wrong = 0

    def label(index: int) -> Text:
        nonlocal wrong
        node = nodes[index]
        text = Text()
        name = node["name"] or ("output" if index == 0 else "")
        if node["leaf"]:
            text.append(f"{name or 'leaf'}", style="bold")
            text.append("  (leaf)", style="dim")
        else:
            text.append(f"{node['op'] or '?'}", style="bold cyan")
            if name:
                text.append(f"  {name}", style="bold")
        text.append(f"  {tuple(node['shape'])} = {_numbers(node['value'])}", style="dim")
        grad = node.get("grad")
        right = expected[index]
        if grad is None:
            text.append("  grad: none", style="yellow")
            if right is not None:
                text.append(f" (expected {_numbers(right)})", style="yellow")
                wrong += 1
        else:
            grad = np.asarray(grad, dtype=np.float64)
            text.append(f"  grad {_numbers(grad)}")
            if right is not None:
                if values_match(grad, right):  # the checker's own definition of close (numeric.py)
                    text.append("  ✓", style="green")
                else:
                    text.append(f"  ✗\nshould be {_numbers(right)}", style="red")
                    wrong += 1
        return text

    tree = Tree(label(0))
    shown: set[int] = {0}

    def grow(branch: Tree, index: int) -> None:
        for position, parent in nodes[index]["parents"]:
            prefix = Text(f"arg {position}: ", style="dim")
            if parent in shown:
                again = Text.assemble(
                    prefix,
                    (nodes[parent]["name"] or nodes[parent]["op"] or "node", "bold"),
                    (" again (used more than once: its gradients add up)", "dim"),
                )
                branch.add(again)
                continue
            shown.add(parent)
            grow(branch.add(Text.assemble(prefix, label(parent))), parent)

    grow(tree, 0)
    parts: list[Any] = [heading, Text(""), tree]
    footer = Text()
    if "error" in description:
        footer.append(f"\nbackward() failed: {_error_text(description)}", style="red")
    elif any(right is None for right in expected):
        footer.append(
            "\nSome nodes are not the ones this example should build, so their gradients could not be checked.",
            style="yellow",
        )
    elif wrong:
        footer.append(
            f"\n{wrong} gradient(s) differ from the right ones: follow the ✗ marks from the output down to find where they go wrong.",
            style="red",
        )
    else:
        footer.append("\nEvery gradient is right.", style="green")
    footer.append(
        "\nEach line: operation, shape = value, and grad = dL/d(that node) with L = sum(output).", style="dim"
    )
    footer.append("\nGradients flow from the output (top) down to the leaves.", style="dim")
    parts.append(footer)
    if run.printed:
        parts.append(Text("\nYour code printed:\n" + run.printed[-1500:], style="dim"))
    return Panel(Group(*parts), title=title, title_align="left", expand=False)


def _numbers(values: Any) -> str:
    array = np.asarray(values, dtype=np.float64)
    return np.array2string(array, precision=4, suppress_small=True, separator=", ").replace("\n", "")


def _error_text(description: dict[str, Any]) -> str:
    error = description.get("error")
    if not isinstance(error, dict):
        return "an unknown error"
    kind, message = error.get("type", "Exception"), error.get("message", "")
    from .observe import where_raised

    frames = error.get("frames") or []
    where = where_raised(error)
    if kind == "NotImplementedError":
        function = frames[-1].get("function") if frames and isinstance(frames[-1], dict) else "a function"
        stage = description.get("stage", "")
        return (
            f"{function} is not written yet{where}. The graph view runs your own framework, "
            f"so the {stage or 'computation'} needs it: see make check EX=1 and make check EX=2."
        )
    return f"{kind}: {message}{where}"
