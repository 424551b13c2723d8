"""The chapter library: every tutorials/<lang>/<slug>.md becomes a page.

The folder is rescanned at most once a second and only changed files are re-rendered, so an
author's new or edited file shows up without a restart while requests never parse Markdown.
A broken file never takes the site down: it is kept as a ChapterError for the index to show.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import yaml

from app.content.render import Rendered, render_markdown

log = logging.getLogger(__name__)

SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,100}$")
MAX_BYTES = 2_000_000


@dataclass
class Chapter:
    lang: str
    slug: str
    title: str
    description: str
    updated: str
    rendered: Rendered
    path: Path


@dataclass
class ChapterError:
    lang: str
    file: str
    reason: str


class ChapterLoadError(ValueError):
    pass


def split_front_matter(text: str) -> tuple[dict, str]:
    if not text.startswith("---"):
        raise ChapterLoadError("no front matter: the file must start with a '---' line")
    lines = text.splitlines(keepends=True)
    try:
        end = next(i for i, line in enumerate(lines[1:], 1) if line.strip() == "---")
    except StopIteration:
        raise ChapterLoadError("front matter is not closed by a '---' line") from None
    try:
        meta = yaml.safe_load("".join(lines[1:end])) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 2}" if mark else ""  # +1 for 1-based, +1 for the opening ---
        problem = getattr(exc, "problem", None) or "cannot be parsed"
        raise ChapterLoadError(f"front matter is not valid YAML{where}: {problem}") from None
    if not isinstance(meta, dict):
        raise ChapterLoadError("front matter must be a mapping of keys to values")
    return meta, text


def _text(meta: dict, key: str) -> str:
    value = meta.get(key, "")
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return "" if value is None else str(value).strip()


def load_chapter(path: Path, lang: str) -> Chapter:
    try:
        if path.stat().st_size > MAX_BYTES:
            raise ChapterLoadError(f"file is larger than {MAX_BYTES} bytes")
        text = path.read_text(encoding="utf-8-sig")  # -sig: a BOM from a Windows editor is not text
    except UnicodeDecodeError:
        raise ChapterLoadError("file is not UTF-8 text") from None
    except OSError as exc:
        raise ChapterLoadError(f"file cannot be read: {exc.strerror or exc}") from None
    meta, body = split_front_matter(text)
    title = _text(meta, "title")
    if not title:
        raise ChapterLoadError("front matter has no 'title'")
    return Chapter(
        lang=lang,
        slug=path.stem,
        title=title,
        description=_text(meta, "description"),
        updated=_text(meta, "updated"),
        rendered=render_markdown(body),
        path=path,
    )


class ChapterLibrary:
    def __init__(self, root: Path, langs: tuple[str, ...], rescan_interval: float = 1.0):
        self.root = root
        self.langs = langs
        self.rescan_interval = rescan_interval
        self._lock = threading.Lock()
        self._scanned_at = float("-inf")
        self._stamps: dict[Path, tuple[int, int]] = {}
        self._loaded: dict[Path, Chapter | ChapterError] = {}
        # Bumped whenever a file is added, changed or removed: pages cached under it go stale.
        self.generation = 0

    def _files(self) -> list[tuple[str, Path]]:
        found = []
        for lang in self.langs:
            folder = self.root / lang
            if folder.is_dir():
                found += [(lang, p) for p in sorted(folder.glob("*.md")) if p.is_file()]
        return found

    def refresh(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._scanned_at < self.rescan_interval:
            return
        with self._lock:
            if not force and now - self._scanned_at < self.rescan_interval:
                return
            stamps, loaded = {}, {}
            for lang, path in self._files():
                try:
                    st = path.stat()
                except OSError:
                    continue
                stamps[path] = (st.st_mtime_ns, st.st_size)
                if self._stamps.get(path) == stamps[path]:
                    loaded[path] = self._loaded[path]
                    continue
                loaded[path] = self._load(path, lang)
            if stamps != self._stamps:
                self.generation += 1
            self._stamps, self._loaded = stamps, loaded
            self._scanned_at = time.monotonic()

    def _load(self, path: Path, lang: str) -> Chapter | ChapterError:
        rel = f"{lang}/{path.name}"
        if not SLUG.match(path.stem):
            return ChapterError(
                lang, rel, "file name must be letters, digits, '-' or '_' (it becomes the URL)"
            )
        try:
            chapter = load_chapter(path, lang)
        except ChapterLoadError as exc:
            log.warning("chapter %s skipped: %s", rel, exc)
            return ChapterError(lang, rel, str(exc))
        except Exception as exc:  # a renderer bug must not hide every other chapter
            log.exception("chapter %s failed to render", rel)
            return ChapterError(lang, rel, f"could not be rendered: {type(exc).__name__}")
        log.info("chapter %s loaded (%d components)", rel, len(chapter.rendered.components))
        return chapter

    def chapters(self, lang: str) -> list[Chapter]:
        self.refresh()
        return [c for c in self._loaded.values() if isinstance(c, Chapter) and c.lang == lang]

    def errors(self) -> list[ChapterError]:
        self.refresh()
        return [e for e in self._loaded.values() if isinstance(e, ChapterError)]

    def get(self, lang: str, slug: str) -> Chapter | None:
        if lang not in self.langs or not SLUG.match(slug):
            return None
        return next((c for c in self.chapters(lang) if c.slug == slug), None)
