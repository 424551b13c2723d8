"""What each fragment of the simulator shows, decided here in Python; the templates only show it.

`lineage_view` reads one lineage (SQLite, run folders: blocking) and returns a `LineageView`
whose parts are the fragments: `now` (status line and Crash), `choices` and `naive` (the
checkpoints list), `ledger`, `order`, `figures` (drawn on first use), the files on disk.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import cached_property

from app import i18n
from app.components.checkpoint_simulator import data_order, service, words
from app.components.checkpoint_simulator.figures import Figures, build_figures, order_strip
from app.components.checkpoint_simulator.ledger import Ledger
from app.components.checkpoint_simulator.schemas import RESTORE_MODES
from app.components.checkpoint_simulator.strings import PIECE_LABELS, RESTORE_LABELS, STATUS
from app.jobs.protocol import JobBackend, Run, RunStatus

PREFIX = "/components/checkpoint-simulator"


def fmt(v: float | None, digits: int = 4) -> str:
    return "–" if v is None else f"{v:.{digits}g}"


def crash_plan(run: Run) -> tuple[str, int | None]:
    """The run's planned crash: ("none" | "at_epoch" | "while_saving", epoch)."""
    crash = run.options.crash
    return crash.how, crash.epoch


def lineage_name(root: Run, lang: str) -> str:
    """What tells one lineage from another: its crash plan, when it started, a short id."""
    plan, epoch = crash_plan(root)
    when = time.strftime("%H:%M", time.localtime(root.created))
    return f"{i18n.t(lang, 'cs.lineage_plan.' + plan).format(epoch=epoch)} · {when} · #{root.id[:6]}"


@dataclass
class Choice:
    """A checkpoint of the first run in the list, with torch's verdict and its resume labels."""

    file: str
    key: str
    name: str
    latest: bool
    ok: bool | None
    error: str | None
    menu: str
    all: str
    resumable: bool


@dataclass
class Naive:
    """The naive writer's latest.pt: its size, torch's verdict and what that means."""

    bytes: int
    ok: bool | None
    error: str | None
    why: str | None  # a failed load in plain words: the file was cut off mid-write


@dataclass
class Now:
    """The status line and the one action that fits it."""

    run_id: str
    status: str
    status_name: str
    line: str  # the main sentence
    strong: bool  # training or crashed: the line is the news
    bad: bool
    note: str | None = None  # a second, smaller line (steps lost; before any checkpoint)
    warn: str | None = None  # a notice: interrupted, or nothing to resume from
    error: str | None = None  # a failed run's error
    queue: str | None = None
    crash_label: str | None = None  # the Crash button, while the run trains


@dataclass
class LineageView:
    lang: str
    view: str
    roots: list[Run]
    lin: service.Lineage
    ledger: Ledger
    first: service.Segment
    choices: list[Choice]
    naive: Naive | None
    now: Now
    mid_epoch: bool
    finished_note: str | None  # a finished run: nothing left to train from its final checkpoint
    restore_labels: dict = field(default_factory=dict)
    status_names: dict = field(default_factory=dict)

    prefix = PREFIX
    modes = RESTORE_MODES

    @property
    def root(self) -> Run:
        return self.lin.root

    @property
    def resume_from(self) -> Choice | None:
        return next((c for c in self.choices if c.resumable), None)

    @property
    def can_resume(self) -> bool:
        return self.resume_from is not None

    @property
    def show_ledger(self) -> bool:
        return bool(self.first.crash or self.ledger.tried or not self.root.active)

    @property
    def no_checkpoints(self) -> str:
        """The empty checkpoints list: none yet, or none ever (crashed before the first)."""
        every = self.root.config["checkpoint_every"]
        return i18n.t(self.lang, "cs.no_ckpt_crashed" if self.first.crash else "cs.no_ckpt_yet").format(
            every=every
        )

    @property
    def ledger_empty(self) -> str:
        """What the empty ledger asks for: a crash, or (after a crash with nothing saved) a new run."""
        if self.first.crash and not self.first.checkpoints:
            return i18n.t(self.lang, "cs.ledger_no_checkpoint")
        if self.finished_note:
            return self.finished_note
        return i18n.t(self.lang, "cs.ledger_empty")

    @cached_property
    def figures(self) -> Figures:
        return build_figures(self.lin, self.ledger, self.lang, self.view)

    @cached_property
    def costs(self) -> dict[str, str]:
        return {r.mode: words.cost(r, self.lang, self.ledger.margin) for r in self.ledger.rows}

    @cached_property
    def guesses(self) -> dict[str, list[tuple[str, bool]]]:
        return {r.mode: words.guesses(r, self.lang) for r in self.ledger.rows}

    @property
    def conclusion(self) -> str | None:
        return words.conclusion(self.ledger, self.lang)

    @property
    def margin_pct(self) -> str:
        return f"{self.ledger.margin * 100:.0f}"

    @property
    def pieces(self) -> dict[str, str]:
        return PIECE_LABELS[self.lang]

    @cached_property
    def order(self) -> dict | None:
        return order_context(self.lin, self.lang)

    @property
    def announce(self) -> str:
        return announcement(self)

    def name(self, run: Run) -> str:
        return lineage_name(run, self.lang)


