"""Run the code of every lesson file the way a reader would: top to bottom, like a notebook.

Each ```python block of a tutorials/<lang>/*.md file is executed in order, in one namespace per
file, in a fresh temporary directory, on CPU. A block marked ```python fragment is a deliberate
fragment (needs a GPU, shows an error on purpose, ...): it is compiled, not executed.
A chapter that tells readers its sections stand on their own (STANDALONE) is also run one
`## ` section at a time, each in a namespace of its own, as a reader who jumps there would.
"""

from __future__ import annotations

import contextlib
import io
import random
import re
import sys
import types
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
import yaml
from markdown_it import MarkdownIt

ROOT = Path(__file__).resolve().parents[1]
TUTORIALS = ROOT / "tutorials"
LESSONS = sorted(TUTORIALS.glob("*/*.md"))
PLACEHOLDERS = (
    '<div data-component="CheckpointSimulator"></div>',
    '<div data-component="TransferLearningVisualizer"></div>',
    '<div data-component="StateDictExplorer"></div>',
    '<div data-component="SaveLoadLab"></div>',
    '<div data-component="LoadingClinic"></div>',
    '<div data-component="CheckpointInspector"></div>',
)


@dataclass
class Block:
    kind: str  # "run" or "fragment"
    code: str
    line: int  # 1-based line of the opening fence
    output: str | None = None  # the ```text block that comes next, before any other code
    section: str = ""  # the `## ` heading the block sits under


