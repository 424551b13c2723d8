"""Pages, errors and bad input, through the real app in-process."""

from __future__ import annotations

import importlib.resources
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

CHAPTER = "06-model-io-checkpoint"
ZH_TITLE = "第 6 章：模型 IO 与 Checkpoint"
EN_TITLE = "Chapter 6: Model IO and Checkpoints"


class Assets(HTMLParser):
    """Every URL the browser would load by itself (not links the reader may click)."""

    def __init__(self):
        super().__init__()
        self.urls: list[str] = []
        self.inline_scripts = 0
        self.inline_styles = 0
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script":
            if a.get("src"):
                self.urls.append(a["src"])
            else:
                self._in_script = True
        if tag == "link" and a.get("href"):
            self.urls.append(a["href"])
        if tag in ("img", "iframe", "source", "audio", "video", "embed") and a.get("src"):
            self.urls.append(a["src"])
        if tag == "style":
            self.inline_styles += 1
        if "style" in a:
            self.inline_styles += 1

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.inline_scripts += 1

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False


def lang_of(html: str) -> str:
    return re.search(r'<html lang="([^"]+)"', html).group(1)


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One app for the many read-only parametrized checks (the `client` fixture builds one per test)."""
    from app.main import create_app
    from app.settings import Settings

    settings = Settings(
        data_dir=tmp_path_factory.mktemp("pages") / "data",
        tutorials_dir=Path(__file__).resolve().parents[1] / "tutorials",
        secret_key="test-secret",
    )
    with TestClient(create_app(settings)) as c:
        yield c


def fresh(client: TestClient) -> TestClient:
    client.cookies.clear()
    return client


# --- basics --------------------------------------------------------------------------------------


def test_healthz(client):
    r = client.get("/healthz")
    assert r.status_code == 200 and r.text == "ok"


def test_api_chapters(client):
    r = client.get("/api/chapters")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    data = r.json()
    urls = {c["url"]: c for c in data["chapters"]}
    assert {f"/zh/{CHAPTER}", f"/en/{CHAPTER}"} <= set(urls)
    zh = urls[f"/zh/{CHAPTER}"]
    assert zh["title"] == ZH_TITLE and zh["lang"] == "zh" and zh["updated"]
    assert "CheckpointSimulator" in zh["components"]
    assert data["problems"] == []
    one = client.get(f"/api/chapters/en/{CHAPTER}")
    assert one.status_code == 200 and one.json()["title"] == EN_TITLE
    missing = client.get("/api/chapters/en/nope")
    assert missing.status_code == 404 and missing.json() == {"detail": "no such chapter"}


def test_docs_and_openapi(client):
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json")
    assert spec.status_code == 200
    assert "/api/chapters" in spec.json()["paths"]
    assert not any(p.startswith(("/zh", "/en", "/{lang}")) for p in spec.json()["paths"])


def test_lang_root_redirects(client):
    r = client.get("/en", follow_redirects=False)
    assert r.status_code == 308 and r.headers["location"] == "/en/"


# --- chapter pages -------------------------------------------------------------------------------


@pytest.mark.parametrize("lang, title, other", [("zh", ZH_TITLE, "en"), ("en", EN_TITLE, "zh")])
def test_chapter_page(client, lang, title, other):
    r = client.get(f"/{lang}/{CHAPTER}")
    assert r.status_code == 200
    html = r.text
    assert lang_of(html) == ("zh-CN" if lang == "zh" else "en")
    assert f"<h1>{title}</h1>" in html
    # TOC: one entry per h2/h3, each pointing at an anchor that exists on the page.
    toc = html.split('<aside class="toc"', 1)[1].split("</aside>", 1)[0]
    anchors = re.findall(r'href="#([^"]+)"', toc)
    assert len(anchors) >= 10
    for a in anchors:
        assert re.search(rf'<h[23] id="{re.escape(a)}"', html), a
    # Highlighted code, the objectives callout, the language switch to the same chapter.
    assert html.count('<div class="code-block" data-lang="python">') >= 5
    assert '<span class="kn">import</span>' in html
    assert '<blockquote class="callout">' in html
    switch = re.search(r'<a class="lang-switch" href="([^"]+)"[^>]*hreflang="([^"]+)"', html)
    assert switch.groups() == (f"/{other}/{CHAPTER}", other)
    assert '<a class="skip-link" href="#main">' in html and '<main id="main" tabindex="-1">' in html
    assert f'href="/{lang}/{CHAPTER}" aria-current="page"' in html
    assert r.cookies.get("lang") == lang


def test_page_copy_strings_follow_the_language(client):
    zh = client.get(f"/zh/{CHAPTER}").text
    en = client.get(f"/en/{CHAPTER}").text
    assert 'data-copy="复制" data-copied="已复制"' in zh
    assert 'data-copy="Copy" data-copied="Copied"' in en


def test_everything_loads_from_the_app(client):
    for url in ("/", f"/zh/{CHAPTER}", f"/en/{CHAPTER}", "/en/", "/nope"):
        parser = Assets()
        parser.feed(client.get(url).text)
        assert parser.urls, url
        for asset in parser.urls:
            assert asset.startswith("/") and not asset.startswith("//"), (url, asset)
            assert client.get(asset).status_code == 200, asset
        assert parser.inline_scripts == 0, url  # the CSP forbids them
    assert "/static/htmx/htmx.min.js" in {u.split("?")[0] for u in assets_of(client, f"/en/{CHAPTER}")}


def assets_of(client, url):
    p = Assets()
    p.feed(client.get(url).text)
    return p.urls


def test_htmx_is_the_pinned_package(client):
    r = client.get("/static/htmx/htmx.min.js")
    assert r.status_code == 200
    assert "javascript" in r.headers["content-type"]
    packaged = importlib.resources.files("js_lib_htmx").joinpath("static/htmx/htmx.min.js").read_bytes()
    assert r.content == packaged
    assert b'version:"2.0.3"' in r.content.replace(b" ", b"")


def test_static_assets_are_present(client):
    css = client.get("/static/css/app.css")
    assert css.status_code == 200 and "@media (prefers-color-scheme: dark)" in css.text
    assert ".skip-link" in css.text and ":focus" in css.text
    js = client.get("/static/js/app.js")
    assert js.status_code == 200 and "copy-button" in js.text
    pyg = client.get("/pygments.css")
    assert pyg.status_code == 200 and pyg.headers["content-type"].startswith("text/css")
    assert ".highlight .kn" in pyg.text and "prefers-color-scheme: dark" in pyg.text
    assert client.get("/favicon.ico").status_code == 200
    assert client.get("/static/nope.js").status_code == 404


@pytest.mark.parametrize(
    "url", ["/", "/zh/", "/en/", f"/zh/{CHAPTER}", f"/en/{CHAPTER}", "/nope", "/zh/nope"]
)
@pytest.mark.parametrize("hx", [False, True])
def test_html_headers(shared, url, hx):
    r = fresh(shared).get(url, headers={"HX-Request": "true"} if hx else {})
    assert r.headers["content-type"].startswith("text/html")
    vary = {v.strip().lower() for v in r.headers.get("vary", "").split(",")}
    assert {"hx-request", "cookie", "accept-language"} <= vary, r.headers.get("vary")
    csp = r.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    assert r.headers["x-content-type-options"] == "nosniff"


def test_vary_is_a_single_header(client):
    r = client.get(f"/zh/{CHAPTER}")  # the session middleware also varies on Cookie here
    assert len(r.headers.get_list("vary")) == 1


@pytest.mark.parametrize(
    "accept, compressed",
    [
        ("gzip, deflate", True),
        ("br;q=1.0, gzip;q=0.8", True),
        ("*", True),
        ("identity", False),
        ("gzip;q=0", False),
        ("", False),
    ],
)
def test_chapter_is_sent_compressed_when_the_browser_accepts_it(client, accept, compressed):
    """A class opening the page at once shares one Wi-Fi: browsers that accept it get it compressed."""
    import gzip

    r = client.get(f"/en/{CHAPTER}", headers={"accept-encoding": accept})
    with client.stream("GET", f"/en/{CHAPTER}", headers={"accept-encoding": accept}) as raw:
        body = b"".join(raw.iter_raw())
    assert (raw.headers.get("content-encoding") == "gzip") is compressed
    assert "accept-encoding" in {v.strip().lower() for v in raw.headers["vary"].split(",")}
    plain = gzip.decompress(body) if compressed else body
    # Two renders of the page: alike but for the jittered poll delay of a diagram still computing.
    jitter = re.compile(r"delay:\d+ms")
    assert jitter.sub("", plain.decode()) == jitter.sub("", r.text) and "CheckpointSimulator" in r.text
    if compressed:
        assert len(body) * 3 < len(plain)


# --- the index and the language choice ------------------------------------------------------------


def test_index_defaults_to_chinese(client):
    r = fresh(client).get("/")
    assert r.status_code == 200
    assert lang_of(r.text) == "zh-CN"
    assert f'href="/zh/{CHAPTER}"' in r.text and ZH_TITLE in r.text


def test_index_follows_accept_language(client):
    r = fresh(client).get("/", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert lang_of(r.text) == "en" and f'href="/en/{CHAPTER}"' in r.text and EN_TITLE in r.text
    r = fresh(client).get("/", headers={"Accept-Language": "fr, zh-CN;q=0.5, en;q=0.4"})
    assert lang_of(r.text) == "zh-CN"


def test_the_cookie_beats_accept_language(client):
    fresh(client).get(f"/en/{CHAPTER}")  # visiting a page remembers its language
    r = client.get("/", headers={"Accept-Language": "zh-CN"})
    assert lang_of(r.text) == "en"
    client.get("/zh/")
    r = client.get("/", headers={"Accept-Language": "en"})
    assert lang_of(r.text) == "zh-CN"


@pytest.mark.parametrize(
    "header",
    [
        "x" * 100_000,
        "en;q=abc",
        "*",
        "en;q=",
        ";q=0.5",
        "en;q=1e999",
        "zh;q=-0.5, en;q=2",
        ",,,,",
        "\t",
        "en-" * 5000,
        "q=0.9",
        "é中文",
    ],
)
def test_odd_accept_language_never_fails(shared, header):
    r = fresh(shared).get("/", headers={"Accept-Language": header.encode("utf-8")})
    assert r.status_code == 200
    assert lang_of(r.text) in ("zh-CN", "en")


def test_garbage_cookie_is_ignored(client):
    client.cookies.clear()
    client.cookies.set("lang", "<script>x</script>")
    r = client.get("/", headers={"Accept-Language": "en"})
    assert r.status_code == 200 and lang_of(r.text) == "en"
    assert "<script>x</script>" not in r.text


# --- errors --------------------------------------------------------------------------------------


def test_404_page_lists_chapters_in_the_language(client):
    r = client.get("/en/no-such-chapter")
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    assert lang_of(r.text) == "en" and "Page not found" in r.text
    assert 'class="error-page"' in r.text and "/static/css/app.css" in r.text
    assert f'<li><a href="/en/{CHAPTER}">{EN_TITLE}</a></li>' in r.text
    r = client.get("/zh/no-such-chapter")
    assert lang_of(r.text) == "zh-CN" and "页面不存在" in r.text
    assert f'<li><a href="/zh/{CHAPTER}">{ZH_TITLE}</a></li>' in r.text


def test_404_outside_a_language_uses_the_visitors_language(client):
    r = fresh(client).get("/nothing/here/at/all", headers={"Accept-Language": "en"})
    assert r.status_code == 404 and lang_of(r.text) == "en"
    r = fresh(client).get("/nothing")
    assert r.status_code == 404 and lang_of(r.text) == "zh-CN"
    assert f'href="/zh/{CHAPTER}"' in r.text


def test_404_for_the_api_is_json(client):
    for url in ("/api/nope", "/api/chapters/xx/yy", "/api"):
        r = client.get(url)
        assert r.status_code == 404, url
        assert r.headers["content-type"].startswith("application/json"), url
        assert "detail" in r.json()


def test_method_not_allowed_is_not_a_crash(client):
    assert client.post("/healthz").status_code == 405


def _app_with_a_crashing_route(settings):
    from app.main import create_app

    app = create_app(settings)

    def boom():
        raise RuntimeError("secret-trace-marker /etc/passwd")

    # Put the routes first: the page routes would otherwise take /{lang} for themselves.
    for path in ("/test-crash", "/api/test-crash"):
        app.add_api_route(path, boom)
        app.router.routes.insert(0, app.router.routes.pop())
    return app


def test_500_page_in_style_without_trace(settings, caplog):
    with TestClient(_app_with_a_crashing_route(settings), raise_server_exceptions=False) as c:
        r = c.get("/test-crash", headers={"Accept-Language": "en"})
        assert r.status_code == 500
        assert r.headers["content-type"].startswith("text/html")
        assert lang_of(r.text) == "en" and "Something went wrong" in r.text
        assert 'class="error-page"' in r.text and "/static/css/app.css" in r.text
        assert f'href="/en/{CHAPTER}"' in r.text
        for leak in ("secret-trace-marker", "Traceback", "RuntimeError", 'File "'):
            assert leak not in r.text
        assert "content-security-policy" in r.headers
        assert "hx-request" in r.headers.get("vary", "").lower()

        r = c.get("/test-crash")
        assert r.status_code == 500 and "出错了" in r.text

        api = c.get("/api/test-crash")
        assert api.status_code == 500 and api.json() == {"detail": "internal error"}
    assert any("secret-trace-marker" in (rec.exc_text or str(rec.exc_info)) for rec in caplog.records)


# --- bad input -----------------------------------------------------------------------------------

TRICKS = [
    "/zh/%2e%2e",
    "/zh/%2E%2E/%2E%2E/etc/passwd",
    "/zh/..%2f..%2fetc%2fpasswd",
    "/zh/..%2F..%2F..%2F..%2Fetc%2Fpasswd",
    "/zh/%2fetc%2fpasswd",
    "/zh//etc/passwd",
    "/zh/..\\..\\etc\\passwd",
    "/zh/..%5c..%5cetc%5cpasswd",
    "/zh/06-model-io-checkpoint%00",
    "/zh/%00",
    "/zh/a%00.md",
    "/zh/06-model-io-checkpoint.md",
    "/zh/" + "a" * 5000,
    "/zh/" + "a" * 101 + "b",
    "/%2e%2e/%2e%2e/etc/passwd",
    "/zh/....//....//etc/passwd",
    "/en/%252e%252e%252fetc%252fpasswd",
    "/zh/~root",
    "/zh/.hidden",
    "/xx/" + CHAPTER,
    "/ZH/" + CHAPTER,
    "/zh-CN/" + CHAPTER,
    "/zh/06-model-io-checkpoint%0a",
    "/zh/06-model-io-checkpoint/extra",
    "/static/../app/main.py",
    "/static/%2e%2e/app/main.py",
    "/static/..%2fapp%2fsettings.py",
    "/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
]


@pytest.mark.parametrize("url", TRICKS)
def test_path_tricks_are_404(shared, url):
    r = shared.get(url)
    assert r.status_code == 404, url
    for secret in ("root:", "create_app", "BaseSettings", "import "):
        assert secret not in r.text, (url, secret)
    if r.headers["content-type"].startswith("text/html"):
        assert 'class="error-page"' in r.text
        assert f'/{CHAPTER}"' in r.text  # the chapters are listed


def test_tricks_against_a_tmp_tutorials_dir(tmp_path):
    """A real chapter next to the folder must not be reachable from it."""
    from app.main import create_app
    from app.settings import Settings

    tut = tmp_path / "tut"
    (tut / "zh").mkdir(parents=True)
    (tut / "en").mkdir()
    (tut / "zh" / "ok.md").write_text("---\ntitle: ok\n---\nok\n", encoding="utf-8")
    (tmp_path / "outside.md").write_text("---\ntitle: OUTSIDE-SECRET\n---\nsecret\n", encoding="utf-8")
    (tut / "secret.md").write_text("---\ntitle: ROOT-SECRET\n---\nsecret\n", encoding="utf-8")
    settings = Settings(data_dir=tmp_path / "data", tutorials_dir=tut, secret_key="test-secret")
    with TestClient(create_app(settings)) as c:
        assert c.get("/zh/ok").status_code == 200
        for url in (
            "/zh/..%2f..%2foutside",
            "/zh/%2e%2e%2foutside",
            "/zh/..%2fsecret",
            "/zh/%2e%2e",
            "/zh/..%5csecret",
            "/en/..%2fzh%2fok",
        ):
            r = c.get(url)
            assert r.status_code == 404, url
            assert "SECRET" not in r.text
        assert "SECRET" not in c.get("/api/chapters").text


def test_trailing_slash_goes_to_the_chapter(client):
    r = client.get(f"/zh/{CHAPTER}/", follow_redirects=False)
    assert r.status_code in (307, 308)
    assert r.headers["location"].endswith(f"/zh/{CHAPTER}")


@pytest.mark.parametrize(
    "url",
    [
        "/<script>alert(1)</script>",
        "/zh/<script>alert(1)</script>",
        "/zh/x?q=<script>alert(1)</script>",
        "/en/%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        "/zh/%22%3E%3Cscript%3Ealert(1)%3C/script%3E",
        "/api/<script>alert(1)</script>",
        "/api/chapters/zh/%3Cscript%3Ealert(1)%3C%2Fscript%3E",
    ],
)
def test_user_input_is_never_reflected_raw(shared, url):
    r = shared.get(url)
    assert r.status_code == 404
    assert "<script>alert(1)" not in r.text
    assert '"><script>' not in r.text


def test_huge_query_and_headers_are_harmless(client):
    r = client.get(
        f"/en/{CHAPTER}?" + "x=" + "y" * 50_000, headers={"HX-Request": "true", "X-Junk": "z" * 10_000}
    )
    assert r.status_code == 200 and "y" * 100 not in r.text


# --- revalidation: a browser that has the page asks again cheaply -----------------------------------


def test_an_unchanged_chapter_is_revalidated_with_304(client):
    first = client.get(f"/en/{CHAPTER}")
    etag = first.headers["etag"]
    assert first.status_code == 200 and first.headers["cache-control"] == "no-cache"
    again = client.get(f"/en/{CHAPTER}", headers={"if-none-match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag
    # A tag the browser kept of another page, or a weak form of ours, are matched as HTTP says.
    assert client.get(f"/zh/{CHAPTER}", headers={"if-none-match": etag}).status_code == 200
    assert client.get(f"/en/{CHAPTER}", headers={"if-none-match": f'"x", W/{etag}'}).status_code == 304


def test_the_tag_follows_a_change_of_a_components_state(client):
    """The name field shows while a teacher uses the dashboard: the kept page is then stale."""
    import time

    before = client.get(f"/en/{CHAPTER}")
    client.app.state.classroom.state.teacher_seen = time.time()
    during = client.get(f"/en/{CHAPTER}", headers={"if-none-match": before.headers["etag"]})
    assert during.status_code == 200 and during.headers["etag"] != before.headers["etag"]
    assert 'id="class-name"' not in before.text and 'id="class-name"' in during.text


def test_a_browser_without_a_session_gets_one_with_the_page_even_when_revalidating(client):
    etag = client.get(f"/en/{CHAPTER}").headers["etag"]
    client.cookies.clear()
    r = client.get(f"/en/{CHAPTER}", headers={"if-none-match": etag})
    assert r.status_code == 304 and "lab_session=" in r.headers.get("set-cookie", "")


def test_every_layer_answers_for_chapter_pages(settings):
    """The host check, the cross-site guard and the security headers apply to chapter pages like
    to everything else, however often the page was asked for before."""
    from app.main import create_app

    with TestClient(create_app(settings.model_copy(update={"allowed_hosts": "testserver"}))) as c:
        for _ in range(3):
            r = c.get(f"/en/{CHAPTER}")
            assert r.status_code == 200 and r.headers["x-content-type-options"] == "nosniff"
            assert "default-src 'self'" in r.headers["content-security-policy"]
        refused = c.get(f"/en/{CHAPTER}", headers={"host": "evil.example"})
        assert refused.status_code == 400 and "<html" not in refused.text.lower()
        head = c.head(f"/en/{CHAPTER}")
        assert head.status_code == 200 and head.content == b""


def test_page_paths_never_take_other_routes(client):
    """Only /zh/... and /en/... are pages: the API and the components' routes keep their own answers."""
    assert client.get("/api/chapters").headers["content-type"].startswith("application/json")
    assert client.get("/fr/").status_code == 404
    assert client.post(f"/en/{CHAPTER}").status_code == 405
