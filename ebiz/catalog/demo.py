"""Demo catalogue: categories and products of all three types (files come from delivery.demo)."""

from datetime import date, datetime, timedelta

from sqlalchemy import select

from ..clock import utcnow
from ..extensions import db
from .models import Category, Product, ProductVersion, TrainingSession
from .service import slugify

CATEGORIES = [
    ("cadastre", "Kadaster", "Cadastre"),
    ("survey-control", "Kawalan ukur", "Survey control"),
    ("topography", "Topografi", "Topography"),
    ("imagery", "Imej udara", "Aerial imagery"),
    ("boundaries", "Sempadan", "Boundaries"),
    ("printed-maps", "Peta bercetak", "Printed maps"),
    ("training", "Latihan", "Training"),
    ("services", "Perkhidmatan data", "Data services"),
]

STD = dict(licence_key="standard-digital-data",
           permitted_use="Internal use by the licensee for planning, analysis and reports; no resale.")

DIGITAL = [
    dict(sku="CAD-SGR-PTG", name="Cadastral parcels – Petaling (Selangor)", category="cadastre",
         description="Lot boundaries with lot numbers and mukim codes for the district of Petaling, "
                     "from the National Digital Cadastral Database.",
         price_sen=25000, state="Selangor", district="Petaling", data_format="GeoJSON", crs="EPSG:3375 (GDM2000 RSO)",
         allowed_extensions=".zip,.geojson,.gpkg",
         versions=[("2025.2", date(2025, 9, 1), "Second release of 2025."),
                   ("2026.1", date(2026, 3, 1), "Re-surveyed lots in Damansara; 312 lot numbers corrected.")]),
    dict(sku="CAD-JHR-JB", name="Cadastral parcels – Johor Bahru (Johor)", category="cadastre",
         description="Lot boundaries for the district of Johor Bahru.", price_sen=25000, state="Johor",
         district="Johor Bahru", data_format="GeoJSON", crs="EPSG:3375 (GDM2000 RSO)",
         allowed_extensions=".zip,.geojson,.gpkg", versions=[("2026.1", date(2026, 2, 1), "First release.")]),
    dict(sku="SCP-SGR", name="Survey control points – Selangor", category="survey-control",
         description="Geodetic benchmarks and GNSS control stations with coordinates and heights.",
         price_sen=8000, state="Selangor", district=None, data_format="CSV", crs="EPSG:4742 (GDM2000)",
         allowed_extensions=".csv,.geojson,.zip",
         versions=[("2025.1", date(2025, 1, 10), "First release."),
                   ("2026.1", date(2026, 1, 10), "41 new GNSS stations; heights re-adjusted to the new datum.")]),
    dict(sku="SCP-SBH", name="Survey control points – Sabah", category="survey-control",
         description="Survey control stations of Sabah.", price_sen=8000, state="Sabah", data_format="CSV",
         crs="EPSG:4742 (GDM2000)", allowed_extensions=".csv,.geojson",
         versions=[("2026.1", date(2026, 4, 1), "First release.")]),
    dict(sku="TOPO-3757", name="Topographic map sheet 3757 – digital elevation grid", category="topography",
         description="Elevation grid (ESRI ASCII) of sheet 3757, 1:25,000 series.", price_sen=12000,
         state="Pahang", data_format="ZIP", crs="EPSG:3375 (GDM2000 RSO)", allowed_extensions=".zip,.asc",
         versions=[("2024.1", date(2024, 6, 1), "First release.")]),
    dict(sku="BND-PRK", name="District boundaries – Perak", category="boundaries",
         description="Administrative district boundaries of Perak as polygons.", price_sen=5000, state="Perak",
         data_format="GeoJSON", crs="EPSG:4326 (WGS 84)", allowed_extensions=".geojson,.zip",
         versions=[("2026.1", date(2026, 1, 20), "First release.")]),
    dict(sku="IMG-PJY-2025", name="Aerial imagery – Putrajaya 2025 (restricted)", category="imagery",
         description="Orthorectified aerial imagery of the federal administrative centre. Restricted: sold only "
                     "with an approved restricted-data application.",
         price_sen=90000, state="Wilayah Persekutuan Putrajaya", data_format="ZIP", crs="EPSG:3375 (GDM2000 RSO)",
         allowed_extensions=".zip", restricted=True, licence_key="restricted-data",
         permitted_use="Only the purpose stated in the approved application.", download_limit=3,
         download_window_days=14, versions=[("2025.1", date(2025, 11, 1), "First release.")]),
]

