"""Languages of the site, the one rule that picks a request's language, and the interface text:
the site's own here, each component's registered with its declaration (app/components)."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.requests import HTTPConnection

LANGS = ("zh", "en")
DEFAULT_LANG = "zh"
LANG_COOKIE = "lang"

STRINGS: dict[str, dict[str, str]] = {
    "zh": {
        "site": "Checkpoint Lab",
        "tagline": "用真实的 PyTorch 学习模型保存、加载与断点续训",
        "chapters": "章节",
        "contents": "本章目录",
        "switch_lang": "English",
        "skip": "跳到正文",
        "copy": "复制",
        "copied": "已复制",
        "copy_failed": "复制失败",
        "updated": "更新于",
        "broken_chapters": "以下章节文件有问题，暂未显示（给课程作者）",
        "no_chapters": "这个语言还没有章节。",
        "not_found": "页面不存在",
        "not_found_text": "没有找到这个页面。可以从下面的章节开始：",
        "server_error": "出错了",
        "server_error_text": "服务器处理这个请求时出错了。已保存的内容不受影响，请稍后再试。",
        "unknown_component": "未知的交互组件",
        "unknown_component_text": "本章引用了一个不存在的组件，页面其余部分照常可用：",
        "back_home": "返回首页",
        "theme_note": "跟随系统的浅色/深色模式",
        "lab.unavailable": "这个实验暂时没能运行（超时或内存不足），请稍后再试。",
        "sec.cross_site": "已拒绝：这个请求来自另一个网站。请直接在课程页面上操作。",
        "sec.json_only": "这个接口只接受 JSON（Content-Type: application/json）。",
        # The job queue's per-address refusal (LimitReached code "address").
        "cs.limit.address": "队列已满：你所在网络的 {n} 个训练正在等待。过一分钟再试。",
    },
    "en": {
        "site": "Checkpoint Lab",
        "tagline": "Learn to save, load and resume PyTorch training, with real PyTorch",
        "chapters": "Chapters",
        "contents": "On this page",
        "switch_lang": "中文",
        "skip": "Skip to content",
        "copy": "Copy",
        "copied": "Copied",
        "copy_failed": "Copy failed",
        "updated": "Updated",
        "broken_chapters": "These chapter files have problems and are not shown (for the course author)",
        "no_chapters": "There are no chapters in this language yet.",
        "not_found": "Page not found",
        "not_found_text": "There is no such page. You can start from one of these chapters:",
        "server_error": "Something went wrong",
        "server_error_text": (
            "The server failed on this request. Nothing already saved is affected; please try again."
        ),
        "unknown_component": "Unknown interactive component",
        "unknown_component_text": (
            "This chapter refers to a component that does not exist; the rest of the page works:"
        ),
        "back_home": "Back to the start",
        "theme_note": "Follows the system light/dark mode",
        "lab.unavailable": (
            "The lab could not run just now (time or memory ran out); please try again shortly."
        ),
        "sec.cross_site": "Refused: this request comes from another site. Please use the lesson page itself.",
        "sec.json_only": "This endpoint accepts JSON only (Content-Type: application/json).",
        "cs.limit.address": (
            "The queue is full for your network: {n} runs from your address are waiting. "
            "Try again in a minute."
        ),
    },
}


def add(table: Mapping[str, Mapping[str, str]], owner: str) -> None:
    """Register a component's text. Every language must have the same keys, and a key may not
    mean something else in another component: both mistakes fail at start-up, not in a page."""
    keys = {lang: set(table.get(lang, {})) for lang in LANGS}
    if any(k != keys[DEFAULT_LANG] for k in keys.values()):
        every: set[str] = set().union(*keys.values())
        odd = {k for k in every if any(k not in lang_keys for lang_keys in keys.values())}
        raise ValueError(f"{owner}: not in every language: {sorted(odd)}")
    for lang in LANGS:
        for key, text in table[lang].items():
            if STRINGS[lang].get(key, text) != text:
                raise ValueError(f"{owner}: {key!r} is already registered with another text")
    for lang in LANGS:
        STRINGS[lang].update(table[lang])


def t(lang: str, key: str) -> str:
    return STRINGS.get(lang, STRINGS[DEFAULT_LANG]).get(key, key)


def one(key: str, n: int) -> str:
    """The key of a count n's text: `key_one` when n is 1 (English's singular; Chinese has no plural
    and keeps the same text under both keys), else `key`."""
    return f"{key}_one" if n == 1 else key


def tn(lang: str, key: str, n: int) -> str:
    """The text of a count n (see `one`); format it with n (and the rest) after."""
    return t(lang, one(key, n))


def request_lang(request: HTTPConnection) -> str:
    """The language of an answer, by one rule for pages, fragments, the API and errors: the page's
    own (/zh/..., /en/...), else ?lang= from the page or script that asked, else the remembered
    choice (cookie), else the browser's Accept-Language, else Chinese (the outline's language)."""
    first = request.url.path.strip("/").split("/", 1)[0]
    if first in LANGS:
        return first
    asked = request.query_params.get("lang")
    if asked in LANGS:
        return asked
    return pick_language(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))


def pick_language(cookie: str | None, accept_language: str | None) -> str:
    """Remembered choice, else the browser's preference, else Chinese (the outline's language)."""
    if cookie in LANGS:
        return cookie
    header = (accept_language or "")[:512]
    ranked = []
    for position, item in enumerate(header.split(",")[:32]):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGS and 0 < quality <= 1:
            ranked.append((-quality, position, primary))
    return min(ranked)[2] if ranked else DEFAULT_LANG
