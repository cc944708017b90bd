"""The plain-data format that crosses from the child process to the parent.

One JSON object per line. Arrays travel as float64 (or int64) bytes in
base64, so values arrive exactly; everything else is JSON's own types.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import numpy as np

_ARRAY_TAG = "__ndarray__"

# Taken at import, before any student code runs in the child: patching
# NumPy or base64 there cannot change what is encoded.
_ndarray, _generic, _array = np.ndarray, np.generic, np.array
_int64, _float64 = np.int64, np.float64
_b64encode = base64.b64encode


def encode(value: Any) -> Any:
    """A JSON-ready copy of `value` (plain data and NumPy arrays only)."""
    if isinstance(value, _ndarray):
        dtype = _int64 if value.dtype.kind in "iub" else _float64
        plain = _array(value, dtype=dtype, order="C")
        return {
            _ARRAY_TAG: _b64encode(plain.tobytes()).decode("ascii"),
            "dtype": plain.dtype.name,
            "shape": list(plain.shape),
        }
    if isinstance(value, dict):
        return {str(key): encode(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode(item) for item in value]
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    if isinstance(value, _generic):
        return value.item()
    raise TypeError(f"cannot send a {type(value).__name__} to the parent process")


def decode(value: Any) -> Any:
    """The inverse of `encode`, after JSON."""
    if isinstance(value, dict):
        if _ARRAY_TAG in value:
            dtype = np.dtype(value["dtype"])
            if dtype not in (np.dtype(np.float64), np.dtype(np.int64)):
                raise ValueError(f"unexpected array dtype {dtype}")
            raw = base64.b64decode(value[_ARRAY_TAG])
            shape = tuple(int(size) for size in value["shape"])
            return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
        return {key: decode(item) for key, item in value.items()}
    if isinstance(value, list):
        return [decode(item) for item in value]
    return value


def dumps_line(record: dict[str, Any]) -> bytes:
    return (json.dumps(encode(record), allow_nan=True) + "\n").encode("utf-8")


def loads_line(line: bytes) -> dict[str, Any]:
    record = json.loads(line.decode("utf-8"))
    if not isinstance(record, dict):
        raise ValueError("a record must be a JSON object")
    return record
