"""Check one staged submission in a process of its own, for batch grading.

    python -m checker.grade_worker FOLDER [EXERCISE ...] [--seed N]

writes `{"result": <the check JSON of FOLDER>, "crashed": <bool>}` to
standard output (a pipe the grader reads) and nothing else. `crashed` says
that a test process died under a signal or an exit of its own: the
student's code may have done that, or another submission's code may have
killed it, so the grader checks such a submission again, alone. Each
submission gets a worker of its own, so a submission whose code kills the
process that checks it takes down only its own worker.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from . import runner
from .outcomes import Outcome


def main(argv: list[str]) -> int:
    runner.refuse_inspection()
    from . import api, manifest

    seed = None
    if "--seed" in argv:
        at = argv.index("--seed")
        seed, argv = int(argv[at + 1]), argv[:at] + argv[at + 2 :]
    folder, words = Path(argv[0]), argv[1:]
    exercises = manifest.select(words)
    crashed = False
    try:
        result, log = api.run_check_logged(folder, exercises, seed=seed)
        # A crash at the memory cap is the submission's own; any other may
        # come from another submission running alongside (grade retries it alone).
        crashed = any(record.outcome is Outcome.CRASHED and record.limit is None for record in log.records.values())
    except Exception as error:  # a checker bug still leaves a grade behind
        result = api.failed_to_run(folder, exercises, f"{type(error).__name__}: {error}", seed)
    sys.stdout.write(json.dumps({"result": result.to_json(), "crashed": crashed}))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