PRINTED = [
    dict(sku="PRT-SEM-750K", name="Map of Peninsular Malaysia 1:750,000", category="printed-maps",
         description="Folded printed map of Peninsular Malaysia.", price_sen=1500, stock=40),
    dict(sku="PRT-3757", name="Topographic map sheet 3757 (printed)", category="printed-maps",
         description="Printed 1:25,000 topographic sheet.", price_sen=2000, stock=12),
    dict(sku="PRT-ATLAS", name="National Atlas of Malaysia", category="printed-maps",
         description="The national atlas, hard cover.", price_sen=12000, stock=3),
]

SERVICES = [
    dict(sku="TRN-GIS-101", name="GIS fundamentals (two-day course)", category="training", service_kind="training",
         description="Hands-on introduction to GIS with national datasets.", price_sen=60000,
         licence_key="training-terms", permitted_use="Course materials for the participant's own use."),
    dict(sku="TRN-GNSS", name="GNSS surveying for practitioners (online)", category="training",
         service_kind="training", description="Online course on GNSS surveying and the MyRTKnet service.",
         price_sen=45000, licence_key="training-terms",
         permitted_use="Course materials for the participant's own use."),
    dict(sku="SVC-EXTRACT", name="Custom data extraction", category="services", service_kind="extraction",
         description="We extract the layers you need for your area of interest and deliver them as files.",
         price_sen=30000, licence_key="on-demand-service", allowed_extensions=".zip,.csv,.gpkg,.geojson",
         permitted_use="The project named in the order."),
]

# The Malay of every demo product (name, description) and of its versions' change notes.
MALAY = {
    "CAD-SGR-PTG": ("Lot kadaster – Petaling (Selangor)",
                    "Sempadan lot dengan nombor lot dan kod mukim bagi daerah Petaling, daripada Pangkalan Data "
                    "Kadaster Digital Kebangsaan."),
    "CAD-JHR-JB": ("Lot kadaster – Johor Bahru (Johor)", "Sempadan lot bagi daerah Johor Bahru."),
    "SCP-SGR": ("Titik kawalan ukur – Selangor",
                "Tanda aras geodetik dan stesen kawalan GNSS dengan koordinat dan ketinggian."),
    "SCP-SBH": ("Titik kawalan ukur – Sabah", "Stesen kawalan ukur negeri Sabah."),
    "TOPO-3757": ("Helaian peta topografi 3757 – grid ketinggian digital",
                  "Grid ketinggian (ESRI ASCII) helaian 3757, siri 1:25,000."),
    "BND-PRK": ("Sempadan daerah – Perak", "Sempadan daerah pentadbiran Perak sebagai poligon."),
    "IMG-PJY-2025": ("Imej udara – Putrajaya 2025 (terhad)",
                     "Imej udara ortorektifikasi pusat pentadbiran persekutuan. Terhad: dijual hanya dengan "
                     "permohonan data terhad yang diluluskan."),
    "PRT-SEM-750K": ("Peta Semenanjung Malaysia 1:750,000", "Peta bercetak Semenanjung Malaysia, berlipat."),
    "PRT-3757": ("Helaian peta topografi 3757 (bercetak)", "Helaian topografi bercetak 1:25,000."),
    "PRT-ATLAS": ("Atlas Kebangsaan Malaysia", "Atlas kebangsaan, kulit keras."),
    "TRN-GIS-101": ("Asas GIS (kursus dua hari)", "Pengenalan GIS secara praktikal dengan set data kebangsaan."),
    "TRN-GNSS": ("Ukur GNSS untuk pengamal (dalam talian)",
                 "Kursus dalam talian tentang ukur GNSS dan perkhidmatan MyRTKnet."),
    "SVC-EXTRACT": ("Pengekstrakan data khas",
                    "Kami mengekstrak lapisan yang anda perlukan bagi kawasan anda dan menyerahkannya sebagai fail."),
    "PRT-DRAFT": ("Peta negeri (draf, belum dijual)", ""),
}
NOTES_MS = {
    "First release.": "Keluaran pertama.",
    "Second release of 2025.": "Keluaran kedua bagi 2025.",
    "Re-surveyed lots in Damansara; 312 lot numbers corrected.":
        "Lot di Damansara diukur semula; 312 nombor lot dibetulkan.",
    "41 new GNSS stations; heights re-adjusted to the new datum.":
        "41 stesen GNSS baharu; ketinggian dilaraskan semula kepada datum baharu.",
}


