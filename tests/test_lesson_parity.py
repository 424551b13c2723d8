"""The Chinese and English versions of a chapter teach the same thing in the same shape.

For every chapter present in both tutorials/zh and tutorials/en: the same headings (level and
section number, in order), the same components in the same places, the same code (Python compared
as syntax trees, so comments and docstrings may be translated) and the same printed output.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

ROOT = Path(__file__).resolve().parents[1]
TUTORIALS = ROOT / "tutorials"
PAIRS = sorted(p.name for p in (TUTORIALS / "zh").glob("*.md") if (TUTORIALS / "en" / p.name).is_file())
NUMBER = re.compile(r"\d+(?:\.\d+)*")
COMPONENT = re.compile(r'^<div data-component="[^"]+"></div>$')


def strip_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            body = node.body
            if (
                body
                and isinstance(body[0], ast.Expr)
                and isinstance(getattr(body[0], "value", None), ast.Constant)
                and isinstance(body[0].value.value, str)
            ):
                node.body = body[1:] or [ast.Pass()]
    return tree


def outline(text: str) -> list[tuple]:
    """The chapter's skeleton: headings, code, output and components, in document order."""
    items: list[tuple] = []
    tokens = MarkdownIt("commonmark").parse(text)
    for i, token in enumerate(tokens):
        if token.type == "heading_open":
            title = tokens[i + 1].content
            number = NUMBER.match(title)
            items.append(("heading", token.tag, number.group(0) if number else ""))
        elif token.type == "fence":
            info = token.info.strip()
            if info.split()[:1] == ["python"]:
                tree = strip_docstrings(ast.parse(token.content))
                items.append(("code", info, ast.dump(tree)))
            else:
                items.append(("block", info, token.content))
        elif token.type == "html_block" and COMPONENT.match(token.content.strip()):
            items.append(("component", token.content.strip()))
    return items


def front_matter_keys(text: str) -> list[str]:
    head = re.match(r"---\n(.*?)\n---\n", text, re.S)
    assert head, "front matter missing"
    return [line.split(":", 1)[0] for line in head.group(1).splitlines() if ":" in line]


def test_there_is_something_to_compare():
    assert "06-model-io-checkpoint.md" in PAIRS


@pytest.mark.parametrize("name", PAIRS)
def test_zh_and_en_have_the_same_shape(name: str):
    zh = (TUTORIALS / "zh" / name).read_text(encoding="utf-8")
    en = (TUTORIALS / "en" / name).read_text(encoding="utf-8")
    assert front_matter_keys(zh) == front_matter_keys(en)
    a, b = outline(zh), outline(en)
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        assert x == y, f"{name}: item {i} differs:\nzh: {str(x)[:300]}\nen: {str(y)[:300]}"
    assert len(a) == len(b), f"{name}: zh has {len(a)} headings/blocks/components, en has {len(b)}"


@pytest.mark.parametrize("name", PAIRS)
def test_both_languages_carry_the_same_update_date(name: str):
    dates = {
        lang: re.search(
            r'^updated:\s*"?([^"\n]+)"?$', (TUTORIALS / lang / name).read_text(encoding="utf-8"), re.M
        )
        for lang in ("zh", "en")
    }
    assert all(dates.values())
    assert dates["zh"].group(1) == dates["en"].group(1)
