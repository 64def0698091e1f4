"""The one base for every printed document (invoices, credit notes, receipts, licence certificates).

Invariant: every character a customer may type prints as itself. Names and addresses come in Malay
(Latin), Chinese and Tamil, so the documents embed Unicode fonts rather than the PDF core fonts
(Latin-1 only, which printed "?"): Noto Sans for Latin, with Noto Sans Tamil and Noto Sans SC as
fallbacks, each from a maintained PyPI package (declared in pyproject.toml), never a committed
binary. Tamil needs text shaping (uharfbuzz) to join its letters. Only the glyphs used are embedded.

Bold is drawn by stroking the outline as well as filling it: the Latin font is a variable font, and
instancing its bold weight costs seconds per document, while the stroke costs nothing.
"""

import io

import fontpkg_noto_sans
import fontpkg_noto_sans_tamil
import pylopdf_fonts_zh_cn
from flask_babel import gettext as _
from fpdf import FPDF
from fpdf.enums import TextMode

FAMILY = "noto"
_LATIN = fontpkg_noto_sans.ROOT / "files" / "NotoSans[wdth,wght].ttf"
_LATIN_ITALIC = fontpkg_noto_sans.ROOT / "files" / "NotoSans-Italic[wdth,wght].ttf"
_TAMIL = fontpkg_noto_sans_tamil.ROOT / "files" / "NotoSansTamil[wdth,wght].ttf"
_CHINESE = pylopdf_fonts_zh_cn.sans_path()


class Document(FPDF):
    """An A4 page with the store's heading, a title and a numbered footer, in Unicode fonts."""

    def __init__(self, title: str):
        super().__init__(format="A4")
        self.add_font(FAMILY, "", _LATIN)
        self.add_font(FAMILY, "I", _LATIN_ITALIC)
        self.add_font("noto-tamil", "", _TAMIL)
        self.add_font("noto-sc", "", _CHINESE)
        self.set_fallback_fonts(["noto-tamil", "noto-sc"], exact_match=False)
        self.set_text_shaping(True)
        self.doc_title = title
        self.set_title(title)
        self.set_creator("eBiz")
        self.set_auto_page_break(auto=True, margin=18)
        self.add_page()

    def use(self, size: float, *, bold: bool = False, italic: bool = False) -> None:
        """Set the type for what follows: the one family, at `size` points, bold and/or italic."""
        self.set_font(FAMILY, "I" if italic else "", size)
        self.text_mode = TextMode.FILL_STROKE if bold else TextMode.FILL

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
        self.use(8, italic=True)
        self.cell(0, 6, f"{self.doc_title} - {self.page_no()}", align="C")

    def kv(self, rows, *, label_width: float = 45, size: float = 10, height: float = 6):
        """Labelled rows: the label in bold, the value wrapped beside it."""
        for key, value in rows:
            self.use(size, bold=True)
            self.cell(label_width, height, str(key))
            self.use(size)
            self.multi_cell(0, height, str(value if value is not None else ""), new_x="LMARGIN", new_y="NEXT")
        self.ln(3)

    def paragraph(self, text: str, *, size: float = 9, italic: bool = False) -> None:
        self.use(size, italic=italic)
        self.multi_cell(0, 5, str(text), new_x="LMARGIN", new_y="NEXT")

    def output_io(self) -> io.BytesIO:
        return io.BytesIO(bytes(self.output()))
