"""The backprop kit's checker: hidden suites run on student code, judged apart from it."""

from pathlib import Path

__version__ = "0.1.0"

# The kit's folder: the one above this package (exercises/, solutions/, data/, ...).
KIT_ROOT = Path(__file__).resolve().parent.parent


def check(selector, *functions, **options):
    """Grade what you wrote in a notebook: `check("1.3")` takes what exercise 1.3
    needs from the notebook; `check("1.3", multiply_back0, multiply_back1)` names it.

    See checker/notebook.py. Imported on first call, so that `import checker`
    (which every command does) stays cheap.
    """
    from .notebook import check as check_in_notebook

    return check_in_notebook(selector, *functions, **options)


def hint(exercise, reset=False):
    """One more hint for an exercise, in a notebook: `hint("1.3")`."""
    from .notebook import hint as hint_in_notebook

    return hint_in_notebook(exercise, reset=reset)
