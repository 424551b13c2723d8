"""The class's checked exercises, for the teacher's board: what each learner's checks came to,
read by the component that writes them (service.py keeps one small JSON file per browser under
DATA_DIR/exercises/progress, with the class's hash of the session, never the session id)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from app.components.checkpoint_exercise.exercises import ORDER


def progress_dir(data_dir: Path) -> Path:
    return data_dir / "exercises" / "progress"


@dataclass
class ExerciseTry:
    """One learner's checks of one exercise in this class."""

    solved: bool = False
    checks: int = 0
    failed: int = 0
    last_diagnosis: str | None = None
    diagnoses: dict[str, int] = field(default_factory=dict)  # diagnosis of failed checks -> how many
    updated: float = 0.0


class ClassProgress:
    """Every learner's checks, read again only from the files that changed since."""

    def __init__(self, data_dir: Path) -> None:
        self.folder = progress_dir(data_dir)
        self._parsed: dict[str, tuple[tuple[int, int], dict]] = {}  # file -> ((mtime, size), data)

    def version(self) -> int:
        """Changes whenever a learner's progress is written: each write replaces its file
        (os.replace), which changes the folder's mtime. One stat, no reading."""
        try:
            return os.stat(self.folder).st_mtime_ns
        except OSError:
            return 0

    def since(self, started: float) -> dict[str, dict[str, ExerciseTry]]:
        """class hash -> exercise id -> the checks run since `started` (the class's start)."""
        out: dict[str, dict[str, ExerciseTry]] = {}
        seen = set()
        try:
            entries = list(os.scandir(self.folder))
        except OSError:
            entries = []
        for entry in entries:
            if not entry.name.endswith(".json"):
                continue
            try:
                st = entry.stat()
            except OSError:
                continue
            seen.add(entry.name)
            key = (st.st_mtime_ns, st.st_size)
            kept = self._parsed.get(entry.name)
            if kept is None or kept[0] != key:
                try:
                    data = json.loads(Path(entry.path).read_text())
                except (OSError, ValueError):
                    continue
                kept = self._parsed[entry.name] = (key, data if isinstance(data, dict) else {})
            learner = kept[1].get("_learner")
            if not isinstance(learner, str):
                continue  # written before the dashboard read exercises: no way to tell whose
            tries = _tries(kept[1], started, st.st_mtime)
            if tries:
                out[learner] = tries
        for name in set(self._parsed) - seen:
            del self._parsed[name]
        return out


def _tries(data: dict, started: float, mtime: float) -> dict[str, ExerciseTry]:
    tries = {}
    for ex in ORDER:
        raw = data.get(ex)
        if not isinstance(raw, dict):
            continue
        updated = float(raw.get("updated") or mtime)
        if updated < started:
            continue
        failed = int(raw.get("failures", 0))
        tries[ex] = ExerciseTry(
            solved=bool(raw.get("solved")),
            checks=int(raw.get("checks", failed + bool(raw.get("solved")))),
            failed=failed,
            last_diagnosis=raw.get("last_diagnosis"),
            diagnoses={str(k): int(v) for k, v in (raw.get("diagnoses") or {}).items()},
            updated=updated,
        )
    return tries
