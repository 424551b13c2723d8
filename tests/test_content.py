"""Chapters are content: Markdown files become pages, and a broken file never breaks the site."""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from markupsafe import Markup

from app import components
from app.content.library import ChapterLibrary, ChapterLoadError, load_chapter, split_front_matter
from app.content.render import Slot, render_markdown
from app.i18n import LANGS

GOOD = """---
title: "Saving {name}"
description: "How to save {name}"
updated: 2026-01-02
---

> **Objectives**: learn {name}.

## First part

Some text.

```python
import torch
x = torch.zeros(3)
```

### A detail

| a | b |
|---|---|
| 1 | 2 |

## Second part

The end.
"""


def chapter_text(name: str = "things", body: str | None = None, **meta) -> str:
    if body is None:
        return GOOD.format(name=name)
    head = {"title": f'"{name}"', "description": '"d"', "updated": '"2026-01-02"', **meta}
    return "---\n" + "".join(f"{k}: {v}\n" for k, v in head.items()) + "---\n\n" + body


def write(root: Path, rel: str, text: str | bytes) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def tut(tmp_path) -> Path:
    root = tmp_path / "tut"
    write(root, "zh/01-first.md", chapter_text("第一章"))
    write(root, "en/01-first.md", chapter_text("first"))
    return root


@pytest.fixture
def tut_client(tmp_path, tut):
    from app.main import create_app
    from app.settings import Settings

    settings = Settings(data_dir=tmp_path / "data", tutorials_dir=tut, secret_key="test-secret")
    with TestClient(create_app(settings)) as c:
        yield c


# --- front matter and loading --------------------------------------------------------------


def test_split_front_matter_reads_the_mapping():
    meta, body = split_front_matter('---\ntitle: "T"\nupdated: 2026-01-02\n---\n# Hello\n')
    assert meta["title"] == "T"
    assert "# Hello" in body


@pytest.mark.parametrize(
    "text, reason",
    [
        ("# no front matter\n", "no front matter"),
        ("", "no front matter"),
        ("---\ntitle: x\n# never closed\n", "not closed"),
        ("---\ntitle: [unclosed\n---\nbody\n", "not valid YAML"),
        ("---\ntitle: a: b: c\n---\n", "not valid YAML"),
        ("---\n- a\n- b\n---\nbody\n", "must be a mapping"),
        ("---\njust a string\n---\nbody\n", "must be a mapping"),
    ],
)
def test_split_front_matter_errors(text, reason):
    with pytest.raises(ChapterLoadError, match=reason):
        split_front_matter(text)


def test_yaml_error_names_the_file_line():
    with pytest.raises(ChapterLoadError) as info:
        split_front_matter('---\ntitle: "ok"\ndescription: [oops\n---\n')
    assert re.search(r"line \d+", str(info.value))


def test_load_chapter(tmp_path):
    path = write(tmp_path, "zh/03-x.md", chapter_text("标题"))
    chapter = load_chapter(path, "zh")
    assert (chapter.lang, chapter.slug, chapter.title) == ("zh", "03-x", "Saving 标题")
    assert chapter.description == "How to save 标题"
    assert chapter.updated == "2026-01-02"  # an unquoted YAML date is still shown as written
    assert [e.title for e in chapter.rendered.toc] == ["First part", "A detail", "Second part"]
    html = "".join(chapter.rendered.parts)
    assert "title:" not in html  # the front matter is not part of the page


def test_load_chapter_accepts_crlf_and_a_bom(tmp_path):
    text = chapter_text("windows").replace("\n", "\r\n")
    path = write(tmp_path, "en/w.md", b"\xef\xbb\xbf" + text.encode("utf-8"))
    chapter = load_chapter(path, "en")
    assert chapter.title == "Saving windows"
    assert "updated:" not in "".join(chapter.rendered.parts)


@pytest.mark.parametrize(
    "content, reason",
    [
        (b"---\ndescription: x\n---\nbody\n", "no 'title'"),
        (b"---\ntitle: '   '\n---\nbody\n", "no 'title'"),
        (b"---\n---\nbody\n", "no 'title'"),
        (b"---\ntitle: \xff\xfe caf\xe9\n---\n", "not UTF-8"),
        (b"no front matter at all\n", "no front matter"),
    ],
)
def test_load_chapter_errors(tmp_path, content, reason):
    path = write(tmp_path, "en/bad.md", content)
    with pytest.raises(ChapterLoadError, match=reason):
        load_chapter(path, "en")


