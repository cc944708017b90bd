import sys
from pathlib import Path

# The kit's root, so that tests import `checker` and `tests.mutation` from the checkout.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
