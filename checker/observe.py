"""Probe-side helpers: reduce what student code does to plain data.

These run in the child process, after student code may have patched NumPy's
Python functions or builtins. So they use references taken when this module
was imported (before any student code ran), and C-level array methods that
cannot be patched. The worst a patch can do is spoil an observation, which
the judge then rejects.
"""

from __future__ import annotations

import builtins
import importlib
import importlib.abc
import importlib.machinery
import sys
import traceback
import types
from collections.abc import Callable
from typing import Any

import numpy as np

from .outcomes import RaisedError

# Taken at import, before student code runs.
_BUILTINS = dict(vars(builtins))
_NUMPY = dict(vars(np))
_array = np.array
_ndarray = np.ndarray
_float64 = np.float64
_generic = np.generic
_isinstance = isinstance
_type = type
_str = str
_repr = repr
_len = len

PACKAGE = "submission"  # the name the student's folder is imported under

# Other names a student's code may use for its own folder, in absolute
# imports (`from exercises.core import Tensor`). In the child they all mean
# the student's own package, module for module: one Tensor class, not two,
# and no way to import the kit's reference solutions instead.
ALIASES = ("exercises", "solutions")


class StudentPackage:
    """The student's exercise folder: `student.part1_backward` imports that file.

    Each module is imported on first use, so an exercise whose file is fine is
    graded even when another file has a syntax error.
    """

    def __init__(self, name: str = PACKAGE):
        self._name = name

    def __getattr__(self, module: str) -> types.ModuleType:
        if module.startswith("_"):
            raise AttributeError(module)
        return importlib.import_module(f"{self._name}.{module}")

    def fresh(self) -> None:
        """Forget every student module imported so far: the next use imports it anew.

        Called before each case, so that no case sees what another left in
        the student's modules (a global counter, a cache, registrations in a
        lookup, a swapped-in function): a verdict does not depend on which
        cases ran before it. Only the package's own modules and their
        aliases are forgotten; the compiled code is kept (_CachedSourceLoader),
        so importing again only runs the module bodies.
        """
        # What a case's code swapped into builtins or NumPy goes too.
        _restore(vars(builtins), _BUILTINS, remove_added=True)
        # NumPy adds its lazily imported submodules (np.testing) as it goes:
        # removing them would send its __getattr__ into endless recursion.
        _restore(vars(np), _NUMPY, remove_added=False)
        prefixes = tuple(f"{name}." for name in (self._name, *ALIASES))
        for module_name in [key for key in sys.modules if _isinstance(key, _str) and key.startswith(prefixes)]:
            del sys.modules[module_name]
        for alias in ALIASES:
            sys.modules.pop(alias, None)
        # An import sets each submodule as an attribute of the package, and
        # `from . import functional` would take that old module from there.
        package = sys.modules.get(self._name)
        if package is not None:
            for attribute in [key for key in vars(package) if not key.startswith("__")]:
                delattr(package, attribute)


def _restore(namespace: dict[str, Any], saved: dict[str, Any], remove_added: bool) -> None:
    """Put back the names of `namespace` that `saved` holds, and remove the others if asked."""
    if remove_added:
        for name in [name for name in namespace if name not in saved]:
            del namespace[name]
    for name, value in saved.items():
        if namespace.get(name, _MISSING) is not value:
            namespace[name] = value


_MISSING = object()


def install_package(folder: str, name: str = PACKAGE) -> StudentPackage:
    """Make `folder` importable as the package `name`, without running its __init__.py.

    The files import each other relatively (`from .core import Tensor`), so
    they must be imported as a package; the folder's own name does not matter.
    """
    package = types.ModuleType(name)
    package.__path__ = [folder]
    package.__package__ = name
    sys.modules[name] = package
    for alias in ALIASES:
        sys.modules.pop(alias, None)
    sys.meta_path.insert(0, _AliasFinder(name, ALIASES))
    sys.meta_path.insert(0, _CachingFinder(name, folder))
    return StudentPackage(name)


class _CachingFinder(importlib.abc.MetaPathFinder):
    """Finds `package.X` in the student's folder, with a loader that compiles each file once."""

    def __init__(self, package: str, folder: str):
        self.package = package
        self.folder = folder
        self.code: dict[str, types.CodeType] = {}

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if not fullname.startswith(self.package + "."):
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, [self.folder])
        if spec is not None and _type(spec.loader) is importlib.machinery.SourceFileLoader:
            spec.loader = _CachedSourceLoader(fullname, spec.origin, self.code)
        return spec


class _CachedSourceLoader(importlib.machinery.SourceFileLoader):
    """A source loader that compiles a file once per process and reuses the code after.

    Each case imports the student's modules afresh (StudentPackage.fresh);
    compiling them every time would cost more than running them.
    """

    def __init__(self, fullname: str, path: str, cache: dict[str, types.CodeType]):
        super().__init__(fullname, path)
        self.cache = cache

    def get_code(self, fullname: str) -> types.CodeType:
        code = self.cache.get(self.path)
        if code is None:
            code = self.cache[self.path] = super().get_code(fullname)
        return code


