"""Everything the diagram says, decided here so that its template only shows: the groups with
their headings, the prediction question and its two answers, the `module.` correspondence and
the before/after of applying a fix. Every number comes from the view torch computed."""

from __future__ import annotations

from markupsafe import Markup, escape

from app import i18n
from app.components.transfer_visualizer import story, strings
from app.components.transfer_visualizer.schemas import TransferQuery
from app.ml.catalog import DP_PREFIX

EXAMPLES = 3  # pairs drawn in the `module.` correspondence


def key_html(key: str | None, prefix: bool = False) -> Markup:
    """A tensor name that wraps only after a dot, with a `module.` prefix marked when it is the
    difference that matters."""
    if not key:
        return Markup("")
    head = ""
    if prefix and key.startswith(DP_PREFIX):
        head, key = Markup('<span class="tl-prefix">{}</span><wbr>').format(DP_PREFIX), key[len(DP_PREFIX) :]
    return Markup(head) + Markup("<wbr>").join(
        escape(part) + ("." if i < key.count(".") else "") for i, part in enumerate(key.split("."))
    )


def shape_text(shape: list[int] | None) -> str:
    if shape is None:
        return ""
    return "×".join(map(str, shape)) or "scalar"


def _row(lang: str, r: dict, index: int) -> dict:
    names = strings.STATUS[lang]
    prefixed = r["fate"] in ("prefix", "prefix_shape") or (r["source_key"] or "") != r["key"]
    return {
        "index": index,
        "key": r["key"],
        "fate": r["fate"],
        "fate_name": names[r["fate"]],
        "in_target": r["target_shape"] is not None,
        "in_source": r["source_shape"] is not None,
        "source_html": key_html(r["source_key"], prefix=prefixed),
        "target_html": key_html(r["key"]),
        "source_shape": shape_text(r["source_shape"]),
        "target_shape": shape_text(r["target_shape"]),
        "shape_differs": (
            r["source_shape"] is not None
            and r["target_shape"] is not None
            and r["source_shape"] != r["target_shape"]
        ),
        "is_buffer": r["is_buffer"],
    }


def _groups(lang: str, rows: list[dict]) -> list[dict]:
    tr = lambda k: i18n.t(lang, k)  # noqa: E731
    out, index = [], 0
    for g in story.groups(rows):
        shown = []
        for r in g["rows"]:
            shown.append(_row(lang, r, index))
            index += 1
        title = tr("tl.group_one" if g["tensors"] == 1 else "tl.group").format(
            module=g["module"], n=g["tensors"], fate=strings.STATUS[lang][g["fate"]]
        )
        out.append(
            {
                "fate": g["fate"],
                "module": g["module"],
                "title": title,
                "open": not g["folded"],
                "help": strings.STATUS_HELP[lang][g["fate"]],
                "fix": strings.STATUS_FIX[lang].get(g["fate"]),
                "rows": shown,
                "tensors": g["tensors"],
            }
        )
    return out


def _prediction(lang: str, query: TransferQuery, view: dict) -> dict:
    tr = lambda k: i18n.t(lang, k)  # noqa: E731
    strategy = strings.STRATEGIES[lang][query.strategy]
    moved = view["totals"]["transferred"]["tensors"]
    targets = sum(1 for r in view["rows"] if r["target_shape"] is not None)
    if view["ok"]:
        fact = tr("tl.fact_ok").format(moved=moved, total=targets)
    else:
        fact = tr("tl.fact_raised").format(error=view["error"]["type"], moved=moved, total=targets)
    answers = []
    for value, label in (("yes", tr("tl.predict_yes")), ("no", tr("tl.predict_no"))):
        right = (value == "yes") == view["ok"]
        verdict = tr("tl.predict_right") if right else tr("tl.predict_wrong")
        answers.append({"value": value, "label": label, "right": right, "feedback": f"{verdict} {fact}"})
    return {"question": tr("tl.predict_q").format(strategy=strategy), "answers": answers}


def _correspondence(lang: str, query: TransferQuery, view: dict) -> dict | None:
    """For a checkpoint saved from DataParallel: which checkpoint key is which model key."""
    rows = view["rows"]
    if query.strategy == "strip_prefix":
        pairs = {
            r["source_key"]: r["key"]
            for r in rows
            if r["source_key"] and r["target_shape"] is not None and r["source_key"] != r["key"]
        }
    else:
        pairs = story.prefix_pairs(rows)
    if not pairs:
        return None
    sources = sum(1 for r in rows if r["source_shape"] is not None)
    examples = [
        {"source_html": key_html(s, prefix=True), "target_html": key_html(t)}
        for s, t in list(pairs.items())[:EXAMPLES]
    ]
    return {
        "text": i18n.t(lang, "tl.corr_text").format(n=len(pairs), total=sources),
        "examples": examples,
        "fixed": query.strategy == "strip_prefix",
        "fix_label": i18n.t(lang, "tl.apply_fix"),
        "fix_query": query.model_copy(update={"strategy": "strip_prefix"}).model_dump(),
    }


def comparison(lang: str, diff: dict) -> dict:
    """The before/after of switching strategy, status by status."""
    names = strings.STATUS[lang]
    rows = [
        {"status": s, "name": names[s], "before": b, "after": a}
        for s, (b, a) in diff["totals"].items()
        if a or b
    ]
    labels = strings.STRATEGIES[lang]
    return {
        "title": i18n.t(lang, "tl.compare_title").format(
            before=labels[diff["strategy_before"]], after=labels[diff["strategy_after"]]
        ),
        "rows": rows,
        "changed": len(diff["changed_keys"]),
        "changed_text": i18n.tn(lang, "tl.compare_changed", len(diff["changed_keys"])).format(
            n=len(diff["changed_keys"])
        ),
    }


def diagram(lang: str, query: TransferQuery, view: dict) -> dict:
    return {
        "target_tensors": sum(1 for r in view["rows"] if r["target_shape"] is not None),
        "groups": _groups(lang, view["rows"]),
        "prediction": _prediction(lang, query, view),
        "correspondence": _correspondence(lang, query, view),
    }