def test_load_chapter_refuses_huge_files(tmp_path):
    path = write(tmp_path, "en/huge.md", chapter_text("big", body="x" * 2_100_000))
    with pytest.raises(ChapterLoadError, match="larger"):
        load_chapter(path, "en")


# --- rendering -----------------------------------------------------------------------------


def test_render_headings_get_anchors_and_toc():
    r = render_markdown("# Title\n\n## Saving models\n\n### The `state_dict`\n\n#### too deep\n")
    assert [(e.level, e.anchor, e.title) for e in r.toc] == [
        (2, "saving-models", "Saving models"),
        (3, "the-state_dict", "The state_dict"),
    ]
    html = "".join(r.parts)
    assert '<h2 id="saving-models"' in html
    assert '<h3 id="the-state_dict"' in html
    assert 'href="#saving-models"' in html  # a permalink the reader can copy
    assert "<h1" in html and "h1 id=" not in html and "<h4>" in html  # h1/h4 are not anchored


def test_cjk_headings_get_readable_unique_anchors():
    r = render_markdown("## 保存模型\n\n## 保存模型\n\n### 保存模型\n\n## ！？。\n\n## ！？。\n")
    anchors = [e.anchor for e in r.toc]
    assert anchors[0] == "保存模型"
    assert len(set(anchors)) == len(anchors) == 5
    assert all(a for a in anchors)
    html = "".join(r.parts)
    for a in anchors:
        assert html.count(f'id="{a}"') == 1


def test_render_highlights_code_with_pygments():
    r = render_markdown("```python\nimport torch\nx = 1  # comment\n```\n\n```nosuchlang\na < b\n```\n")
    html = "".join(r.parts)
    assert (
        '<div class="code-block" data-lang="python"><pre class="highlight" '
        'tabindex="0"><code class="language-python">'
    ) in html
    assert re.search(r'<span class="kn">import</span>', html)
    assert '<span class="c1"># comment</span>' in html
    # An unknown language is shown as plain, escaped text rather than failing.
    assert 'data-lang="nosuchlang"' in html and "a &lt; b" in html


def test_render_tables_and_callout():
    r = render_markdown("> **Goal**: learn.\n\n| a | b |\n|---|---|\n| 1 | 2 |\n")
    html = "".join(r.parts)
    assert '<blockquote class="callout">' in html
    assert "<table>" in html and "<td>1</td>" in html


def test_placeholders_become_slots():
    r = render_markdown(
        'Intro\n\n<div data-component="Alpha"></div>\n\nMiddle\n\n<div data-component="Beta"></div>\n\nEnd\n'
    )
    assert r.components == ["Alpha", "Beta"]
    kinds = [type(p).__name__ for p in r.parts]
    assert kinds == ["str", "Slot", "str", "Slot", "str"]
    assert r.parts[1] == Slot("Alpha")
    assert "Intro" in r.parts[0] and "Middle" in r.parts[2] and "End" in r.parts[4]
    assert "data-component" not in "".join(p for p in r.parts if isinstance(p, str))


def test_placeholder_inside_code_is_just_code():
    r = render_markdown(
        '```html\n<div data-component="Alpha"></div>\n```\n\nSay `<div data-component="Beta"></div>`.\n'
    )
    assert r.components == []
    assert "data-component" in "".join(r.parts)  # shown, escaped, as code


def test_headings_are_escaped_in_toc_and_body():
    r = render_markdown('## 1 < 2 & "x"\n')
    assert r.toc[0].title == '1 < 2 & "x"'
    html = "".join(r.parts)
    assert "1 &lt; 2 &amp;" in html


# --- the library -------------------------------------------------------------------------------


def test_library_lists_chapters_and_errors(tmp_path):
    root = tmp_path / "t"
    write(root, "zh/b.md", chapter_text("B"))
    write(root, "zh/a.md", chapter_text("A"))
    write(root, "en/a.md", chapter_text("A-en"))
    write(root, "en/bad name.md", chapter_text("spaces"))
    write(root, "en/broken.md", "no front matter")
    write(root, "fr/a.md", chapter_text("French"))  # not a language of the site
    write(root, "zh/notes.txt", "not markdown")
    lib = ChapterLibrary(root, LANGS)
    assert [c.slug for c in lib.chapters("zh")] == ["a", "b"]
    assert [c.title for c in lib.chapters("en")] == ["Saving A-en"]
    problems = {e.file: e.reason for e in lib.errors()}
    assert set(problems) == {"en/bad name.md", "en/broken.md"}
    assert "file name" in problems["en/bad name.md"]
    assert "no front matter" in problems["en/broken.md"]
    assert lib.get("zh", "a").title == "Saving A"
    assert lib.get("fr", "a") is None
    assert lib.get("en", "bad name") is None


