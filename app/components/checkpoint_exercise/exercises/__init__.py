"""The exercises, one module per exercise, each defining EXERCISE (plain data).

Fields: id; kind (which of the learner's functions the check uses: save_checkpoint and/or
load_checkpoint); title, task, hints (zh/en); scaffold (the editor's starting code, the learner's
part marked TODO); solution (the reference, shown on request after a failed check); bank (the
lines of assemble mode: the solution's body lines plus distractors, in the order shown).
"""

from __future__ import annotations

import importlib
import pkgutil

EXERCISES: dict[str, dict] = {}
for _info in pkgutil.iter_modules(__path__):
    _ex = importlib.import_module(f"{__name__}.{_info.name}").EXERCISE
    EXERCISES[_ex["id"]] = _ex
ORDER = sorted(EXERCISES, key=lambda k: EXERCISES[k]["order"])
