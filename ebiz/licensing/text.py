"""A licence text cut into parts by language, so a page can mark each part with its `lang`.

Every licence file (licenses/*.md) is bilingual the same way: a title "<Malay> / <English>",
notes in Malay each followed by its English translation, then a "## Bahasa Malaysia" section
and a "## English" section. The text (and so its SHA-256) is never changed here: only how it
is cut for display.
"""

import re

import markdown
from markupsafe import Markup

SECTION_LANGS = {"bahasa malaysia": "ms", "english": "en"}
_HEADING = re.compile(r"^##\s+(.+?)\s*#*\s*$")


def _section_lang(line: str) -> str | None:
    m = _HEADING.match(line)
    return SECTION_LANGS.get(m.group(1).strip().lower()) if m else None


def _blocks(lines: list[str]) -> list[str]:
    """Markdown blocks (separated by blank lines)."""
    blocks, current = [], []
    for line in lines:
        if line.strip():
            current.append(line)
        elif current:
            blocks.append("\n".join(current))
            current = []
    if current:
        blocks.append("\n".join(current))
    return blocks


def licence_parts(lic) -> list[tuple[str | None, Markup]]:
    """(lang, html) parts of a licence's text in order; lang is None for a part in both languages."""
    lines = lic.body.splitlines()
    starts = [i for i, line in enumerate(lines) if _section_lang(line)]
    if not starts:
        return [(None, Markup(markdown.markdown(lic.body)))]  # noqa: S704 (licence files are ours, trusted)
    parts: list[tuple[str | None, Markup]] = []
    notes = 0
    for block in _blocks(lines[:starts[0]]):
        if block.startswith("# ") and block[2:].strip() == f"{lic.title_ms} / {lic.title_en}":
            parts.append((None, Markup('<h1><span lang="ms">{}</span> / <span lang="en">{}</span></h1>').format(
                lic.title_ms, lic.title_en)))
        else:  # the notes: Malay, then its English translation
            parts.append(("ms" if notes % 2 == 0 else "en", Markup(markdown.markdown(block))))  # noqa: S704
            notes += 1
    for start, end in zip(starts, [*starts[1:], len(lines)], strict=True):
        html = markdown.markdown("\n".join(lines[start:end]))
        parts.append((_section_lang(lines[start]), Markup(html)))  # noqa: S704 (licence files are ours)
    return parts