@pytest.mark.parametrize(
    "slug", ["..", "../zh/a", "/etc/passwd", "a\\b", "a\x00", "a" * 300, "", ".a", "a\n"]
)
def test_library_get_never_leaves_the_folder(tmp_path, slug):
    root = tmp_path / "t"
    write(root, "zh/a.md", chapter_text("A"))
    lib = ChapterLibrary(root, LANGS)
    assert lib.get("zh", slug) is None


def test_library_missing_folder_is_empty(tmp_path):
    lib = ChapterLibrary(tmp_path / "nothing-here", LANGS)
    assert lib.chapters("zh") == [] and lib.errors() == []


def test_library_rerenders_only_changed_files(tmp_path):
    root = tmp_path / "t"
    write(root, "en/a.md", chapter_text("A"))
    write(root, "en/b.md", chapter_text("B"))
    lib = ChapterLibrary(root, LANGS)
    first = {c.slug: c for c in lib.chapters("en")}
    write(root, "en/b.md", chapter_text("B changed"))
    lib.refresh(force=True)
    second = {c.slug: c for c in lib.chapters("en")}
    assert second["a"] is first["a"]
    assert second["b"].title == "Saving B changed"


def test_library_rescans_at_most_once_per_interval(tmp_path):
    root = tmp_path / "t"
    write(root, "en/a.md", chapter_text("A"))
    lib = ChapterLibrary(root, LANGS, rescan_interval=3600)
    assert len(lib.chapters("en")) == 1
    write(root, "en/b.md", chapter_text("B"))
    assert len(lib.chapters("en")) == 1  # not yet: requests must not rescan the disk every time
    lib.refresh(force=True)
    assert len(lib.chapters("en")) == 2


# --- through the app ---------------------------------------------------------------------------


def test_a_new_file_appears_without_restart(tut_client, tut):
    assert tut_client.get("/en/02-new").status_code == 404
    write(tut, "en/02-new.md", chapter_text("brand new"))
    deadline = time.monotonic() + 5
    while True:  # the library rescans at most once a second
        r = tut_client.get("/en/02-new")
        if r.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert r.status_code == 200
    assert "<h1>Saving brand new</h1>" in r.text
    assert "/en/02-new" in tut_client.get("/en/").text
    assert any(c["slug"] == "02-new" for c in tut_client.get("/api/chapters").json()["chapters"])


def test_edited_and_deleted_files_follow(tut_client, tut):
    lib = tut_client.app.state.library
    write(tut, "en/01-first.md", chapter_text("edited title, longer"))
    lib.refresh(force=True)
    assert "<h1>Saving edited title, longer</h1>" in tut_client.get("/en/01-first").text
    (tut / "en/01-first.md").unlink()
    lib.refresh(force=True)
    assert tut_client.get("/en/01-first").status_code == 404
    assert tut_client.get("/zh/01-first").status_code == 200


BROKEN = {
    "en/bad-yaml.md": b'---\ntitle: "unclosed\n---\nbody\n',
    "en/no-title.md": b"---\ndescription: nothing\n---\nbody\n",
    "en/no-front.md": b"# Just markdown\n",
    "en/latin1.md": b"---\ntitle: caf\xe9\n---\nbody\n",
    "en/bad name!.md": chapter_text("name").encode(),
}


def test_broken_chapters_never_take_the_site_down(tut_client, tut):
    for rel, content in BROKEN.items():
        write(tut, rel, content)
    tut_client.app.state.library.refresh(force=True)

    assert tut_client.get("/en/01-first").status_code == 200
    assert tut_client.get("/zh/01-first").status_code == 200
    for slug in ("bad-yaml", "no-title", "no-front", "latin1"):
        assert tut_client.get(f"/en/{slug}").status_code == 404

    index = tut_client.get("/en/")
    assert index.status_code == 200
    listed = index.text.split('class="broken-chapters"', 1)[1]
    for rel in BROKEN:
        assert rel in listed, rel
    assert "not valid YAML" in listed and "no &#39;title&#39;" in listed
    assert "not UTF-8" in listed and "no front matter" in listed and "file name" in listed

    api = tut_client.get("/api/chapters").json()
    problems = {p["file"]: p for p in api["problems"]}
    assert set(problems) == set(BROKEN)
    assert all(p["lang"] == "en" and p["reason"] for p in problems.values())
    assert {c["url"] for c in api["chapters"]} == {"/zh/01-first", "/en/01-first"}


