"""The ledger in words: one sentence per row, and the conclusion the numbers support.

Every clause is built from a measured fact of the row; nothing is said that the runs did not
show (a mode that happened to end bit-identical would be reported so).
"""

from __future__ import annotations

from app import i18n
from app.components.checkpoint_simulator.ledger import Ledger, Row
from app.components.checkpoint_simulator.strings import RESTORE_LABELS
from app.jobs.protocol import RunStatus


def num(v: float | None, digits: int = 3) -> str:
    return "–" if v is None else f"{v:.{digits}g}"


def pct(v: float) -> str:
    return f"{abs(v) * 100:.0f}"


def cost(row: Row, lang: str, margin: float) -> str:
    t = lambda key, **kw: i18n.t(lang, key).format(**kw)  # noqa: E731
    m = f"{margin * 100:.0f}"
    if not row.tried:
        return t("cs.not_tried")
    if row.status == RunStatus.FAILED:
        return t("cs.cost.failed", error=row.error or "")
    if row.identical:
        return t("cs.cost.identical")
    parts = []
    if row.loss_change is not None:
        # "within 0% of the reference" says nothing true: a change that rounds to 0 is a match.
        change = pct(row.loss_change)
        key = (
            "cs.cost.spike" if row.spike else ("cs.cost.no_spike_0" if change == "0" else "cs.cost.no_spike")
        )
        parts.append(t(key, pct=change))
    if row.lr_ok is False:
        parts.append(t("cs.cost.lr", epoch=row.lr_epoch, got=num(row.lr_got), expected=num(row.lr_expected)))
    if row.order_same is False:
        parts.append(t("cs.cost.order"))
    if row.samples_twice or row.samples_never:
        # A mid-epoch resume: what the interrupted epoch trained, counted by its worker.
        parts.append(
            t("cs.cost.order_mid", epoch=row.order_epoch, twice=row.samples_twice, never=row.samples_never)
        )
    if row.recovered is True:
        parts.append(
            t("cs.cost.recovery_0", margin=m)
            if row.recovery_epochs == 0
            else t(i18n.one("cs.cost.recovery", row.recovery_epochs or 0), n=row.recovery_epochs, margin=m)
        )
    elif row.recovered is False and row.final is not None:
        parts.append(t("cs.cost.never", margin=m))
    if row.final in ("about", "worse", "better"):
        parts.append(
            t(f"cs.cost.final.{row.final}", a=num(row.final_val_loss), b=num(row.reference_final_val_loss))
        )
    if row.identical is False:
        parts.append(t("cs.cost.not_identical", diff=num(row.max_abs_diff)))
    if not parts:
        return t("cs.cost.pending")
    sep = "；" if lang == "zh" else "; "
    text = sep.join(parts)
    if lang == "en":
        text = text[0].upper() + text[1:]
    # Still running or not yet compared: the sentence goes on as the numbers come in.
    if row.identical is None:
        return text + ("……" if lang == "zh" else " …")
    text += "。" if lang == "zh" else "."
    if row.final == "better":
        # Lower by luck is no win: the lesson is what the resume no longer guarantees.
        text += ("" if lang == "zh" else " ") + t("cs.cost.luck")
    return text


def conclusion(ledger: Ledger, lang: str) -> str | None:
    done = [r for r in ledger.rows if r.identical is not None]
    if not done:
        return None
    t = lambda key, **kw: i18n.t(lang, key).format(**kw)  # noqa: E731
    identical = ledger.identical_modes
    # The full conclusion only when the measurements say exactly that.
    if len(done) == len(ledger.rows) and identical == ["everything"]:
        mid = any(r.samples_twice is not None for r in ledger.rows)
        return t("cs.conclusion.all_mid" if mid else "cs.conclusion.all")
    labels = RESTORE_LABELS[lang]
    if not identical:
        return t("cs.conclusion.none_identical", done=len(done), total=len(ledger.rows))
    sep = "、" if lang == "zh" else ", "
    return t(
        "cs.conclusion.partial",
        done=len(done),
        total=len(ledger.rows),
        modes=sep.join(labels[m][0] for m in identical),
    )


def guesses(row: Row, lang: str) -> list[tuple[str, bool]]:
    """(sentence, right) for each answered guess that the runs have settled."""
    t = lambda key, **kw: i18n.t(lang, key).format(**kw)  # noqa: E731
    out = []
    for what, right in row.prediction_right.items():
        answer = t("cs.yes") if (row.prediction or {}).get(what) else t("cs.no")
        out.append(
            (
                t(
                    "cs.guess_line",
                    what=t(f"cs.guess.{what}"),
                    answer=answer,
                    verdict=t("cs.guess_right" if right else "cs.guess_wrong"),
                ),
                right,
            )
        )
    return out
