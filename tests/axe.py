"""axe-core in a Playwright page: the serious and critical accessibility violations it finds.

axe-core comes from the npm registry (`make test` installs it under .cache/axe); it is injected
into the page under test, so nothing is served by the app or fetched from a CDN."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
AXE_JS = REPO / ".cache" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
SERIOUS = ("serious", "critical")


def _inject(page) -> None:
    if page.evaluate("typeof window.axe === 'object'"):
        return
    if not AXE_JS.exists():
        raise RuntimeError(
            f"{AXE_JS} is missing: run `make test`, or `npm install --no-save --prefix .cache/axe axe-core@4`"
        )
    # Evaluated through the DevTools protocol rather than a <script> tag: a Content-Security-Policy
    # that forbids inline scripts (as it should) does not apply, and the page's DOM stays as served.
    page.evaluate(AXE_JS.read_text(encoding="utf-8") + "\n;void 0")


def serious_violations(page, exclude: list[str] | tuple[str, ...] = ()) -> list[dict]:
    """Run axe-core on the whole page and return its serious and critical violations.

    Each is {"id", "impact", "help", "nodes": [{"target", "html", "summary"}]}; `exclude` lists CSS
    selectors of regions to leave out (an area someone else is fixing, named in the test)."""
    _inject(page)
    context = {"exclude": [[s] for s in exclude]} if exclude else None
    results = page.evaluate(
        """async (context) => {
            const r = await axe.run(context || document, {resultTypes: ['violations']});
            return r.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => ({target: n.target, html: n.html.slice(0, 200),
                                          summary: (n.failureSummary || '').slice(0, 300)})),
            }));
        }""",
        context,
    )
    return [v for v in results if v["impact"] in SERIOUS]


def describe(violations: list[dict]) -> str:
    """A readable assertion message: rule, impact, how many nodes, and the first few targets."""
    lines = []
    for v in violations:
        targets = ", ".join(
            " ".join(n["target"]) if isinstance(n["target"], list) else str(n["target"])
            for n in v["nodes"][:5]
        )
        lines.append(f"{v['id']} ({v['impact']}, {len(v['nodes'])} nodes): {v['help']} — {targets}")
        if v["nodes"]:
            lines.append(f"    e.g. {v['nodes'][0]['html']}\n    {v['nodes'][0]['summary']}")
    return "\n".join(lines)