def _malay(sku: str) -> dict:
    name_ms, description_ms = MALAY[sku]
    return {"name_ms": name_ms, "description_ms": description_ms}


def seed() -> list[str]:
    """Create the demo catalogue (skipped when products exist). Returns console lines."""
    if db.session.scalar(select(Product.id).limit(1)) is not None:
        return ["Catalogue: products exist, demo catalogue skipped."]
    cats = {}
    for slug, ms, en in CATEGORIES:
        cats[slug] = Category(slug=slug, name_ms=ms, name_en=en)
        db.session.add(cats[slug])
    db.session.flush()
    now = utcnow()
    count = 0
    for spec in DIGITAL:
        spec = dict(spec)
        versions = spec.pop("versions")
        fields = {**STD, **spec}
        p = Product(type="digital", status="published", slug=slugify(fields["name"]),
                    category_id=cats[fields.pop("category")].id, **fields, **_malay(fields["sku"]))
        db.session.add(p)
        db.session.flush()
        for label, released, notes in versions:
            db.session.add(ProductVersion(product_id=p.id, label=label, release_date=released, change_notes=notes,
                                          change_notes_ms=NOTES_MS[notes], published=True))
        count += 1
    for spec in PRINTED:
        spec = dict(spec)
        db.session.add(Product(type="printed", status="published", slug=slugify(spec["name"]),
                               category_id=cats[spec.pop("category")].id, **spec, **_malay(spec["sku"])))
        count += 1
    for spec in SERVICES:
        spec = dict(spec)
        p = Product(type="service", status="published", slug=slugify(spec["name"]),
                    category_id=cats[spec.pop("category")].id, **spec, **_malay(spec["sku"]))
        db.session.add(p)
        db.session.flush()
        if p.service_kind == "training":
            for days, seats, online in ((14, 20, p.sku == "TRN-GNSS"), (45, 2, p.sku == "TRN-GNSS")):
                start = datetime.combine((now + timedelta(days=days)).date(), datetime.min.time()) + timedelta(hours=1)
                db.session.add(TrainingSession(product_id=p.id, starts_at=start, ends_at=start + timedelta(hours=8),
                                               venue="Online" if online else "Ibu Pejabat, Kuala Lumpur",
                                               online=online, seats_total=seats, seats_taken=0))
        count += 1
    db.session.add(Product(type="printed", status="draft", sku="PRT-DRAFT", slug="peta-negeri-draf",
                           name="State map (draft, not yet for sale)", price_sen=1000, stock=0, **_malay("PRT-DRAFT"),
                           category_id=cats["printed-maps"].id))
    db.session.flush()
    return [f"Catalogue: {count} published products, 1 draft (restricted: IMG-PJY-2025; upcoming training sessions)."]
