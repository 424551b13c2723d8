"""What the run service answers from its records (the store), for the web layer: the `JobBackend`
reads that do not depend on the runs' processes."""

from __future__ import annotations

from pathlib import Path

from app.jobs.records import EpochRow, Run, reference_key
from app.jobs.store import RunStore


class Reading:
    store: RunStore
    runs_dir: Path

    def run_dir(self, run_id: str) -> Path:
        return self.runs_dir / run_id

    def run(self, run_id: str) -> Run | None:
        return self.store.get(run_id)

    def session_runs(self, session: str) -> list[Run]:
        return self.store.for_session(session)

    def lineage_runs(self, root_id: str) -> list[Run]:
        return self.store.lineage(root_id)

    def reference_run(self, config: dict) -> Run | None:
        return self.store.reference(reference_key(config))

    def epochs(self, run_id: str) -> list[EpochRow]:
        return self.store.epochs(run_id)

    def events(self, run_id: str, kind: str | None = None) -> list[dict]:
        return self.store.events(run_id, kind)

    def version(self, root_id: str) -> int:
        return self.store.version(root_id)

    def session_version(self, session: str) -> int:
        return self.store.session_version(session)

    def session_runs_version(self, session: str) -> int:
        return self.store.session_runs_version(session)

    def class_runs(self) -> list[Run]:
        """Every learner's first runs and resumes (not the shared references), oldest first."""
        return self.store.learner_runs()

    def class_version(self) -> int:
        return self.store.changes()
