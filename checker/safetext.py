"""Student text made safe to show: no control sequence reaches a terminal.

Anything student code can put into a message (what it printed, an exception's
text, a repr) could carry terminal control sequences: a title change, a write
to the clipboard (OSC 52), a cleared screen, a carriage return that hides a
line, or Unicode controls that reorder what a reader sees. Every string that
comes from the child process passes through `neutralise` once, where the
parent reads it (runner.py), so the report, the JSON and Gradescope's output
show such characters as visible symbols instead of obeying them.
"""

from __future__ import annotations

import re
from typing import Any

# C0 controls (but tab and newline) become their Unicode "control pictures"
# (ESC shows as ␛), DEL likewise; C1 controls and the bidirectional
# overrides become escapes such as \x9b and \u202e.
_VISIBLE = {code: chr(0x2400 + code) for code in range(0x20) if chr(code) not in "\t\n"}
_VISIBLE[0x7F] = "\u2421"
_VISIBLE.update({code: f"\\x{code:02x}" for code in range(0x80, 0xA0)})
_VISIBLE.update(
    {code: f"\\u{code:04x}" for code in [*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C]}
)


def neutralise(text: str) -> str:
    """`text` with every control character replaced by a visible stand-in."""
    return text.translate(_VISIBLE)


def neutralise_all(value: Any) -> Any:
    """Every string inside `value` (dicts, lists, tuples) neutralised; other values as they are."""
    if isinstance(value, str):
        return neutralise(value)
    if isinstance(value, dict):
        return {neutralise_all(key): neutralise_all(item) for key, item in value.items()}
    if isinstance(value, list):
        return [neutralise_all(item) for item in value]
    if isinstance(value, tuple):
        return tuple(neutralise_all(item) for item in value)
    return value


# CPython's object addresses: "<function f at 0x7f3a...>", and id() values
# (long runs of digits that are not part of a decimal number).
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]{6,}")
_OBJECT_ID = re.compile(r"(?<![\d.])\d{12,}(?![\d.])")


def without_addresses(text: str) -> str:
    """`text` with object addresses and ids left out, so the same code gets the same message in every run."""
    return _OBJECT_ID.sub("<id>", _ADDRESS.sub("", text))


# Names and paths that mean something to the checker, not to a student:
# "_back_stub.<locals>.back" (a function made inside another), the staging
# folder the student's files are copied to ("/tmp/backprop-check-x1y2/package/
# part1_backward.py"), and the package name they are imported under
# ("submission.part1_backward").
_LOCALS = re.compile(r"\b(?:[A-Za-z_]\w*\.)*<locals>\.")
_STAGED_PATH = re.compile(r"(?:[A-Za-z]:)?[\\/][^\s'\"()<>]*?backprop-[a-z]+-[^\s/\\'\"]*[\\/](?:[^\s/\\'\"]+[\\/])*")
_PACKAGE = re.compile(r"\bsubmission\.(?=[A-Za-z_])")
_LAMBDA = re.compile(r"<function <lambda>>|<lambda>(?:\(\))?")


def without_internals(text: str) -> str:
    """`text` as a student should read it: no checker-made qualified names, staging paths or package names.

    "<function _back_stub.<locals>.back>" becomes "<function back>", a staged
    file's path becomes its name, "submission.part1_backward" becomes
    "part1_backward", and a lambda ("<function <lambda>>", "<lambda>()") becomes
    "a lambda function".
    """
    text = _LOCALS.sub("", text)
    text = _STAGED_PATH.sub("", text)
    text = _PACKAGE.sub("", text)
    return _LAMBDA.sub("a lambda function", text)
