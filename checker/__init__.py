"""The backprop kit's checker: hidden suites run on student code, judged apart from it."""

__version__ = "0.1.0"
