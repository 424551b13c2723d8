"""The components reach the job system only through its typed seam (app/jobs/protocol.py):
no `.store` (the SQLite store), no `.live` (the in-memory progress), no private attribute of the
job manager, and no import of the manager's or the store's modules. Read from the source with
`ast`, so a new route that reaches past the seam fails here, not on a Celery worker node."""

from __future__ import annotations

import ast

from tests.conftest import REPO

COMPONENTS = REPO / "app" / "components"
# What a component may import from app.jobs: the seam, and the sandbox helpers the labs call
# (they run a function in a throwaway process; they are not the job manager).
ALLOWED = {
    "app.jobs.protocol",
    "app.jobs.processes",
    "app.jobs.tasks",
    "app.jobs.lab_tasks",
    "app.jobs.sharded_tasks",
    "app.jobs.code_sandbox",
}
INTERNALS = {"store", "live"}


def _is_job_system(node: ast.expr) -> bool:
    """An expression that names the job manager: `jobs`, `self.jobs`, `request.app.state.jobs`,
    `manager(request)`, `service.manager(request)`."""
    if isinstance(node, ast.Name):
        return node.id in ("jobs", "manager", "backend")
    if isinstance(node, ast.Attribute):
        return node.attr == "jobs"
    if isinstance(node, ast.Call):
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        return name == "manager"
    return False


def violations(source: str, where: str = "<code>") -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and _is_job_system(node.value):
            if node.attr in INTERNALS or node.attr.startswith("_"):
                found.append(f"{where}:{node.lineno}: .{node.attr} on the job system")
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules = (
                [node.module] if node.module != "app.jobs" else [f"app.jobs.{a.name}" for a in node.names]
            )
            found += [
                f"{where}:{node.lineno}: imports {m}"
                for m in modules
                if m.startswith("app.jobs.") and m not in ALLOWED
            ]
        elif isinstance(node, ast.Import):
            found += [
                f"{where}:{node.lineno}: imports {a.name}"
                for a in node.names
                if a.name.startswith("app.jobs.") and a.name not in ALLOWED
            ]
    return found


def test_the_checker_flags_what_the_components_used_to_do():
    before = """
from app.jobs.manager import JobManager, reference_key
from app.jobs.store import EpochRow, Run
from app.jobs import store
import app.jobs.manager
run = manager(request).store.get(run_id)
runs = jobs.store.lineage(root)
live = jobs.live.get(run.id)
ref = self.jobs.store.reference(key)
old = request.app.state.jobs.store.for_session(sid)
n = jobs._queue
"""
    assert len(violations(before)) == 10
    # The inspector's own report store and a segment's live numbers are not the job system.
    fine = """
from app.jobs.protocol import JobBackend, LimitReached, Run
from app.jobs.processes import call_limited
reports = service.store(request).list(sid)
live = seg.live
run = jobs.run(run_id)
"""
    assert violations(fine) == []


def test_no_component_reaches_past_the_job_seam():
    found = []
    for path in sorted(COMPONENTS.rglob("*.py")):
        found += violations(path.read_text(), str(path.relative_to(REPO)))
    assert not found, "components must use app.jobs.protocol.JobBackend only:\n" + "\n".join(found)


def test_the_seam_has_what_the_components_use():
    """Every method a component calls on the job system is part of JobBackend (so that a second
    backend implementing the Protocol serves the components too)."""
    from app.jobs.protocol import JobBackend

    members = {name for name in dir(JobBackend) if not name.startswith("_")} | set(JobBackend.__annotations__)
    used = set()
    for path in COMPONENTS.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and _is_job_system(node.value):
                used.add(node.attr)
    assert used and used <= members, f"not in JobBackend: {sorted(used - members)}"


def _calls(tree: ast.AST, name: str) -> list[int]:
    """Lines that call `name(...)` or `x.name(...)`."""
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and (getattr(node.func, "id", None) == name or getattr(node.func, "attr", None) == name)
    ]


def _global_table(node: ast.AST) -> bool:
    """`i18n.STRINGS[...]` (or deeper subscripts of it)."""
    while isinstance(node, ast.Subscript):
        node = node.value
        if isinstance(node, ast.Attribute) and node.attr == "STRINGS":
            return True
    return False


def _writes_global_table(node: ast.AST) -> bool:
    if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store):
        return _global_table(node)
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("update", "setdefault")
        and _global_table(node.func.value)
    )


def test_one_rule_picks_the_language_and_components_declare_their_text():
    """Only app/i18n.py decides a request's language (request_lang) and fills the string table:
    a component's text comes with its Component(...) declaration, never from an import-time
    update of the global table."""
    found = []
    for path in sorted((REPO / "app").rglob("*.py")):
        if path == REPO / "app" / "i18n.py":
            continue
        tree = ast.parse(path.read_text())
        where = path.relative_to(REPO)
        found += [f"{where}:{line}: decides a language itself" for line in _calls(tree, "pick_language")]
        found += [
            f"{where}:{n.lineno}: writes i18n.STRINGS" for n in ast.walk(tree) if _writes_global_table(n)
        ]
    assert not found, "\n".join(found)
    # And the check sees both ways of writing it.
    bad = ast.parse('i18n.STRINGS["zh"].update({"k": "v"})\ni18n.STRINGS["en"]["k"] = "v"\n')
    assert sum(map(_writes_global_table, ast.walk(bad))) == 2


def test_the_dashboard_reads_no_other_components_data_itself():
    """Runs come from the job backend, exercise progress from checkpoint_exercise.progress: no SQL,
    no path into another component's part of DATA_DIR (only "teacher" is the board's own)."""

    def reads(src: str) -> list[str]:
        return [
            ast.unparse(n)
            for n in ast.walk(ast.parse(src))
            if (isinstance(n, ast.Constant) and any(w in str(n.value) for w in ("SELECT ", "PRAGMA ")))
            or (isinstance(n, ast.alias) and n.name == "sqlite3")
            or (isinstance(n, ast.Attribute) and n.attr in ("db_path", "runs_dir", "progress_dir"))
            or (
                isinstance(n, ast.BinOp)
                and "data_dir" in ast.unparse(n.left)
                and isinstance(n.right, ast.Constant)
                and n.right.value != "teacher"
            )
        ]

    assert len(reads('import sqlite3\nq("PRAGMA data_version")\ndb = s.db_path\np = s.data_dir / "x"')) == 4
    found = {p.name: reads(p.read_text()) for p in (COMPONENTS / "teacher_dashboard").glob("*.py")}
    assert not any(found.values()), found
