"""The licence terms page: each part of the bilingual text carries its own lang, the page the reader's."""

import re

import pytest

from ebiz.licensing.service import get_licence, list_licences
from ebiz.licensing.text import licence_parts


def _words(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


@pytest.mark.parametrize("key", [lic.key for lic in list_licences()])
def test_every_licence_is_cut_into_malay_and_english_parts_without_losing_a_word(app, key):
    lic = get_licence(key)
    parts = licence_parts(lic)
    langs = [lang for lang, _html in parts]
    assert langs.count("ms") >= 2 and langs.count("en") >= 2
    assert _words("".join(html for _lang, html in parts)) == _words(lic.html)
    sections = {lang: html for lang, html in parts if "<h2>" in html}
    assert "<h2>Bahasa Malaysia</h2>" in sections["ms"] and "<h2>English</h2>" in sections["en"]
    title = parts[0][1]
    assert f'<span lang="ms">{lic.title_ms}</span>' in title and f'<span lang="en">{lic.title_en}</span>' in title


@pytest.mark.parametrize("lang", ["ms", "en"])
def test_terms_page_marks_each_language_whatever_the_page_language(client, lang):
    client.set_cookie("lang", lang)
    html = client.get("/licences/terms/standard-digital-data").get_data(as_text=True)
    assert f'<html lang="{lang}">' in html
    malay = re.search(r'<div lang="ms"[^>]*>\s*<h2>Bahasa Malaysia</h2>(.*?)</div>', html, re.S)
    english = re.search(r'<div lang="en"[^>]*>\s*<h2>English</h2>(.*?)</div>', html, re.S)
    assert malay and "Pemberi lesen" in malay.group(1) and "Licensor" not in malay.group(1)
    assert english and "Licensor" in english.group(1) and "Pemberi lesen" not in english.group(1)
    assert re.search(r'<div lang="ms"[^>]*>\s*<p><em>Versi 1\.0', html)
    assert re.search(r'<div lang="en"[^>]*>\s*<p><em>Version 1\.0', html)


def test_a_licence_without_language_sections_is_shown_whole(app):
    from dataclasses import replace

    lic = replace(get_licence("training-terms"), body="# Terms\n\nOne text only.\n")
    assert licence_parts(lic) == [(None, "<h1>Terms</h1>\n<p>One text only.</p>")]
