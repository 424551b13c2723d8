"""The data order of the epoch a crash interrupted, as each mid-epoch resume really trained it.

Facts only from the resumed workers' records (app/ml/epoch_order.py: torch recomputed the
interrupted order from the checkpoint's sampler state and took the resumed run's own order) and
the reference's recorded epochs. No torch here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app import i18n
from app.components.checkpoint_simulator import service
from app.components.checkpoint_simulator.ledger import MODES


@dataclass
class OrderRow:
    mode: str
    run_id: str
    kind: str  # continued | restarted | skipped | other
    start: int
    same_order: bool
    twice: int
    never: int
    steps: int
    per_batch: list[list[int]]


@dataclass
class OrderView:
    epoch: int
    samples: int
    batch_size: int
    batches: int
    before: int
    reference_same_order: bool | None
    rows: list[OrderRow] = field(default_factory=list)


def _kind(o: dict) -> str:
    if o["start"] == o["before"] and o["same_order"]:
        return "continued"
    if o["start"] == 0:
        return "restarted"
    if o["start"] == o["before"]:
        return "skipped"
    return "other"


def build(lin: service.Lineage) -> OrderView | None:
    """The newest mid-epoch resume's epoch, with the latest resume of each mode from that same place."""
    resumes = [(s, s.epoch_order) for s in lin.segments if s.run.kind == "resume" and s.epoch_order]
    if not resumes:
        return None
    newest = resumes[-1][1]
    place = (newest["epoch"], newest["before"])
    latest: dict[str, tuple[service.Segment, dict]] = {}
    for seg, order in resumes:
        if (order["epoch"], order["before"]) == place and seg.restore:
            latest[seg.restore] = (seg, order)
    checked = None
    if lin.reference is not None:
        ref = next((e for e in lin.reference.epochs if e.epoch == newest["epoch"]), None)
        if ref is not None and ref.order_head:
            checked = list(ref.order_head) == list(newest["order_head"])[: len(ref.order_head)]
    view = OrderView(
        newest["epoch"], newest["samples"], newest["batch_size"], newest["batches"], newest["before"], checked
    )
    for mode in MODES:
        if mode not in latest:
            continue
        seg, o = latest[mode]
        view.rows.append(
            OrderRow(
                mode,
                seg.run.id,
                _kind(o),
                o["start"],
                o["same_order"],
                o["twice"],
                o["never"],
                o["steps"],
                o["per_batch"],
            )
        )
    return view


def summary(view: OrderView, lang: str) -> str:
    t = lambda key, **kw: i18n.t(lang, key).format(**kw)  # noqa: E731
    return t(
        "cs.order.summary",
        epoch=view.epoch,
        before=view.before,
        batches=view.batches,
        done=min(view.before * view.batch_size, view.samples),
        samples=view.samples,
    )


def sentence(row: OrderRow, view: OrderView, lang: str) -> str:
    """One sentence with the counts, built from the record's facts."""
    t = lambda key, **kw: i18n.t(lang, key).format(**kw)  # noqa: E731
    return t(
        f"cs.order.{row.kind}",
        epoch=view.epoch,
        next=row.start + 1,
        batches=view.batches,
        samples=view.samples,
        twice=row.twice,
        never=row.never,
        steps=row.steps,
        before=view.before,
    )


def reference_sentence(view: OrderView, lang: str) -> str:
    key = "cs.order.reference" if view.reference_same_order else "cs.order.interrupted"
    return i18n.t(lang, key).format(batches=view.batches, samples=view.samples)


