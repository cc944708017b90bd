"""The backprop kit's checker: hidden suites run on student code, judged apart from it."""

__version__ = "0.1.0"


def check(selector, *functions, **options):
    """Grade functions written in a notebook: `check("unbroadcast", unbroadcast)`.

    See checker/notebook.py. Imported on first call, so that `import checker`
    (which every command does) stays cheap.
    """
    from .notebook import check as check_in_notebook

    return check_in_notebook(selector, *functions, **options)