class _AliasFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports `alias.X` as the very module object `package.X`."""

    def __init__(self, package: str, aliases: tuple[str, ...]):
        self.package = package
        self.aliases = aliases

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        head, _, rest = fullname.partition(".")
        if head not in self.aliases:
            return None
        return importlib.machinery.ModuleSpec(fullname, self, is_package=not rest)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        _, _, rest = spec.name.partition(".")
        return importlib.import_module(f"{self.package}.{rest}" if rest else self.package)

    def exec_module(self, module: types.ModuleType) -> None:
        pass  # already imported, under the package's own name


def returned(value: Any) -> dict[str, Any]:
    """What a student function returned, as plain data.

    type:  the type's name ("ndarray", "float32", "Tensor", "NoneType", ...)
    kind:  "array" (an ndarray or NumPy scalar), "tensor" (something with an
           ndarray `.array`), "number" (a Python int or float) or "other".
    values, shape, dtype: a float64 copy of the numbers, where there are any.
    """
    description: dict[str, Any] = {"type": _type(value).__name__}
    if _isinstance(value, (_ndarray, _generic)):
        description["kind"] = "array"
        source = value
    elif _isinstance(value, (int, float)) and not _isinstance(value, bool):
        description["kind"] = "number"
        source = value
    elif _isinstance(getattr(value, "array", None), _ndarray):
        description["kind"] = "tensor"
        source = value.array
    else:
        description["kind"] = "other"
        description["repr"] = _safe_repr(value)
        if not _isinstance(value, (list, tuple)):
            return description
        description["length"] = _len(value)
        source = value
    try:
        plain = _array(source, dtype=_float64, copy=True)
    except Exception:
        description["kind"] = "other"
        description["repr"] = _safe_repr(value)
        return description
    description["values"] = plain
    description["shape"] = list(plain.shape)
    description["dtype"] = _str(getattr(source, "dtype", _type(source).__name__))
    return description


def attempt(function: Callable[..., Any], *args: Any, **kwargs: Any) -> dict[str, Any]:
    """Call student code expecting it may raise: {"returned": ...} or {"raised": ...}.

    Only ordinary exceptions count as raising; anything else (pytest.skip,
    SystemExit, KeyboardInterrupt, a timeout) ends the whole probe, and so
    does NotImplementedError, which marks an exercise as not started.
    """
    try:
        return {"returned": returned(function(*args, **kwargs))}
    except NotImplementedError:
        raise
    except Exception as exc:
        return {"raised": exception_info(exc)}


def exception_info(exc: BaseException) -> dict[str, Any]:
    """An exception as plain data: its type, message and where in student code it came from."""
    info: dict[str, Any] = {
        "type": _type(exc).__name__,
        "bases": [cls.__name__ for cls in _type(exc).__mro__],
        "message": _safe_str(exc),
        "frames": student_frames(exc.__traceback__),
    }
    if _isinstance(exc, SyntaxError):
        info["file"] = _short_path(exc.filename or "")
        info["line"] = exc.lineno
        info["text"] = (exc.text or "").rstrip()
    if _isinstance(exc, AttributeError):
        # Python records which attribute was missing, and on what: a
        # module that lacks a function is a function deleted or renamed.
        try:
            owner = exc.obj
            if _isinstance(owner, types.ModuleType) and _isinstance(exc.name, _str):
                info["attribute"] = _str(exc.name)
                info["owner_module"] = _str(owner.__name__)
        except BaseException:
            pass
    return info


def where_raised(error: Any) -> str:
    """' (in unbroadcast, part1_backward.py line 12)': the innermost student
    frame of an exception_info (or of an outcomes.RaisedError), or '' when
    there is none (or it is unreadable)."""
    if isinstance(error, RaisedError):
        frames = list(error.frames)
    elif isinstance(error, dict):
        frames = error.get("frames")
    else:
        return ""
    if not isinstance(frames, list) or not frames or not isinstance(frames[-1], dict):
        return ""
    frame = frames[-1]
    return f" (in {frame.get('function')}, {frame.get('file')} line {frame.get('line')})"


def student_frames(tb: types.TracebackType | None) -> list[dict[str, Any]]:
    """The frames of a traceback that are in student files, outermost first."""
    frames = []
    for frame, lineno in traceback.walk_tb(tb):
        module = frame.f_globals.get("__name__", "")
        if _isinstance(module, _str) and (module == PACKAGE or module.startswith(PACKAGE + ".")):
            code = frame.f_code
            frames.append(
                {
                    "file": _short_path(code.co_filename),
                    "line": lineno,
                    "function": _qualified_name(frame),
                }
            )
    return frames


def _qualified_name(frame: types.FrameType) -> str:
    """'BackwardFuncLookup.add_back_func' for a method, so a stub is matched to its exercise.

    Python 3.11 records this on the code object; on 3.10, find the class of
    the frame's module whose attribute runs this very code.
    """
    code = frame.f_code
    qualified = getattr(code, "co_qualname", None)
    if qualified:
        return qualified
    for value in list(frame.f_globals.values()):
        if _isinstance(value, type):
            candidate = value.__dict__.get(code.co_name)
            if getattr(candidate, "__code__", None) is code:
                return f"{value.__name__}.{code.co_name}"
    return code.co_name


def _short_path(path: str) -> str:
    return path.replace("\\", "/").rsplit("/", 1)[-1]


def _safe_str(value: Any) -> str:
    try:
        text = _str(value)
    except Exception:
        text = "<the message could not be read>"
    return text[:2000]


def _safe_repr(value: Any) -> str:
    try:
        text = _repr(value)
    except Exception:
        text = f"<a {_type(value).__name__}>"
    return text[:300]