# This module's interface text, registered with its component (app/components/__init__.py).
STRINGS: dict[str, dict[str, str]] = {"zh": {}, "en": {}}
STRINGS["zh"].update(
    {
        "cs.mid_epoch": (
            "每个 epoch 进行到一半时也存一个 checkpoint（带上采样器状态：这个 epoch 的顺序和下一批的位置）"
        ),
        "cs.ckpt_mid": "第 {epoch} 个 epoch 中途：第 {batch}/{batches} 批之后",
        "cs.resume_menu_mid": "从第 {epoch} 个 epoch 中途（第 {batch} 批之后）恢复",
        "cs.resume_all_mid": "五种方式都从第 {epoch} 个 epoch 中途（第 {batch} 批之后）恢复",
        "cs.order.title": "被打断的第 {epoch} 个 epoch：每个样本训练了几次",
        "cs.order.summary": (
            "崩溃前最后一个 checkpoint 在第 {epoch} 个 epoch 的第 {before}/{batches} 批之"
            "后：{samples} 个样本中已经训练了 {done} 个。每个格子是这个 epoch 顺序里的一"
            "批（{batches} 批），竖线是 checkpoint。"
        ),
        "cs.order.legend_once": "训练一次",
        "cs.order.legend_twice": "训练了两次",
        "cs.order.legend_never": "一次也没训练",
        "cs.order.reference": "{batches} 批按同一个顺序走完，{samples} 个样本每个恰好一次。",
        "cs.order.interrupted": (
            "被打断的训练原本的顺序：{batches} 批，{samples} 个样本每个一次（参考训练"
            "还没到这个 epoch，尚未核对）。"
        ),
        "cs.order.sep": "：",
        "cs.order.before": "第 1–{before} 批：崩溃前",
        "cs.order.after": "第 {next}–{batches} 批：恢复后",
        "cs.order.continued": (
            "从同一个顺序的第 {next} 批接着训练：{samples} 个样本每个恰好一次，和不中断"
            "的训练一样，这个 epoch 共 {steps} 步。"
        ),
        "cs.order.restarted": (
            "这个 epoch 用新的顺序从第 1 批重新开始：崩溃前训练过的 {twice} 个样本又训"
            "练了一次（共两次），{never} 个被跳过；这个 epoch 用了 {steps} 步，而不是 "
            "{batches} 步。"
        ),
        "cs.order.skipped": (
            "记得位置，却丢了顺序：从一个新顺序的第 {next} 批继续，{twice} 个样本训练了两"
            "次，{never} 个样本这个 epoch 一次也没训练。"
        ),
        "cs.order.other": (
            "从它自己顺序的第 {next} 批继续：{twice} 个样本训练了两次，{never} 个一次也没训"
            "练，共 {steps} 步。"
        ),
        "cs.order.aria": "{label}：{sentence}",
        "cs.cost.order_mid": "第 {epoch} 个 epoch 里 {twice} 个样本训练了两次、{never} 个一次也没训练",
        "cs.order.none_yet": "从中途的 checkpoint 恢复后，这里会显示被打断的 epoch 的数据顺序。",
    }
)
STRINGS["en"].update(
    {
        "cs.mid_epoch": (
            "Also save a checkpoint half-way through every epoch (with the sampler's state: "
            "the epoch's order and the next batch)"
        ),
        "cs.ckpt_mid": "mid-epoch {epoch}: after batch {batch}/{batches}",
        "cs.resume_menu_mid": "Resume from the middle of epoch {epoch} (after batch {batch})",
        "cs.resume_all_mid": "Resume all five from the middle of epoch {epoch} (after batch {batch})",
        "cs.order.title": "Epoch {epoch}, interrupted: how often each sample was trained",
        "cs.order.summary": (
            "The last checkpoint before the crash was after batch {before} of {batches} "
            "in epoch {epoch}: {done} of the {samples} samples were trained. Each cell "
            "is one batch of the epoch's order ({batches} batches); the line is the "
            "checkpoint."
        ),
        "cs.order.legend_once": "trained once",
        "cs.order.legend_twice": "trained twice",
        "cs.order.legend_never": "never trained",
        "cs.order.reference": (
            "all {batches} batches in one order, each of the {samples} samples exactly once."
        ),
        "cs.order.interrupted": (
            "the order the interrupted run followed: {batches} batches, each of the "
            "{samples} samples once (the reference has not reached this epoch yet, "
            "so it is not checked)."
        ),
        "cs.order.sep": " — ",
        "cs.order.before": "batches 1–{before}: before the crash",
        "cs.order.after": "{next}–{batches}: after the resume",
        "cs.order.continued": (
            "Went on at batch {next} of the same order: each of the {samples} samples "
            "trained exactly once, as in the uninterrupted run, in {steps} steps."
        ),
        "cs.order.restarted": (
            "Started epoch {epoch} again, from batch 1 of a new order: the {twice} "
            "samples trained before the crash were trained a second time and {never} "
            "were skipped; the epoch took {steps} steps instead of {batches}."
        ),
        "cs.order.skipped": (
            "Kept the position but lost the order: it went on at batch {next} of a new "
            "order, so {twice} samples were trained twice and {never} never in this "
            "epoch."
        ),
        "cs.order.other": (
            "Went on at batch {next} of its own order: {twice} samples trained twice and "
            "{never} never, in {steps} steps."
        ),
        "cs.order.aria": "{label}: {sentence}",
        "cs.cost.order_mid": "in epoch {epoch}, {twice} samples were trained twice and {never} never",
        "cs.order.none_yet": (
            "Resume from a mid-epoch checkpoint to see the interrupted epoch's data order here."
        ),
    }
)
