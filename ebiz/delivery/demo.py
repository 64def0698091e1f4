"""Demo files: small, real, generated data written to storage for every demo digital version."""

import io
import json
import random
import zipfile

from sqlalchemy import select

from ..catalog.models import Product, ProductVersion
from ..extensions import db
from .models import ProductFile
from .service import store_file


def _control_points(rng: random.Random, n: int, lon0: float, lat0: float) -> list[dict]:
    return [{"id": f"GPS{1000 + i}", "lon": round(lon0 + rng.uniform(-0.4, 0.4), 7),
             "lat": round(lat0 + rng.uniform(-0.4, 0.4), 7), "height_m": round(rng.uniform(2, 400), 3),
             "order": rng.choice(["1st", "2nd", "3rd"])} for i in range(n)]


def _csv(points: list[dict]) -> bytes:
    lines = ["station_id,longitude,latitude,ellipsoidal_height_m,order"]
    lines += [f"{p['id']},{p['lon']},{p['lat']},{p['height_m']},{p['order']}" for p in points]
    return ("\n".join(lines) + "\n").encode()


def _geojson_points(points: list[dict]) -> bytes:
    return json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [p["lon"], p["lat"]]},
         "properties": {"station_id": p["id"], "height_m": p["height_m"], "order": p["order"]}} for p in points]},
        indent=1).encode()


def _parcels(rng: random.Random, n: int, lon0: float, lat0: float) -> bytes:
    features = []
    for i in range(n):
        x, y = lon0 + rng.uniform(-0.05, 0.05), lat0 + rng.uniform(-0.05, 0.05)
        w, h = rng.uniform(0.0003, 0.001), rng.uniform(0.0003, 0.001)
        ring = [[x, y], [x + w, y], [x + w, y + h], [x, y + h], [x, y]]
        features.append({"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [
            [[round(a, 7), round(b, 7)] for a, b in ring]]},
            "properties": {"lot": f"PT {10000 + i}", "mukim": rng.choice(["Damansara", "Sungai Buloh", "Petaling"])}})
    return json.dumps({"type": "FeatureCollection", "features": features}).encode()


def _grid(rng: random.Random, n: int = 60) -> bytes:
    rows = [" ".join(f"{50 + 10 * ((r * c) % 17) + rng.randint(0, 9)}" for c in range(n)) for r in range(n)]
    header = f"ncols {n}\nnrows {n}\nxllcorner 450000\nyllcorner 380000\ncellsize 25\nNODATA_value -9999\n"
    return (header + "\n".join(rows) + "\n").encode()


def _zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _files_for(product: Product, version: ProductVersion, rng: random.Random) -> list[tuple[str, bytes]]:
    readme = (f"{product.name}\nVersion {version.label} ({version.release_date.isoformat()})\n"
              f"CRS: {product.crs}\n{version.change_notes}\n").encode()
    if product.sku.startswith("SCP-"):
        pts = _control_points(rng, 250, 101.5 if "SGR" in product.sku else 116.1, 3.1 if "SGR" in product.sku else 5.9)
        return [(f"{product.sku.lower()}-{version.label}.csv", _csv(pts)),
                (f"{product.sku.lower()}-{version.label}.geojson", _geojson_points(pts))]
    if product.sku.startswith("CAD-"):
        lon, lat = (101.6, 3.1) if "SGR" in product.sku else (103.75, 1.5)
        return [(f"{product.sku.lower()}-{version.label}.zip",
                 _zip({"parcels.geojson": _parcels(rng, 400, lon, lat), "README.txt": readme}))]
    if product.sku.startswith("BND-"):
        return [(f"{product.sku.lower()}-{version.label}.geojson", _parcels(rng, 12, 101.0, 4.6))]
    return [(f"{product.sku.lower()}-{version.label}.zip", _zip({"grid.asc": _grid(rng), "README.txt": readme}))]


def seed() -> list[str]:
    """Store generated files for demo digital versions that have none yet."""
    rng = random.Random(2026)  # noqa: S311 (demo data, not secrets)
    stored = 0
    versions = db.session.execute(
        select(Product, ProductVersion).join(ProductVersion, ProductVersion.product_id == Product.id)
        .where(Product.type == "digital").order_by(Product.id, ProductVersion.id)).all()
    for product, version in versions:
        if db.session.scalar(select(ProductFile.id).where(ProductFile.version_id == version.id).limit(1)):
            continue
        for name, data in _files_for(product, version, rng):
            store_file(product.id, io.BytesIO(data), name, actor=None, version_id=version.id)
            stored += 1
    db.session.flush()
    return [f"Files: {stored} demo files written to storage."]
