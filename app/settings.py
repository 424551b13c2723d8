"""What a person running the lesson may set, from the environment (or a .env file), in five groups:
the server, the classroom's limits, teacher mode, the checked exercises, and training on other
machines. The names are the environment variables' (case does not matter: `MAX_WORKERS=4`).

Tuning of the machinery itself (ticks, polling gaps, thresholds) is not here: it lives as a
constant beside the code it tunes."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    # --- The server ---------------------------------------------------------------------------------
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "info"
    # Runs, checkpoints, reports, progress and the kept keys.
    data_dir: Path = REPO_ROOT / "data"
    # The chapters (Markdown), rescanned while the server runs.
    tutorials_dir: Path = REPO_ROOT / "tutorials"
    # Signs the session cookie. Empty: a random key is made once and kept in DATA_DIR,
    # so sessions survive a restart without anyone having to configure a secret.
    secret_key: str = ""
    # Host names the server answers to, comma-separated ("*": any). The default suits a
    # HOST=0.0.0.0 classroom, where students use an address the server cannot know in advance;
    # no response echoes the Host header either way (redirects are relative).
    allowed_hosts: str = "*"
    # Addresses of a reverse proxy whose X-Forwarded-For names the real client, comma-separated.
    # Empty: nobody's is believed, so the per-address limits count the connection's own address.
    forwarded_allow_ips: str = ""
    # Pretrained source models of the transfer lesson; by default inside DATA_DIR. Several servers
    # (or test runs) may share one folder so that pretraining happens once.
    pretrained_dir: Path | None = None
    # Answer every transfer-lesson load view in the background once the sources exist.
    transfer_prewarm: bool = True

    # --- Classroom limits ---------------------------------------------------------------------------
    # Runs training at once at full speed. Two cores by default: one torch thread per worker
    # process scales; more oversubscribe and collapse (see bench/).
    max_workers: int = Field(default=2, ge=1, le=64)
    # Runs at the form's watching pace (>= 100 ms after each epoch) beside those: each sleeps
    # ~95 % of its time, so it takes a process (~30-60 MB of its own), hardly a core. 0: paced
    # runs wait for MAX_WORKERS like any other. Worker nodes (JOB_BACKEND=celery) ignore it.
    paced_workers: int = Field(default=4, ge=0, le=64)
    # Runs waiting in all.
    queue_max: int = Field(default=300, ge=1)
    # Waiting runs per client address. A classroom behind one NAT shares one address: 120 lets
    # 60 learners each keep two runs waiting (a run and a resume, or a resume and its reference)
    # while one address can never hold more than 40% of QUEUE_MAX.
    queue_per_address: int = Field(default=120, ge=1)
    # New sessions per client address per minute. A class of 60 opening the page together fits
    # twice over; a script making a fresh cookie per request does not. Past it, pages still load,
    # but nothing can be started until the minute is over.
    new_sessions_per_minute: int = Field(default=120, ge=1)
    max_active_runs_per_session: int = Field(default=3, ge=1)
    max_stored_runs_per_session: int = Field(default=30, ge=1)
    max_epochs: int = Field(default=200, ge=1)
    # All runs' files together; past it, whole finished runs (with their resumes) go, oldest first.
    disk_cap_mb: int = Field(default=2000, ge=10)
    # A browser's runs, checkpoints and reports are removed after this long without activity
    # (nothing started, nothing written), cookieless leftovers included.
    session_ttl_days: float = Field(default=3.0, gt=0)
    # Open event streams (one per open chapter page) per browser and in all: several tabs
    # each, and a class of 60 with room to spare. Past either, a page is told to come back in
    # 30 s instead of holding a connection.
    streams_per_session: int = Field(default=4, ge=1)
    streams_max: int = Field(default=400, ge=1)
    # Throwaway sandbox processes at once in the whole server (inspections, labs, transfer
    # views): each may use INSPECT_MEMORY_MB, so a class clicking together waits, not forks 60.
    sandboxes_max: int = Field(default=4, ge=1, le=64)
    # One sandbox's time and memory.
    inspect_timeout_s: float = Field(default=20.0, gt=0)
    inspect_memory_mb: int = Field(default=1024, ge=128)
    # Uploaded checkpoints: size, how many may wait for a sandbox (past it: "try again"; each
    # waiting upload keeps its file on disk), and uploads in flight per browser.
    upload_max_mb: int = Field(default=50, ge=1)
    inspect_waiting_max: int = Field(default=30, ge=0)
    uploads_per_session: int = Field(default=2, ge=1)
    # Inspection reports kept per browser, for how long, and all browsers' together at most
    # (past it, the least recently used browsers' go first).
    reports_per_session: int = Field(default=5, ge=1, le=100)
    report_ttl_hours: float = Field(default=72.0, gt=0)
    reports_disk_mb: int = Field(default=200, ge=1)

    # --- Teacher mode -------------------------------------------------------------------------------
    # Empty key: one is made at first start, kept in DATA_DIR/teacher.key and printed once in
    # the log with the dashboard's link.
    teacher_key: str = ""
    teacher_cookie_hours: float = Field(default=12.0, gt=0)
    # Wrong teacher keys per client address per minute; past it even the right key waits.
    teacher_wrong_keys_per_minute: int = Field(default=10, ge=1)
    # A learner with no run written for this long (and nothing training) is shown as idle.
    teacher_idle_minutes: float = Field(default=5.0, gt=0)

    # --- Checked code exercises ---------------------------------------------------------------------
    # "sandbox" runs the learner's code under bubblewrap; "assemble" offers the same exercises as
    # lines to pick and order; "off" hides them; "auto" is sandbox when bubblewrap is usable
    # here, else assemble.
    code_exercises: Literal["auto", "sandbox", "assemble", "off"] = "auto"
    exercise_checks_at_once: int = Field(default=1, ge=1, le=8)
    exercise_waiting_max: int = Field(default=30, ge=0)
    exercise_code_max_kb: int = Field(default=20, ge=1, le=200)
    exercise_timeout_s: float = Field(default=60.0, ge=5)
    exercise_checks_per_session_per_minute: int = Field(default=6, ge=1)

    # --- Training on other machines -----------------------------------------------------------------
    # "local": a forkserver pool on this machine, MAX_WORKERS processes. "celery": worker nodes
    # started with `python -m app.worker`, reached through Redis; this node keeps the queue,
    # fairness and SQLite, and MAX_WORKERS is how many runs it keeps on the nodes at once (at
    # most their cores together). DATA_DIR must then be one filesystem shared by every node:
    # checkpoints are written there by the node that trains.
    job_backend: Literal["local", "celery"] = "local"
    redis_url: str = "redis://127.0.0.1:6379/0"
    celery_queue: str = "checkpoint-lab"
    # A worker node: runs at once (0: one per core), and its Celery node name ("": run@<host>).
    worker_concurrency: int = Field(default=0, ge=0, le=256)
    worker_name: str = ""
    # How soon a lost node is noticed: its runs are "interrupted" at most 2 x HEARTBEAT_TTL_S
    # + 1 s after its last heartbeat (it beats every second).
    heartbeat_ttl_s: float = Field(default=5.0, ge=2)

    @property
    def allowed_host_list(self) -> list[str]:
        return [h.strip() for h in self.allowed_hosts.split(",") if h.strip()] or ["*"]

    @property
    def paced_places(self) -> int:
        """PACED_WORKERS where runs train on this machine; none on worker nodes, where every
        run takes one of a node's fixed slots."""
        return 0 if self.job_backend == "celery" else self.paced_workers

    @property
    def runs_dir(self) -> Path:
        return self.data_dir / "runs"

    @property
    def pretrained_path(self) -> Path:
        return self.pretrained_dir or self.data_dir / "pretrained"

    @property
    def db_path(self) -> Path:
        return self.data_dir / "lab.sqlite3"


@lru_cache
def get_settings() -> Settings:
    return Settings()
