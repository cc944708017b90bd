"""Benchmarks of the kit against its performance budgets (not tests; see docs/performance.md).

    make bench        (or: python -m bench, from the repo root)

Each module measures one thing, with its reference measured in the same run,
and returns Results; __main__ prints them in one table. A measurement that
cannot be made here (PyTorch not installed) is reported as skipped.
"""
