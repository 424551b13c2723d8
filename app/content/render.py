"""Markdown → HTML for chapters: CommonMark + tables, heading anchors, Pygments, a TOC.

Component placeholders (`<div data-component="Name"></div>`) are not rendered here: the HTML is
split around them so a request only has to fill in the live partials, never re-parse Markdown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from mdit_py_plugins.anchors import anchors_plugin
from mdit_py_plugins.front_matter import front_matter_plugin
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

PLACEHOLDER = re.compile(
    r'<div\s+data-component="([^"<>]*)"((?:\s+data-[a-z][a-z0-9-]*="[^"<>]*")*)\s*>\s*</div>'
)
# Further data-* attributes of a placeholder (data-exercise="resume") go to the component.
PLACEHOLDER_ATTR = re.compile(r'data-([a-z][a-z0-9-]*)="([^"<>]*)"')


@dataclass
class TocEntry:
    level: int
    anchor: str
    title: str


@dataclass
class Rendered:
    # Alternating pieces: str is static HTML, Slot is a component to render per request.
    parts: list[str | Slot] = field(default_factory=list)
    toc: list[TocEntry] = field(default_factory=list)

    @property
    def components(self) -> list[str]:
        return [p.name for p in self.parts if isinstance(p, Slot)]


@dataclass(frozen=True)
class Slot:
    name: str
    attrs: tuple[tuple[str, str], ...] = ()


def _highlight(code: str, lang: str) -> str:
    try:
        lexer = get_lexer_by_name(lang or "text")
    except ClassNotFound:
        lexer = get_lexer_by_name("text")
    # nowrap: markdown-it supplies <pre><code>, so the copy button finds plain code text.
    return highlight(code, lexer, HtmlFormatter(nowrap=True))


def _slug(title: str) -> str:
    # Keep CJK letters: a Chinese heading must still get a readable, unique anchor.
    slug = re.sub(r"[^\w\- ]", "", title.strip().lower(), flags=re.UNICODE)
    return re.sub(r"\s+", "-", slug) or "section"


def _markdown() -> MarkdownIt:
    # html=True: chapters are written by the course author and trusted; requests never reach here.
    md = MarkdownIt("commonmark", {"html": True}).enable("table")
    md.use(front_matter_plugin)
    md.use(anchors_plugin, min_level=2, max_level=3, slug_func=_slug, permalink=True, permalinkSymbol="#")
    md.add_render_rule("blockquote_open", _blockquote_open)
    md.add_render_rule("fence", _fence)
    return md


def _blockquote_open(self, tokens, idx, options, env):
    # The outline's objectives are a blockquote; every top-level quote becomes a callout.
    return '<blockquote class="callout">\n'


def _fence(self, tokens, idx, options, env):
    token = tokens[idx]
    info = token.info.strip().split()
    lang = info[0] if info else ""
    body = _highlight(token.content, lang)
    label = escapeHtml(lang or "text")
    return (
        f'<div class="code-block" data-lang="{label}">'
        # tabindex: a block wider than the screen must scroll from the keyboard too.
        f'<pre class="highlight" tabindex="0"><code class="language-{label}">{body}</code></pre></div>\n'
    )


_MD = _markdown()


def _plain(inline) -> str:
    return "".join(c.content for c in inline.children or [] if c.type in ("text", "code_inline")).strip()


def render_markdown(text: str) -> Rendered:
    tokens = _MD.parse(text)
    toc = [
        TocEntry(int(tok.tag[1]), str(tok.attrGet("id") or ""), _plain(tokens[i + 1]))
        for i, tok in enumerate(tokens)
        if tok.type == "heading_open" and tok.tag in ("h2", "h3")
    ]
    html = _MD.renderer.render(tokens, _MD.options, {})
    parts: list[str | Slot] = []
    pos = 0
    for match in PLACEHOLDER.finditer(html):
        parts.append(html[pos : match.start()])
        parts.append(Slot(match.group(1), tuple(PLACEHOLDER_ATTR.findall(match.group(2) or ""))))
        pos = match.end()
    parts.append(html[pos:])
    return Rendered(parts=[p for p in parts if p != ""], toc=toc)


def pygments_css() -> str:
    """Light and dark code colours from Pygments itself, so no theme file is hand-copied."""
    light = HtmlFormatter(style="default").get_style_defs(".highlight")
    dark = HtmlFormatter(style="monokai").get_style_defs(".highlight")
    return f"{light}\n@media (prefers-color-scheme: dark) {{\n{dark}\n}}\n"
