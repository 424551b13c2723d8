"""Links between chapters lead somewhere: to a chapter of the same language and, with #anchor, to a
heading that exists there. Chapter 7 sends readers to the chapter 6 labs that reproduce its cases."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

import pytest
from markdown_it import MarkdownIt

from app.content.library import load_chapter

ROOT = Path(__file__).resolve().parents[1]
TUTORIALS = ROOT / "tutorials"
LESSONS = sorted(TUTORIALS.glob("*/*.md"))


def links(path: Path) -> list[str]:
    tokens = MarkdownIt("commonmark").parse(path.read_text(encoding="utf-8"))
    found = []
    for token in tokens:
        for child in token.children or []:
            if child.type == "link_open":
                # markdown-it percent-encodes a CJK anchor; browsers decode it to find the heading.
                found.append(unquote(str(child.attrGet("href"))))
    return found


def anchors(path: Path) -> set[str]:
    return {entry.anchor for entry in load_chapter(path, path.parent.name).rendered.toc}


def components_by_anchor(path: Path) -> dict[str, set[str]]:
    """The anchor of the nearest heading above each component placeholder, with its components."""
    chapter = load_chapter(path, path.parent.name)
    found: dict[str, set[str]] = {}
    anchor = ""
    for part in chapter.rendered.parts:
        if isinstance(part, str):
            for entry in chapter.rendered.toc:
                if f'id="{entry.anchor}"' in part:
                    anchor = entry.anchor  # the last heading in this piece of HTML
        else:
            found.setdefault(anchor, set()).add(part.name)
    return found


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_links_between_chapters_resolve(path: Path):
    for href in links(path):
        if "://" in href or href.startswith("mailto:"):
            continue
        slug, _, anchor = href.partition("#")
        target = path if not slug else path.with_name(f"{slug}.md")
        assert target.is_file(), f"{path.name}: link {href!r} names no chapter in {path.parent.name}/"
        if anchor:
            assert anchor in anchors(target), f"{path.name}: link {href!r} names no heading of {target.name}"


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_chapter_7_links_to_the_chapter_6_labs(lang: str):
    ch6 = TUTORIALS / lang / "06-model-io-checkpoint.md"
    linked = {href.partition("#")[2] for href in links(TUTORIALS / lang / "07-checkpoints-in-practice.md")}
    labs = components_by_anchor(ch6)
    reached = set().union(*(names for anchor, names in labs.items() if anchor in linked))
    for name in ("CheckpointSimulator", "LoadingClinic", "CheckpointInspector", "CheckpointExercise"):
        assert name in reached, f"chapter 7 ({lang}) links to no section of chapter 6 that holds {name}"
