"""Shared by the teacher's pages and JSON API: who is the teacher, the board, export, scenarios, charts."""

from __future__ import annotations

import csv
import io
from urllib.parse import urlencode

from fastapi import Request
from markupsafe import Markup
from pydantic import ValidationError

from app import i18n
from app.components import charts
from app.components.checkpoint_simulator import service as cs_service
from app.components.checkpoint_simulator.schemas import RunRequest
from app.components.checkpoint_simulator.strings import RESTORE_LABELS
from app.components.teacher_dashboard.classroom import Board, Classroom, label

# Scenario links: a component's settings under its prefix, e.g. sim.optimizer=sgd, and
# lock=sim.optimizer,sim.crash. The simulator's form field #cs-<name> and its JSON API field
# <name> (POST /api/checkpoint-simulator/runs) carry the same names without the prefix.
SIM_PREFIX = "sim."
SIM_FIELDS = (
    "epochs",
    "lr",
    "optimizer",
    "scheduler",
    "checkpoint_every",
    "keep_last",
    "seed",
    "pace_ms",
    "crash",
    "crash_epoch",
    "mid_epoch",
)
SIM_SWITCHES = ("scheduler", "mid_epoch")  # on/off: 1 or 0 in a link, as the simulator's checkboxes read them
EXPORT_COLUMNS = (
    "label",
    "learner",
    "run",
    "lineage",
    "kind",
    "status",
    "created",
    "epochs",
    "lr",
    "optimizer",
    "scheduler",
    "checkpoint_every",
    "keep_last",
    "seed",
    "crash_plan",
    "crash_epoch",
    "crashed",
    "restore",
    "from_epoch",
    "loss_change",
    "spike",
    "lr_ok",
    "order_same",
    "recovery_epochs",
    "final",
    "final_val_loss",
    "identical",
    "max_abs_diff",
)
# The export's second table: one row per learner and checked exercise tried in this class.
EXERCISE_COLUMNS = (
    "label",
    "learner",
    "exercise",
    "solved",
    "checks",
    "failed_checks",
    "last_diagnosis",
    "diagnoses",
)


# Each field's label in the builder (the simulator form's own words, shorter where those are long).
SIM_LABELS = {
    "epochs": "cs.epochs",
    "lr": "cs.lr",
    "optimizer": "cs.optimizer",
    "scheduler": "cs.scheduler",
    "checkpoint_every": "cs.checkpoint_every",
    "keep_last": "cs.keep_last",
    "seed": "cs.seed",
    "pace_ms": "cs.pace",
    "crash": "cs.crash_plan",
    "crash_epoch": "cs.crash_epoch",
    "mid_epoch": "tm.mid_epoch",
}


def field_labels(lang: str) -> dict[str, str]:
    return {name: i18n.t(lang, key) for name, key in SIM_LABELS.items()}


def classroom(request: Request) -> Classroom:
    return request.app.state.classroom


def export_rows(rows: list[dict], lang: str) -> list[dict]:
    return [{"label": label(lang, r["learner"]), **r} for r in rows]


def to_csv(rows: list[dict], columns: tuple[str, ...] = EXPORT_COLUMNS) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    return out.getvalue()


def exercise_rows(board: Board, lang: str) -> list[dict]:
    """The export's second table, anonymised like the runs: learner and exercise, solved, checks."""
    return [
        {
            "label": label(lang, lr.number),
            "learner": lr.number,
            "exercise": ex,
            "solved": e.solved,
            "checks": e.checks,
            "failed_checks": e.failed,
            "last_diagnosis": e.last_diagnosis,
            "diagnoses": ";".join(f"{d}:{k}" for d, k in sorted(e.diagnoses.items())),
        }
        for lr in board.learners
        for ex, e in lr.exercises.items()
    ]


def exercise_title(lang: str, exercise: str) -> str:
    """An exercise's title without its 'Exercise:' prefix."""
    from app.components.checkpoint_exercise.exercises import EXERCISES

    ex = EXERCISES.get(exercise)
    if ex is None:
        return exercise
    title = ex["title"][lang]
    return title.split("：", 1)[-1] if lang == "zh" else title.split(": ", 1)[-1]


def exercise_short(lang: str, exercise: str) -> str:
    from app.components.teacher_dashboard.strings import EXERCISE_SHORT

    return EXERCISE_SHORT[lang].get(exercise, exercise)


def diagnosis_name(lang: str, code: str | None) -> str:
    from app.components.teacher_dashboard.strings import DIAGNOSES

    if not code:
        return "–"
    return DIAGNOSES[lang].get(code, code)


LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")


def public_origin(request: Request) -> str:
    """Where learners reach this server, for links the teacher hands out. A teacher on the
    laptop itself sees http://127.0.0.1:8000, which no student can open: with HOST=0.0.0.0 the
    link names the laptop's address on the local network instead. Empty: the page's own origin."""
    from app.components.teacher_dashboard.auth import _lan_address

    settings = request.app.state.settings
    if request.url.hostname in LOOPBACK and settings.host in ("0.0.0.0", "::", ""):
        return f"http://{_lan_address()}:{settings.port}"
    return ""


def simulator_chapter(request: Request, lang: str) -> str | None:
    for chapter in request.app.state.library.chapters(lang):
        if "CheckpointSimulator" in chapter.rendered.components:
            return f"/{lang}/{chapter.slug}"
    return None


