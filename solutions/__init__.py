"""The reference solutions of the backprop kit: the exercise files, answered.

The given modules (core.py, functional.py) are not repeated here. They live
once, in exercises/, and this package finds them there, so `solutions.core`
is the very file students have. (The checker, too, takes the given modules a
checked folder lacks from exercises/.)
"""

from pathlib import Path

# Searched after this folder, so only the given modules are found there.
__path__.append(str(Path(__file__).resolve().parent.parent / "exercises"))