def _steps_lost(lin: service.Lineage) -> int | None:
    """Training steps done after the last checkpoint that a crash took with it."""
    seg = lin.segments[0]
    if not seg.crash or not lin.steps_per_epoch:
        return None
    saved = max((cp.epoch * lin.steps_per_epoch + cp.batch for cp in seg.checkpoints), default=0)
    return max(int(seg.crash.get("step", 0)) - saved, 0)


def _choices(seg: service.Segment, steps: int | None, lang: str) -> list[Choice]:
    """The first run's checkpoints a resume may start from, newest first, with torch's verdict.
    A finished run's final checkpoint has nothing left to train: listed, never offered."""
    verdict = {f["file"]: f for f in (seg.survivors or {}).get("files", [])}
    final = seg.run.status == RunStatus.DONE
    total = int(seg.run.config["epochs"])
    out = []
    for cp in reversed(seg.checkpoints):
        check = verdict.get(f"checkpoints/{cp.file}")
        where = {"epoch": cp.epoch + 1, "batch": cp.batch, "batches": steps or "?"} if cp.batch else None
        fill = where or {"epoch": cp.epoch}
        ok = None if check is None else bool(check["ok"])
        out.append(
            Choice(
                file=cp.file,
                key=cp.key,
                name=i18n.t(lang, "cs.ckpt_mid").format(**where)
                if where
                else f"{i18n.t(lang, 'cs.epoch')} {cp.epoch}",
                latest=cp.latest,
                ok=ok,
                error=check.get("error") if check else None,
                menu=i18n.t(lang, "cs.resume_menu_mid" if where else "cs.resume_menu").format(**fill),
                all=i18n.t(lang, "cs.resume_all_mid" if where else "cs.resume_all").format(**fill),
                resumable=not seg.run.active and ok is not False and not (final and cp.epoch >= total),
            )
        )
    return out


def naive_why(lang: str, intact: bool = False) -> str:
    """A naive file torch.load rejected, in plain words: cut off mid-write, a truncated archive."""
    keys = ["cs.naive_why", "cs.naive_errno", *(["cs.atomic_ok"] if intact else [])]
    return ("" if lang == "zh" else " ").join(i18n.t(lang, k) for k in keys)


def _naive(seg: service.Segment, lang: str, intact: bool) -> Naive | None:
    if seg.naive_bytes is None or not (seg.crash or seg.survivors):
        return None
    check = next((f for f in (seg.survivors or {}).get("files", []) if f["file"] == "naive/latest.pt"), None)
    ok = None if check is None else bool(check["ok"])
    return Naive(
        bytes=seg.naive_bytes,
        ok=ok,
        error=check.get("error") if check else None,
        why=naive_why(lang, intact) if ok is False else None,
    )