def scenario(
    request: Request, params: dict[str, str], locks: list[str], lang: str, link_lang: str | None = None
) -> dict:
    """A scenario's link and the simulator's own verdict on its values, in the page's language. While
    any value is refused there is no link: a link must never say something other than the form did."""
    from app.components.checkpoint_simulator.views import form_errors

    given = {
        k[len(SIM_PREFIX) :]: v
        for k, v in params.items()
        if k.startswith(SIM_PREFIX) and k[len(SIM_PREFIX) :] in SIM_FIELDS and v not in (None, "")
    }
    defaults = RunRequest.model_validate({}).model_dump()
    raw: dict = dict(given)
    for name in SIM_SWITCHES:
        if name in raw:
            raw[name] = str(raw[name]).lower() in ("1", "on", "true", "yes")
    if raw.get("crash", "none") == "none":
        raw.pop("crash_epoch", None)
    errors: dict[str, str] = {}
    body: dict | None = None
    try:
        body = RunRequest.model_validate(raw).model_dump(exclude_none=True)
    except ValidationError as exc:
        errors = form_errors(exc, lang)
    locks = [f for f in locks if f.startswith(SIM_PREFIX) and f[len(SIM_PREFIX) :] in SIM_FIELDS]
    query = []
    for name in SIM_FIELDS:
        if name not in given:
            continue
        value = raw.get(name, given[name])
        if SIM_PREFIX + name in locks or str(value) != str(defaults.get(name)):
            query.append(
                (SIM_PREFIX + name, ("1" if value else "0") if name in SIM_SWITCHES else str(given[name]))
            )
    if locks:
        query.append(("lock", ",".join(locks)))
    link_lang = link_lang or lang  # the errors speak the page's language, the link may be another
    page = simulator_chapter(request, link_lang) or f"/{link_lang}/"
    link = page + ("?" + urlencode(query) if query else "") + "#checkpoint-simulator"
    return {
        "link": None if errors else link,
        "query": dict(query),
        "locks": locks,
        "simulator_body": body,
        "errors": errors,
        "origin": public_origin(request),
    }


def learner_lineage(request: Request, board: Board, number: int):
    """The learner's latest lineage (the simulator's cached view of it), or None."""
    learner = board.learner(number)
    if learner is None or learner.latest_root is None:
        return None
    jobs = request.app.state.jobs
    root = jobs.run(learner.latest_root)
    if root is None:
        return None
    return cs_service.current_lineage(jobs, root)[0]


def learner_chart(request: Request, board: Board, number: int, lang: str) -> Markup | None:
    """The learner's latest lineage as a chart: first run, each resume, the reference (dashed). A
    resume has its mode's colour of the learner's own panels (figures.SERIES), whatever its order,
    and its label at the end of the line; two resumes of one mode share one legend entry."""
    from app.components.checkpoint_simulator.figures import SERIES

    lin = learner_lineage(request, board, number)
    if lin is None:
        return None
    t = lambda key, **kw: i18n.t(lang, key).format(**kw)  # noqa: E731
    series, markers = [], []
    for seg in lin.segments:
        points = [(float(e.epoch), e.loss) for e in seg.epochs]
        if seg.run.kind == "train":
            name, css = t("tm.series_first"), "series-1"
        else:
            mode = seg.restore or "everything"
            name = t("tm.series_resume", mode=RESTORE_LABELS[lang].get(mode, (mode,))[0])
            css = SERIES.get(mode, "series-4")
        series.append(charts.Series(name, points, css=css))
        if seg.crash:
            markers.append(charts.Marker(float(seg.crash.get("epoch") or 0), t("tm.crash"), "crash"))
    if lin.reference is not None:
        series.append(
            charts.Series(
                t("tm.series_reference"),
                [(float(e.epoch), e.loss) for e in lin.reference.epochs],
                css="series-5",
                dashed=True,
            )
        )
    chart = charts.Chart(
        title=t("tm.chart_title", label=label(lang, number)),
        y_label=t("tm.loss"),
        x_label=t("tm.epoch"),
        series=series,
        markers=markers,
        x_max=float(lin.epochs_total),
        width=640,
        height=290,
        line_labels=True,
    )
    return charts.render(chart, {"crash": t("tm.crash")})


def class_size(lang: str, counts: dict) -> str:
    """'3 learners, 8 runs and 21 resumes': a class (its board's counts, or an archive) counted
    as the dashboard counts it. Archives made before resumes were counted apart say 'runs'."""
    n = lambda key, k: i18n.tn(lang, key, k).format(n=k)  # noqa: E731
    if counts.get("resumes") is None:
        return i18n.t(lang, "tm.size_old").format(
            learners=n("tm.count_learners", counts["learners"]), runs=n("tm.count_rows", counts["runs"])
        )
    return i18n.t(lang, "tm.size").format(
        learners=n("tm.count_learners", counts["learners"]),
        runs=n("tm.count_runs", counts["runs"]),
        resumes=n("tm.count_resumes", counts["resumes"]),
    )


def fmt_change(v: float | None) -> str:
    return "–" if v is None else f"{v * 100:+.0f} %"


def fmt_num(v: float | None) -> str:
    if v is None:
        return "–"
    return f"{v:g}" if float(v).is_integer() else f"{v:.1f}"
