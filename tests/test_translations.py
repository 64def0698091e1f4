"""Both catalogues are complete: every string in the code and templates is translated."""

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
METHODS = [("ebiz/**.py", "python"), ("templates/**.html", "jinja2"), ("templates/**.txt", "jinja2")]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "_l": None}


def _source_ids() -> set[str]:
    ids = set()
    for _file, _line, message, _comments, _ctx in extract_from_dir(
        str(ROOT), METHODS, keywords=KEYWORDS, options_map={"templates/**.html": {}}
    ):
        ids.add(message[0] if isinstance(message, tuple) else message)
    return ids


def _catalog(lang: str):
    with open(ROOT / "translations" / lang / "LC_MESSAGES" / "messages.po", "rb") as f:
        return read_po(f)


def test_every_string_is_translated_in_both_languages():
    ids = _source_ids()
    assert len(ids) > 50
    for lang in ("ms", "en"):
        cat = _catalog(lang)
        missing = sorted(i for i in ids if not (m := cat.get(i)) or not m.string or m.fuzzy)
        assert not missing, f"{lang}: {len(missing)} untranslated, e.g. {missing[:10]}"


def test_placeholders_survive_translation():
    for lang in ("ms", "en"):
        for msg in _catalog(lang):
            if not msg.id or not msg.string:
                continue
            src = msg.id if isinstance(msg.id, str) else msg.id[0]
            dst = msg.string if isinstance(msg.string, str) else msg.string[0]
            names = set(src.split("%(")[1:])
            for name in names:
                key = name.split(")")[0]
                assert f"%({key})" in dst, f"{lang}: placeholder {key!r} lost in {src!r}"