def test_a_renderer_crash_is_reported_not_raised(tut_client, tut, monkeypatch):
    import app.content.library as library

    def explode(text):
        raise RuntimeError("renderer bug")

    monkeypatch.setattr(library, "render_markdown", explode)
    write(tut, "en/02-boom.md", chapter_text("boom"))
    tut_client.app.state.library.refresh(force=True)
    assert tut_client.get("/en/01-first").status_code == 200
    problems = tut_client.get("/api/chapters").json()["problems"]
    assert problems == [
        {"lang": "en", "file": "en/02-boom.md", "reason": "could not be rendered: RuntimeError"}
    ]


def test_chapter_metadata_is_escaped(tut_client, tut):
    write(
        tut,
        "en/02-xss.md",
        chapter_text(
            "x",
            body="## Heading <not a tag> & more\n\ntext\n",
            title="'<script>alert(1)</script>'",
            description="'<img src=x onerror=alert(1)>'",
        ),
    )
    tut_client.app.state.library.refresh(force=True)
    for url in ("/en/02-xss", "/en/"):
        html = tut_client.get(url).text
        assert "<script>alert(1)</script>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert "<img src=x" not in html


def test_components_are_filled_in(tut_client, tut, caplog):
    write(
        tut,
        "en/02-sim.md",
        chapter_text(
            "sim",
            body=(
                '## Before\n\nfirst words\n\n<div data-component="CheckpointSimulator"></div>\n\n'
                '## Middle\n\n<div data-component="NoSuchWidget"></div>\n\n## After\n\nlast words\n'
            ),
        ),
    )
    tut_client.app.state.library.refresh(force=True)
    with caplog.at_level(logging.WARNING):
        r = tut_client.get("/en/02-sim")
    assert r.status_code == 200
    assert r.text.count('id="checkpoint-simulator"') == 1
    assert 'data-missing-component="NoSuchWidget"' in r.text
    assert "<code>NoSuchWidget</code>" in r.text  # visible to the reader, named
    assert 'data-component="NoSuchWidget"' not in r.text
    assert "first words" in r.text and "last words" in r.text and 'id="after"' in r.text
    assert any(
        "NoSuchWidget" in rec.getMessage() and rec.levelno == logging.WARNING for rec in caplog.records
    )
    summary = tut_client.get("/api/chapters/en/02-sim").json()
    assert summary["components"] == ["CheckpointSimulator", "NoSuchWidget"]


def test_a_failing_component_does_not_take_the_page_down(tut_client, tut, caplog):
    def render(request, lang):
        raise RuntimeError("component exploded")

    components.register(components.Component(name="ThrowawayBroken", render=render))
    try:
        write(
            tut,
            "en/02-broken.md",
            chapter_text(
                "broken",
                body=(
                    '## One\n\nbefore it\n\n<div data-component="ThrowawayBroken"></div>\n\n'
                    '<div data-component="CheckpointSimulator"></div>\n\nafter it\n'
                ),
            ),
        )
        tut_client.app.state.library.refresh(force=True)
        with caplog.at_level(logging.ERROR):
            r = tut_client.get("/en/02-broken")
        assert r.status_code == 200
        assert "before it" in r.text and "after it" in r.text
        assert 'data-missing-component="ThrowawayBroken"' in r.text
        assert 'id="checkpoint-simulator"' in r.text  # the other component still works
        assert "component exploded" not in r.text and "Traceback" not in r.text
        assert any("ThrowawayBroken" in rec.getMessage() for rec in caplog.records)
    finally:
        components._REGISTRY.pop("ThrowawayBroken", None)
    assert components.get("ThrowawayBroken") is None


def test_a_working_component_renders_its_markup(tut_client, tut):
    components.register(
        components.Component(
            name="ThrowawayHello", render=lambda request, lang: Markup(f'<p id="hello-{lang}">hi</p>')
        )
    )
    try:
        write(
            tut, "zh/02-hello.md", chapter_text("hello", body='<div data-component="ThrowawayHello"></div>\n')
        )
        tut_client.app.state.library.refresh(force=True)
        r = tut_client.get("/zh/02-hello")
        assert '<p id="hello-zh">hi</p>' in r.text
    finally:
        components._REGISTRY.pop("ThrowawayHello", None)


def test_real_chapter_renders_with_simulator(client):
    r = client.get("/zh/06-model-io-checkpoint")
    assert r.status_code == 200
    assert r.text.count('id="checkpoint-simulator"') == 1
    assert '<blockquote class="callout">' in r.text
    # The simulator sits in section 6.3, after its heading and before 6.4.
    html = r.text
    assert html.index('id="63-') < html.index('id="checkpoint-simulator"') < html.index('id="64-')
