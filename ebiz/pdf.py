"""The one base for every printed document (invoices, credit notes, receipts, licence certificates).

Invariant: every character a customer may type prints as itself. Names and addresses come in Malay
(Latin), Chinese and Tamil, so the documents embed Unicode fonts rather than the PDF core fonts
(Latin-1 only, which printed "?"): Noto Sans for Latin, with Noto Sans Tamil and Noto Sans SC as
fallbacks, each from a maintained PyPI package (declared in pyproject.toml), never a committed
binary. Tamil needs text shaping (uharfbuzz) to join its letters. Only the glyphs used are embedded.

Bold is drawn by stroking the outline as well as filling it: the Latin font is a variable font, and
instancing its bold weight costs seconds per document, while the stroke costs nothing. The fallback
fonts are loaded only when a document's text needs them (loading and subsetting a font is most of the
time a document takes): a Latin-only receipt embeds one font.
"""

import io
from contextlib import contextmanager

import fontpkg_noto_sans
import fontpkg_noto_sans_tamil
import pylopdf_fonts_zh_cn
from flask_babel import gettext as _
from fpdf import FPDF
from fpdf.enums import TextMode

FAMILY = "noto"
_LATIN = fontpkg_noto_sans.ROOT / "files" / "NotoSans[wdth,wght].ttf"
_TAMIL = fontpkg_noto_sans_tamil.ROOT / "files" / "NotoSansTamil[wdth,wght].ttf"
_CHINESE = pylopdf_fonts_zh_cn.sans_path()
# Code points the Latin font lacks, by the fallback that has them (Tamil; CJK ideographs, kana,
# punctuation and full-width forms).
_FALLBACKS = (
    ("noto-tamil", _TAMIL, ((0x0B80, 0x0BFF),)),
    ("noto-sc", _CHINESE, ((0x2E80, 0x9FFF), (0xF900, 0xFAFF), (0xFE30, 0xFE4F), (0xFF00, 0xFFEF),
                           (0x20000, 0x3FFFF))),
)


def _fallbacks_needed(text: str) -> set[str]:
    needed = set()
    for ch in text:
        code = ord(ch)
        if code < 0x0B80:
            continue
        for family, _path, ranges in _FALLBACKS:
            if any(lo <= code <= hi for lo, hi in ranges):
                needed.add(family)
    return needed


class Document(FPDF):
    """An A4 page with the store's heading, a title and a numbered footer, in Unicode fonts."""

    def __init__(self, title: str):
        super().__init__(format="A4")
        self.add_font(FAMILY, "", _LATIN)
        self._fallbacks: list[str] = []
        self._bold = False
        self.set_text_shaping(True)
        self.doc_title = title
        self.set_title(title)
        self.set_creator("eBiz")
        self.set_auto_page_break(auto=True, margin=18)
        self.add_page()

    def normalize_text(self, text: str) -> str:
        """fpdf2 passes every string through here before drawing or measuring it: load the fallback
        fonts it needs first."""
        if missing := _fallbacks_needed(text) - set(self._fallbacks):
            for family, path, _ranges in _FALLBACKS:
                if family in missing:
                    self.add_font(family, "", path)
                    self._fallbacks.append(family)
            self.set_fallback_fonts(self._fallbacks, exact_match=False)
        return super().normalize_text(text)

    def use(self, size: float, *, bold: bool = False) -> None:
        """Set the type for what follows: the one family at `size` points, bold or not."""
        self.set_font(FAMILY, "", size)
        self._bold = bold

    @contextmanager
    def _weight(self):
        # Bold strokes the outline as it fills it, inside a saved graphics state: the PDF text
        # rendering mode outlives its text object, and fpdf2 does not set it back for plain text.
        if not self._bold:
            yield
            return
        with self.local_context(text_mode=TextMode.FILL_STROKE, line_width=round(self.font_size_pt * 0.03, 3)):
            yield

    def cell(self, *args, **kwargs):
        with self._weight():
            return super().cell(*args, **kwargs)

    def multi_cell(self, *args, **kwargs):
        with self._weight():
            return super().multi_cell(*args, **kwargs)

    def header(self):
        self.use(14, bold=True)
        self.cell(0, 8, _("eBiz Geospatial Store"), new_x="LMARGIN", new_y="NEXT")
        self.use(9)
        self.cell(0, 5, _("National mapping agency, Malaysia"), new_x="LMARGIN", new_y="NEXT")
        self.ln(3)
        self.use(16, bold=True)
        self.multi_cell(0, 9, self.doc_title, new_x="LMARGIN", new_y="NEXT")
        self.use(10)

    def footer(self):
        self.set_y(-12)
        self.use(8)
        self.cell(0, 6, f"{self.doc_title} - {self.page_no()}", align="C")

    def kv(self, rows, *, label_width: float = 45, size: float = 10, height: float = 6):
        """Labelled rows: the label in bold, the value wrapped beside it."""
        for key, value in rows:
            self.use(size, bold=True)
            self.cell(label_width, height, str(key))
            self.use(size)
            self.multi_cell(0, height, str(value if value is not None else ""), new_x="LMARGIN", new_y="NEXT")
        self.ln(3)

    def paragraph(self, text: str, *, size: float = 9) -> None:
        self.use(size)
        self.multi_cell(0, 5, str(text), new_x="LMARGIN", new_y="NEXT")

    def output_io(self) -> io.BytesIO:
        return io.BytesIO(bytes(self.output()))
