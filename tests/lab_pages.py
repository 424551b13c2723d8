"""Browser pages for the labs' tests: a viewport per device, problems recorded as in conftest."""

from __future__ import annotations

import contextlib

DESKTOP = {"width": 1366, "height": 850}
PHONE = {"width": 390, "height": 844}
DEVICES = {"desktop": DESKTOP, "phone": PHONE}
CHAPTER = "/{lang}/06-model-io-checkpoint"


@contextlib.contextmanager
def chapter_page(browser, live_server, lang: str, device: str = "desktop", dark: bool = False):
    """The chapter in a fresh context (its own learner); console errors, page errors and requests
    that leave the app fail the test."""
    viewport = DEVICES[device]
    context = browser.new_context(viewport=viewport, base_url=live_server.url, has_touch=device == "phone")
    page = context.new_page()
    problems: list[str] = []
    page.on(
        "console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None
    )
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on(
        "request",
        lambda r: (
            problems.append(f"request left the app: {r.url}")
            if not r.url.startswith((live_server.url, "data:", "about:"))
            else None
        ),
    )
    if dark:
        page.emulate_media(color_scheme="dark")
    page.goto(CHAPTER.format(lang=lang))
    try:
        yield page
    finally:
        context.close()
    assert not problems, problems


def widest(page) -> dict:
    """The page's scroll width and the elements wider than the viewport (none, on a phone)."""
    return page.evaluate("""() => {
        const vw = document.documentElement.clientWidth;
        const wide = [...document.querySelectorAll('main *')].filter(e => {
            const r = e.getBoundingClientRect();
            return r.width > 0 && (r.right > vw + 1 || r.left < -1)
                && getComputedStyle(e).position !== 'fixed'
                && !e.closest('[hidden], .sr-only') && !hiddenByScroller(e);
        }).slice(0, 5)
          .map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right));
        function hiddenByScroller(e) {
            for (let p = e.parentElement; p && p !== document.body; p = p.parentElement) {
                const o = getComputedStyle(p).overflowX;
                if (o === 'auto' || o === 'scroll' || o === 'hidden')
                    return p.getBoundingClientRect().right <= vw + 1;
            }
            return false;
        }
        return {scrollWidth: document.documentElement.scrollWidth, viewport: vw, wide};
    }""")


def small_text(page, selectors: list[str], floor: float = 11.0) -> dict[str, list[str]]:
    """Visible text rendered smaller than `floor` px inside each component (SVG text at its
    on-screen scale)."""
    return page.evaluate(
        """([selectors, floor]) => {
      const out = {};
      for (const sel of selectors) {
        const root = document.querySelector(sel), small = [];
        const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
        while (walker.nextNode()) {
          const node = walker.currentNode, el = node.parentElement;
          if (!node.textContent.trim() || el.closest('[hidden], .sr-only')) continue;
          if (!el.getClientRects().length) continue;
          let size = parseFloat(getComputedStyle(el).fontSize);
          const svg = el.closest('svg');
          if (svg) { const m = svg.getScreenCTM(); size *= m ? m.a : 1; }
          if (size < floor)
            small.push(`${el.tagName} ${size.toFixed(1)}px "${node.textContent.trim().slice(0, 20)}"`);
        }
        out[sel] = small.slice(0, 10);
      }
      return out;
    }""",
        [selectors, floor],
    )
