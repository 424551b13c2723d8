"""The simulator's pictures: the original run's timeline, one small panel per way of resuming
against the reference, and the learning rates. Drawn once per version of the lineage and cached."""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup

from app import i18n
from app.components import charts
from app.components.checkpoint_simulator import service
from app.components.checkpoint_simulator.ledger import Ledger
from app.components.checkpoint_simulator.strings import RESTORE_LABELS

SERIES = {
    "everything": "series-3",
    "weights": "series-6",
    "weights_optimizer": "series-2",
    "no_scheduler": "series-4",
    "no_rng": "series-7",
}


@dataclass
class Figures:
    timeline: Markup
    panels: list[tuple[str, Markup]]
    lr: Markup | None


def val_points(seg: service.Segment) -> list[tuple[float, float]]:
    return [(e.epoch, e.val_loss) for e in seg.epochs if e.val_loss is not None]


def train_points(seg: service.Segment, view: str) -> list[tuple[float, float]]:
    return service.step_points(seg) if view == "steps" else [(e.epoch, e.loss) for e in seg.epochs]


def lr_points(epochs) -> list[tuple[float, float]]:
    # The LR of epoch e holds from e-1 to e: a staircase needs each value at its epoch's start.
    return [(e.epoch - 1, e.lr) for e in epochs] + [(e.epoch, e.lr) for e in epochs[-1:]]


def _timeline(lin: service.Lineage, lang: str, view: str) -> Markup:
    tr = lambda key: i18n.t(lang, key)  # noqa: E731
    seg = lin.segments[0]
    steps = lin.steps_per_epoch or 1
    markers = [
        charts.Marker(
            cp.epoch + cp.batch / steps,
            f"{tr('cs.checkpoint')} {cp.epoch}" + (f"+{cp.batch}/{steps}" if cp.batch else ""),
            "checkpoint",
        )
        for cp in seg.checkpoints
    ]
    shades = []
    if seg.crash:
        x = seg.crash.get("epoch", 0)
        if lin.steps_per_epoch and seg.crash.get("step"):
            x = seg.crash["step"] / lin.steps_per_epoch
        markers.append(charts.Marker(x, tr("cs.crash"), "crash"))
        saved = max((cp.epoch + cp.batch / steps for cp in seg.checkpoints), default=0)
        shades.append(charts.Shade(saved, x, tr("cs.lost_work")))
    train_label = tr("cs.loss_chart") if view == "steps" else tr("cs.loss")
    series = [
        charts.Series(train_label, train_points(seg, view), "series-1"),
        charts.Series(tr("cs.val_loss"), val_points(seg), "series-2"),
    ]
    chart = charts.Chart(
        tr("cs.timeline"),
        "loss",
        tr("cs.epoch"),
        series,
        markers,
        x_max=lin.epochs_total,
        log_y=view == "steps",
        width=400,
        height=230,
        shades=shades,
        size="compact",
        toggles=True,
    )
    names = {"checkpoint": tr("cs.checkpoint"), "crash": tr("cs.crash")}
    return charts.render(chart, marker_names=names)


def _panel(lin: service.Lineage, seg: service.Segment, lang: str, view: str) -> Markup:
    tr = lambda key: i18n.t(lang, key)  # noqa: E731
    mode = seg.restore or "everything"  # a panel is drawn for resumes, which all have a mode
    points = val_points if view == "epochs" else (lambda s: service.step_points(s))
    series = []
    if lin.reference:
        series.append(charts.Series(tr("cs.reference"), points(lin.reference), "series-5", dashed=True))
    series.append(charts.Series(RESTORE_LABELS[lang][mode][0], points(seg), SERIES[mode]))
    title = (
        f"{RESTORE_LABELS[lang][mode][0]} — {tr('cs.val_chart') if view == 'epochs' else tr('cs.loss_chart')}"
    )
    chart = charts.Chart(
        title,
        "loss",
        tr("cs.epoch"),
        series,
        [
            charts.Marker(
                seg.first_epoch + seg.from_batch / (lin.steps_per_epoch or 1),
                tr("cs.resume_marker"),
                "resume",
            )
        ],
        x_max=lin.epochs_total,
        log_y=view == "steps",
        width=360,
        height=200,
        size="compact",
        toggles=True,
    )
    return charts.render(chart, marker_names={"resume": tr("cs.resume_marker")})


def _lr(lin: service.Lineage, latest: dict[str, service.Segment], lang: str) -> Markup:
    tr = lambda key: i18n.t(lang, key)  # noqa: E731
    series = []
    if lin.reference:
        series.append(
            charts.Series(
                tr("cs.reference"), lr_points(lin.reference.epochs), "series-5", dashed=True, step=True
            )
        )
    else:
        series.append(
            charts.Series(tr("cs.original"), lr_points(lin.segments[0].epochs), "series-1", step=True)
        )
    for mode, seg in latest.items():
        series.append(
            charts.Series(RESTORE_LABELS[lang][mode][0], lr_points(seg.epochs), SERIES[mode], step=True)
        )
    chart = charts.Chart(
        tr("cs.lr_chart"),
        "LR",
        tr("cs.epoch"),
        series,
        [],
        x_max=lin.epochs_total,
        width=400,
        height=200,
        size="compact",
        toggles=True,
    )
    return charts.render(chart)


def build_figures(lin: service.Lineage, ledger: Ledger, lang: str, view: str) -> Figures:
    latest = {}
    for row in ledger.rows:
        seg = next((s for s in lin.segments if s.run.id == row.run_id), None)
        if seg is not None and seg.epochs:
            latest[row.mode] = seg
    panels = [(mode, _panel(lin, seg, lang, view)) for mode, seg in latest.items()]
    return Figures(
        _timeline(lin, lang, view), panels, _lr(lin, latest, lang) if lin.segments[0].epochs else None
    )


CELL, GAP, HEIGHT = 10, 2, 26


def order_strip(per_batch: list[list[int]], batch_size: int, samples: int, before: int, label: str) -> Markup:
    """One cell per batch of the interrupted epoch's order: the share of its samples trained twice
    (on top), never (at the bottom, hollow) and once (the rest); a line where the checkpoint was."""
    n = len(per_batch)
    parts = []
    for b, (twice, never) in enumerate(per_batch):
        size = min(batch_size, samples - b * batch_size)
        x = b * CELL + GAP / 2
        w = CELL - GAP
        parts.append(f'<rect class="o-once" x="{x}" y="0" width="{w}" height="{HEIGHT}"/>')
        if twice:
            h = HEIGHT * twice / size
            parts.append(f'<rect class="o-twice" x="{x}" y="0" width="{w}" height="{h:.2f}"/>')
        if never:
            h = HEIGHT * never / size
            parts.append(
                f'<rect class="o-never" x="{x + 0.5}" y="{HEIGHT - h + 0.5:.2f}" '
                f'width="{w - 1}" height="{max(h - 1, 0):.2f}"/>'
            )
    x = before * CELL
    parts.append(f'<line class="o-ckpt" x1="{x}" x2="{x}" y1="-3" y2="{HEIGHT + 3}"/>')
    return Markup(
        f'<svg class="order-strip" viewBox="0 -3 {n * CELL} {HEIGHT + 6}" preserveAspectRatio="none" '
        f'role="img" aria-label="{Markup.escape(label)}">{"".join(parts)}</svg>'
    )