def _now(lin: service.Lineage, lang: str) -> Now:
    t = lambda key, **kw: i18n.t(lang, key).format(**kw)  # noqa: E731
    seg = lin.segments[0]
    root = lin.root
    status = str(root.status)
    now = Now(root.id, status, STATUS[lang][status], "", strong=False, bad=False)
    every = int(root.config["checkpoint_every"])
    if status == RunStatus.RUNNING:
        live = seg.live or {}
        now.line = t("cs.now_training", epoch=live.get("epoch") or 0, total=root.config["epochs"])
        if live.get("val_loss") is not None:
            now.line += f" · {t('cs.val_loss')} {fmt(live['val_loss'], 3)}"
        if live.get("acc") is not None:
            now.line += f" · {t('cs.acc')} {100 * live['acc']:.1f}%"
        now.strong = True
        saved = [cp for cp in seg.checkpoints if not cp.batch] or seg.checkpoints
        now.crash_label = (
            t("cs.crash_after", epoch=saved[-1].epoch) if saved else t("cs.crash_before", epoch=every)
        )
    elif status in (RunStatus.QUEUED, RunStatus.PLANNED):
        now.line = t("cs.now_waiting")
        now.queue = t("cs.queue", n=seg.queue_position) if seg.queue_position else None
    elif seg.crash:
        how = t("cs.how." + str(seg.crash.get("how", "button")))
        now.line = "✕ " + t(
            "cs.crashed_at", epoch=seg.crash.get("epoch"), step=seg.crash.get("step"), how=how
        )
        now.strong = now.bad = True
        lost = _steps_lost(lin)
        now.note = t(i18n.one("cs.lost_note", lost), n=lost) if lost else None
        if not seg.checkpoints:
            now.warn = t("cs.before_checkpoint", every=every)
    elif seg.epochs:
        last = seg.epochs[-1]
        now.line = f"{t('cs.val_loss')} {fmt(last.val_loss, 3)} · {t('cs.acc')} {100 * last.acc:.1f}%"
    if status == RunStatus.INTERRUPTED:
        now.warn = t("cs.interrupted_note")
    if status == RunStatus.FAILED and root.error:
        now.error = root.error
    return now


def lineage_view(jobs: JobBackend, lang: str, roots: list[Run], root: Run, view: str) -> LineageView:
    """The lineage headed by `root` as every fragment shows it (blocking: SQLite, run folders)."""
    lin = service.current_lineage(jobs, root)[0]
    first = lin.segments[0]
    done = first.run.status == RunStatus.DONE
    choices = _choices(first, lin.steps_per_epoch, lang)
    return LineageView(
        lang=lang,
        view=view,
        roots=roots,
        lin=lin,
        ledger=service.build_ledger(lin),
        first=first,
        choices=choices,
        naive=_naive(first, lang, any(c.resumable for c in choices)),
        now=_now(lin, lang),
        mid_epoch=bool(root.config.get("mid_epoch_checkpoint")),
        finished_note=i18n.t(lang, "cs.finished_note") if done else None,
        restore_labels=RESTORE_LABELS[lang],
        status_names=STATUS[lang],
    )


def order_context(lin: service.Lineage, lang: str) -> dict | None:
    """The interrupted epoch's data order, rows with their sentence and strip, or None."""
    view = data_order.build(lin)
    if view is None:
        return None
    labels = RESTORE_LABELS[lang]
    ref_text = data_order.reference_sentence(view, lang)
    ref_label = i18n.t(lang, "cs.reference") if view.reference_same_order else i18n.t(lang, "cs.original")
    ref_label = ref_label[:1].upper() + ref_label[1:]
    strip = order_strip(
        [[0, 0]] * view.batches, view.batch_size, view.samples, view.before, f"{ref_label}: {ref_text}"
    )
    rows = [
        {
            "mode": "reference",
            "label": ref_label,
            "sentence": ref_text,
            "twice": 0,
            "never": 0,
            "strip": strip,
        }
    ]
    for r in view.rows:
        text = data_order.sentence(r, view, lang)
        label = labels[r.mode][0]
        rows.append(
            {
                "mode": r.mode,
                "label": label,
                "sentence": text,
                "twice": r.twice,
                "never": r.never,
                "kind": r.kind,
                "run_id": r.run_id,
                "strip": order_strip(
                    r.per_batch, view.batch_size, view.samples, view.before, f"{label}: {text}"
                ),
            }
        )
    return {"view": view, "summary": data_order.summary(view, lang), "rows": rows}


def announcement(v: LineageView) -> str:
    """A sentence for screen readers; it changes with the run's state, not with every step."""
    t = lambda key, **kw: i18n.t(v.lang, key).format(**kw)  # noqa: E731
    root, n = v.root, len(v.first.checkpoints)
    parts = []
    if root.status in (RunStatus.QUEUED, RunStatus.PLANNED):
        parts.append(t("cs.now_waiting"))
    elif root.status == RunStatus.RUNNING:
        parts.append(t("cs.announce.running"))
    elif v.first.crash:
        parts.append(t(i18n.one("cs.announce.crashed", n), epoch=v.first.crash.get("epoch"), n=n))
    elif root.status == RunStatus.DONE:
        parts.append(t(i18n.one("cs.announce.done", n), n=n))
    if v.ledger.tried:
        done = sum(1 for r in v.ledger.rows if r.identical is not None)
        parts.append(t("cs.announce.ledger", done=done, total=len(v.ledger.rows)))
    return " ".join(parts)
