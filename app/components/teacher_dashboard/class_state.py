"""What the teacher's side keeps of its own, in DATA_DIR/teacher/class.json: learners' numbers (keyed
by a hash of the session id, never the id), optional display names, and the archives. An archive
lists the lineages it took out of the current class plus a snapshot of their export rows
(DATA_DIR/teacher/archive-<id>.json): the runs stay on disk, restoring puts them back."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import secrets
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

NAME_MAX = 40


# Asked for every run on every rebuild of the board (twice a second while a class trains): a
# session's hash never changes, so it is worked out once.
@functools.lru_cache(maxsize=8192)
def session_hash(session: str) -> str:
    return hashlib.sha256(("learner:" + session).encode()).hexdigest()[:20]


def clean_name(name: str) -> str:
    """A display name as typed, trimmed to one short line of printable characters."""
    text = "".join(ch for ch in name if ch.isprintable()).strip()
    return " ".join(text.split())[:NAME_MAX]


def _atomic_write(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp-{secrets.token_hex(4)}")
    with open(tmp, "w") as f:
        json.dump(data, f, ensure_ascii=False)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class ClassState:
    """Learner numbers, display names and archives, in one small JSON file."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / "class.json"
        self._lock = threading.RLock()
        try:
            data = json.loads(self.path.read_text())
        except (FileNotFoundError, ValueError):
            data = {}
        self.numbers: dict[str, int] = data.get("numbers", {})
        self.names: dict[str, str] = data.get("names", {})
        self.archives: list[dict] = data.get("archives", [])
        self.started: float = data.get("started", time.time())
        self.teacher_seen: float = data.get("teacher_seen", 0.0)
        self.generation = 0  # bumped on every change: part of the board's cache key

    def _save(self) -> None:
        self.generation += 1
        _atomic_write(
            self.path,
            {
                "numbers": self.numbers,
                "names": self.names,
                "archives": self.archives,
                "started": self.started,
                "teacher_seen": self.teacher_seen,
            },
        )

    def mark_teacher(self) -> None:
        """A teacher is using the dashboard (written at most once a minute)."""
        if time.time() - self.teacher_seen > 60:
            with self._lock:
                self.teacher_seen = time.time()
                self._save()

    def in_class(self, hours: float) -> bool:
        """A teacher has used the dashboard lately: chapters then offer learners the name field."""
        return time.time() - self.teacher_seen < hours * 3600

    def number(self, session: str) -> int:
        return self.number_of(session_hash(session))

    def number_of(self, h: str) -> int:
        """The learner's number by the class's hash of their session (what exercise progress keeps)."""
        if h not in self.numbers:
            self.number_all([h])
        return self.numbers[h]

    def number_all(self, hashes: Iterable[str]) -> None:
        """Numbers for the learners not numbered yet, in the order given, in one write: a class's
        sixty learners reach the board within a second, and a write each (the whole file, synced)
        was about a quarter of the time of the board's rebuilds then."""
        new = [h for h in dict.fromkeys(hashes) if h not in self.numbers]
        if not new:
            return
        with self._lock:
            n = max(self.numbers.values(), default=0)
            for h in new:
                if h not in self.numbers:
                    n = self.numbers[h] = n + 1
            self._save()

    def set_name(self, session: str, name: str) -> str:
        name = clean_name(name)
        with self._lock:
            h = session_hash(session)
            if name:
                self.names[h] = name
            else:
                self.names.pop(h, None)
            self.number_of(h)
            self._save()
        return name

    def name(self, session: str) -> str | None:
        return self.names.get(session_hash(session))

    def name_of(self, h: str) -> str | None:
        return self.names.get(h)

    def archived_roots(self) -> set[str]:
        """Lineages kept out of the current class: those of archives not restored since."""
        return {root for a in self.archives if not a.get("restored") for root in a["roots"]}

    def archive(self, roots: list[str], rows: list[dict], counts: dict[str, int]) -> dict:
        with self._lock:
            entry = {
                "id": time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(2),
                "created": time.time(),
                "class_started": self.started,
                "roots": roots,
                # Counted as the dashboard counts: first runs and resumes apart.
                "runs": counts["runs"],
                "resumes": counts["resumes"],
                "learners": counts["learners"],
                "restored": None,
            }
            # The numbers (and names) go with the archive: a restore gives every learner back the
            # number its rows (and its CSV) carry.
            kept = {**entry, "rows": rows, "numbers": self.numbers, "names": self.names}
            _atomic_write(self.folder / f"archive-{entry['id']}.json", kept)
            self.archives.append(entry)
            # A fresh class: numbers start again at 1, names are forgotten.
            self.numbers, self.names, self.started = {}, {}, time.time()
            self._save()
            return entry

    def _archive_file(self, archive_id: str) -> dict | None:
        if not any(a["id"] == archive_id for a in self.archives):
            return None
        try:
            return json.loads((self.folder / f"archive-{archive_id}.json").read_text())
        except (FileNotFoundError, ValueError):
            return {}

    def archive_entry(self, archive_id: str) -> dict | None:
        return next((a for a in self.archives if a["id"] == archive_id), None)

    def archived_rows(self, archive_id: str) -> list[dict] | None:
        data = self._archive_file(archive_id)
        return None if data is None else data.get("rows", [])

    def restore(self, archive_id: str) -> dict | None:
        """Put an archive's lineages back into the current class (joining whatever is there). The
        archive stays listed, marked restored. Its learners get their archived numbers back; a
        learner of the current class whose number that takes moves to the next free number."""
        with self._lock:
            entry = self.archive_entry(archive_id)
            data = self._archive_file(archive_id)
            if entry is None or data is None:
                return None
            if entry.get("restored"):
                return entry
            entry["restored"] = time.time()
            archived: dict[str, int] = data.get("numbers", {})
            numbers = dict(archived)
            used, moved = set(numbers.values()), []
            for h, n in sorted(self.numbers.items(), key=lambda kv: kv[1]):
                if h in numbers:
                    continue
                if n in used:
                    moved.append(h)
                else:
                    numbers[h] = n
                    used.add(n)
            for h in moved:
                numbers[h] = max(used, default=0) + 1
                used.add(numbers[h])
            self.numbers = numbers
            self.names = {**data.get("names", {}), **self.names}
            self.started = min(self.started, entry.get("class_started", self.started))
            self._save()
            return entry
