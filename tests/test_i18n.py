"""Which language a visitor gets: the remembered choice, else the browser's, else Chinese."""

from __future__ import annotations

import pytest

from app import i18n
from app.i18n import pick_language


@pytest.mark.parametrize(
    "cookie, header, expected",
    [
        (None, None, "zh"),
        (None, "", "zh"),
        (None, "en", "en"),
        (None, "EN-us", "en"),
        (None, "en-US,en;q=0.9,zh;q=0.8", "en"),
        (None, "zh-CN,zh;q=0.9,en;q=0.8", "zh"),
        (None, "zh-TW", "zh"),
        (None, "fr-FR, de;q=0.9", "zh"),  # nothing we speak: the default
        (None, "fr-FR, en;q=0.5", "en"),  # the best one we do speak
        (None, "zh;q=0.2, en;q=0.7", "en"),  # quality beats position
        (None, "en;q=0.5, zh;q=0.5", "en"),  # a tie goes to the first listed
        (None, "zh;q=0, en;q=0.1", "en"),  # q=0 means "not this one"
        (None, "en;q=0", "zh"),
        (None, "*", "zh"),
        (None, "en;q=abc", "zh"),  # a garbage quality drops that entry
        (None, "en;q=abc, zh;q=0.1", "zh"),
        (None, "en;q=1.5", "zh"),  # out of range
        (None, "en;q=-1", "zh"),
        (None, "en;q=nan", "zh"),
        (None, "en;q=inf", "zh"),
        (None, ";;;,,,;q=;", "zh"),
        (None, "   en   ", "en"),
        ("en", "zh-CN,zh;q=0.9", "en"),  # the remembered choice wins
        ("zh", "en", "zh"),
        ("fr", "en", "en"),  # an unknown cookie value is ignored
        ("", None, "zh"),
        ("<script>", "en", "en"),
    ],
)
def test_pick_language(cookie, header, expected):
    assert pick_language(cookie, header) == expected


def test_pick_language_survives_a_huge_header():
    assert pick_language(None, "x" * 100_000) == "zh"
    assert pick_language(None, "en," + "x;q=0.1," * 20_000) == "en"
    assert pick_language(None, ",".join(["en;q=abc"] * 50_000)) == "zh"


def test_every_language_has_every_string():
    keys = {lang: set(strings) for lang, strings in i18n.STRINGS.items()}
    assert set(keys) == set(i18n.LANGS)
    assert keys["zh"] == keys["en"]
    for lang in i18n.LANGS:
        assert all(v.strip() for v in i18n.STRINGS[lang].values())


def test_t_falls_back():
    assert i18n.t("en", "copy") == "Copy"
    assert i18n.t("zh", "copy") == "复制"
    assert i18n.t("fr", "copy") == i18n.t(i18n.DEFAULT_LANG, "copy")
    assert i18n.t("en", "no-such-key") == "no-such-key"


@pytest.mark.parametrize(
    "path, query, cookie, header, expected",
    [
        ("/en/06-model-io-checkpoint", "lang=zh", "zh", "zh", "en"),  # the page's own language first
        ("/api/exercises", "lang=en", "zh", "zh", "en"),  # then ?lang= from whoever asked
        ("/components/x", "lang=fr", "en", "zh", "en"),  # an unknown ?lang= is ignored: the cookie
        ("/api/exercises", "", None, "en-US,en;q=0.9", "en"),  # then the browser's preference
        ("/teach", "", None, None, "zh"),  # else Chinese
    ],
)
def test_one_rule_picks_every_answers_language(path, query, cookie, header, expected):
    from starlette.requests import Request

    headers = []
    if cookie:
        headers.append((b"cookie", f"{i18n.LANG_COOKIE}={cookie}".encode()))
    if header:
        headers.append((b"accept-language", header.encode()))
    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "query_string": query.encode(),
        "headers": headers,
    }
    assert i18n.request_lang(Request(scope)) == expected


def test_pages_fragments_api_and_refusals_speak_the_same_language(client):
    """A browser that chose English gets English everywhere, a refusal from the guards included."""
    client.get("/en/")  # remembers the choice
    assert client.get("/nope").text.count("Page not found") >= 1
    assert "Chapters" in client.get("/").text
    refused = client.post(
        "/api/checkpoint-simulator/runs", headers={"origin": "http://evil.example"}, json={}
    )
    assert refused.status_code == 403 and "another site" in refused.json()["detail"]
    exercises = client.get("/api/exercises").json()["exercises"]
    assert all(e["title"].isascii() for e in exercises)
    client.get("/zh/")
    assert not all(e["title"].isascii() for e in client.get("/api/exercises").json()["exercises"])


def test_a_components_text_must_have_every_language_and_clash_with_no_one():
    with pytest.raises(ValueError, match="not in every language"):
        i18n.add({"zh": {"x.only_zh": "只有中文"}, "en": {}}, owner="Broken")
    with pytest.raises(ValueError, match="another text"):
        i18n.add({"zh": {"copy": "拷贝"}, "en": {"copy": "Copy"}}, owner="Clashing")
    assert i18n.t("zh", "copy") == "复制"  # nothing of a refused table was kept