def printed_lines(text: str) -> list[str]:
    lines = [line.rstrip() for line in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def python_blocks(text: str) -> list[Block]:
    blocks: list[Block] = []
    tokens = MarkdownIt("commonmark").parse(text)
    section = ""
    for i, token in enumerate(tokens):
        if token.type == "heading_open" and token.tag == "h2":
            section = tokens[i + 1].content
        if token.type != "fence":
            continue
        info = token.info.split()
        if info == ["text"] and blocks and blocks[-1].output is None:
            blocks[-1].output = token.content
            continue
        if not info or info[0] != "python":
            continue
        if info[1:] == ["fragment"]:
            kind = "fragment"
        elif info[1:] == []:
            kind = "run"
        else:
            raise AssertionError(f"unknown python fence info {token.info!r} at line {token.map[0] + 1}")
        blocks.append(Block(kind, token.content, token.map[0] + 1, section=section))
    return blocks


def front_matter(text: str) -> dict:
    match = re.match(r"---\n(.*?)\n---\n", text, re.S)
    assert match, "the file must start with a YAML front matter block"
    meta = yaml.safe_load(match.group(1))
    assert isinstance(meta, dict)
    return meta


def test_lessons_exist():
    names = {p.relative_to(TUTORIALS).as_posix() for p in LESSONS}
    assert {"zh/06-model-io-checkpoint.md", "en/06-model-io-checkpoint.md"} <= names
    assert {"zh/07-checkpoints-in-practice.md", "en/07-checkpoints-in-practice.md"} <= names


def check_chapter_06_components(text: str) -> None:
    lines = text.splitlines()
    for placeholder in PLACEHOLDERS:
        assert text.count(placeholder) == 1, f"{placeholder} must appear exactly once"
        i = lines.index(placeholder)  # on its own line ...
        assert lines[i - 1].strip() == "" and lines[i + 1].strip() == "", (
            f"{placeholder} needs blank lines around it"
        )
    # ... and in the right section: the simulator in 6.3, the visualizer in 6.4.
    sections = [(i, line) for i, line in enumerate(lines) if line.startswith("## ")]

    def section_of(placeholder: str) -> str:
        i = lines.index(placeholder)
        return [line for j, line in sections if j < i][-1]

    assert section_of(PLACEHOLDERS[0]).startswith("## 6.3")
    assert section_of(PLACEHOLDERS[1]).startswith("## 6.4")
    assert section_of(PLACEHOLDERS[2]).startswith("## 6.1")
    assert section_of(PLACEHOLDERS[3]).startswith("## 6.2")
    assert section_of(PLACEHOLDERS[4]).startswith("## 6.5")
    assert section_of(PLACEHOLDERS[5]).startswith("## 6.5")


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_lesson_structure(path: Path):
    text = path.read_text(encoding="utf-8")
    meta = front_matter(text)
    for key in ("title", "description", "updated"):
        assert str(meta.get(key) or "").strip(), f"front matter key {key!r} is missing or empty"

    body = text[text.index("\n---\n", 3) + 5 :].lstrip()
    assert body.startswith("> **"), "the lesson opens with the learning-objectives callout"
    run = [b.code for b in python_blocks(text) if b.kind == "run"]
    assert run, "a chapter teaches with code that runs"

    # The component placeholders, their sections and the core path's code belong to chapter 6
    # only: a new chapter by the course author need not carry them.
    if path.match("tutorials/*/06-*.md"):
        check_chapter_06_components(text)
        assert any("load_state_dict" in c and "torch.save" in c for c in run)
        assert any("optimizer_state_dict" in c and "scheduler" in c for c in run)
        assert any("torch.load" in c and "optimizer.load_state_dict" in c for c in run)
        assert any(".shape ==" in c and "load_state_dict" in c for c in run)


def test_translations_have_matching_code():
    by_lang: dict[str, dict[str, Counter]] = {}
    for path in LESSONS:
        kinds = Counter(b.kind for b in python_blocks(path.read_text(encoding="utf-8")))
        by_lang.setdefault(path.stem, {})[path.parent.name] = kinds
    for stem, langs in by_lang.items():
        if {"zh", "en"} <= langs.keys():
            assert langs["zh"] == langs["en"], f"{stem}: zh {dict(langs['zh'])} vs en {dict(langs['en'])}"


def run_blocks(path: Path, blocks: list[Block], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    # The code runs as a reader's script would: as module __main__, so classes it defines can be
    # pickled and found again by name (the lesson shows exactly that with torch.save(model)).
    main = types.ModuleType("__main__")
    monkeypatch.setitem(sys.modules, "__main__", main)
    torch.manual_seed(0)
    random.seed(0)
    for block in blocks:
        # Pad with newlines so a traceback's line numbers are those of the Markdown file.
        compiled = compile("\n" * block.line + block.code, str(path), "exec")
        if block.kind != "run":
            continue
        stdout = io.StringIO()
        with contextlib.redirect_stdout(stdout):
            exec(compiled, main.__dict__)
        # The output shown under a block is what the block really prints.
        if block.output is not None and stdout.getvalue():
            assert printed_lines(stdout.getvalue()) == printed_lines(block.output), (
                f"{path.name}, block at line {block.line}: the ```text block below it differs from "
                f"what it prints:\n{stdout.getvalue()}"
            )


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_lesson_code_runs(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    blocks = python_blocks(path.read_text(encoding="utf-8"))
    assert blocks, "a lesson without code is not a lesson we can test"
    run_blocks(path, blocks, tmp_path, monkeypatch)


# Chapters whose introduction says each `## ` section can be read (and its code run) on its own.
STANDALONE = ("07-checkpoints-in-practice.md",)
SECTIONS = [
    (path, section)
    for path in LESSONS
    if path.name in STANDALONE
    for section in dict.fromkeys(
        b.section for b in python_blocks(path.read_text(encoding="utf-8")) if b.kind == "run"
    )
]


def test_standalone_chapters_have_sections_with_code():
    assert {p.name for p, _ in SECTIONS} == set(STANDALONE)
    assert len(SECTIONS) >= 2 * len(STANDALONE) * 2  # both languages, several sections each


@pytest.mark.parametrize(
    ("path", "section"),
    SECTIONS,
    ids=[f"{p.parent.name}/{p.name}:{s.split()[0]}" for p, s in SECTIONS],
)
def test_each_section_runs_alone(path: Path, section: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A reader who jumps to this section and pastes its code gets what the text shows."""
    blocks = [b for b in python_blocks(path.read_text(encoding="utf-8")) if b.section == section]
    run_blocks(path, blocks, tmp_path, monkeypatch)
