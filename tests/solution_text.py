"""Reading the stubs and the reference solutions: which functions are
exercises, what their bodies say, and which lines of the reference would
give an answer away.

Used by test_agreement.py (no solution line in a stub) and test_release.py
(no solution line anywhere in a student's kit). Instructor-only: a student's
kit has no solutions/ to read.
"""

from __future__ import annotations

import ast
import re

from checker import KIT_ROOT

EXERCISES = KIT_ROOT / "exercises"
SOLUTIONS = KIT_ROOT / "solutions"

TODO = re.compile(r"^# TODO\((?P<id>[^)]+)\): write (?P<name>[\w.]+)\.$")
RAISE = re.compile(r'^raise NotImplementedError\("exercise (?P<id>\S+) (?P<name>[\w.]+)"\)$')

# Solution lines too plain to count as leaked text ("return out", "x = x.T").
TRIVIAL_LENGTH = 12


def functions(tree: ast.Module) -> dict[str, ast.FunctionDef]:
    """Every function and method by qualified name ("f", "Class.method")."""
    found: dict[str, ast.FunctionDef] = {}

    def visit(body: list[ast.stmt], prefix: str) -> None:
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                found[prefix + node.name] = node
            elif isinstance(node, ast.ClassDef):
                visit(node.body, f"{prefix}{node.name}.")

    visit(tree.body, "")
    return found


def body_start(function: ast.FunctionDef) -> int:
    """Index of the first statement after the docstring."""
    first = function.body[0]
    has_docstring = (
        isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str)
    )
    return 1 if has_docstring else 0


def body_lines(source_lines: list[str], function: ast.FunctionDef) -> list[str]:
    """The function's source lines after its docstring, stripped, blank lines dropped."""
    start = body_start(function)
    if start >= len(function.body):
        return []
    if start:
        first_line = function.body[0].end_lineno  # the docstring's last line (0-based: the line after it)
    else:
        # No docstring: take the comment lines just above the first statement too.
        first_line = function.body[0].lineno - 1
        while first_line - 1 >= function.lineno and source_lines[first_line - 1].strip().startswith("#"):
            first_line -= 1
    lines = source_lines[first_line : function.end_lineno]
    return [line.strip() for line in lines if line.strip()]


def stub_bodies(module: str) -> dict[str, list[str]]:
    """The exercise functions of exercises/<module>.py: qualified name -> body lines."""
    source = (EXERCISES / f"{module}.py").read_text()
    lines = source.splitlines()
    stubs = {}
    for name, function in functions(ast.parse(source)).items():
        body = body_lines(lines, function)
        if any(RAISE.match(line) for line in body) or any(TODO.match(line) for line in body):
            stubs[name] = body
    return stubs


def answer_lines(module: str) -> set[str]:
    """The distinctive lines of solutions/<module>.py's answers (stripped).

    The body lines of the functions that are stubs in exercises/, except
    trivial ones and those the file's given code holds anyway (they may
    appear in a stub file, or anywhere else, without giving anything away).
    """
    stubbed = set(stub_bodies(module))
    source = (SOLUTIONS / f"{module}.py").read_text()
    lines = source.splitlines()
    solution_functions = functions(ast.parse(source))
    answers: set[str] = set()
    answer_spans: set[int] = set()
    for name in stubbed:
        function = solution_functions[name]
        answers.update(body_lines(lines, function))
        answer_spans.update(range(function.body[0].lineno, function.end_lineno + 1))
    given = {line.strip() for number, line in enumerate(lines, start=1) if number not in answer_spans}
    return {line for line in answers if len(line) >= TRIVIAL_LENGTH and line not in given}
