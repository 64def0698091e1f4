"""link_issue: a signed-in customer asks for a download link (eBiz records it, signs it, 302)
beside the floor's /link (itsdangerous token + 302), same wrk settings, same Cookie and
User-Agent headers. The session is the one a real sign-in leaves (see common.signed_in_cookie).

The BENCH line also gives the ceiling of any endpoint that records each link durably, measured
in the same run: link_bound.py (the floor's /link plus one autocommitted INSERT) against the floor."""

from __future__ import annotations

import io
import os

from .common import BENCH_USER_AGENT, bench_line, signed_in_cookie


def entitled_customer(ctx, *, size: int = 4096, src_path: str | None = None, filename: str = "bench.zip"):
    """(session cookie value, entitlement ref, file ref, user id) of a Primary customer who bought a file."""
    from datetime import date

    from sqlalchemy import update

    from ebiz.accounts.models import Role, Tier, User
    from ebiz.catalog.models import Product, ProductVersion
    from ebiz.delivery import service
    from ebiz.delivery.models import Entitlement
    from ebiz.extensions import db
    from ebiz.licensing.models import LicenceGrant
    from ebiz.refs import new_reference

    app = ctx.ebiz_app()
    with app.app_context():
        n = os.urandom(3).hex()
        user = User(email=f"bench-{n}@example.my", full_name="Bench Customer", password_hash="!", tier=Tier.PRIMARY,
                    role=Role.CUSTOMER, mykad=None)
        product = Product(sku=f"BENCH-DL-{n}", slug=f"bench-dl-{n}", type="digital", name=f"Bench file {n}",
                          price_sen=100, status="published", licence_key="standard-digital-data",
                          allowed_extensions=".zip,.bin")
        db.session.add_all([user, product])
        db.session.flush()
        version = ProductVersion(product_id=product.id, label="1", release_date=date(2026, 1, 1))
        db.session.add(version)
        db.session.flush()
        if src_path:
            with open(src_path, "rb") as f:
                pf = service.store_file(product.id, f, filename, actor=None, version_id=version.id)
        else:
            pf = service.store_file(product.id, io.BytesIO(os.urandom(size)), filename, actor=None,
                                    version_id=version.id)
        grant = LicenceGrant(number=new_reference("LIC"), user_id=user.id, product_id=product.id,
                             version_id=version.id, licence_key="standard-digital-data", licence_version="1",
                             text_sha256="0" * 64, permitted_use="bench")
        db.session.add(grant)
        db.session.flush()
        ent = service.grant_entitlement(grant)
        # A benchmark issues and serves far more than any real allowance.
        db.session.execute(update(Entitlement).where(Entitlement.id == ent.id)
                           .values(downloads_allowed=2_000_000_000))
        db.session.commit()
        refs = (ent.ref, pf.ref, user.id)
        db.session.remove()
        out = (signed_in_cookie(app, refs[2]), *refs)
        db.engine.dispose()
    return out


def run(ctx) -> list[str]:
    import urllib.request

    cookie, ent_ref, file_ref, _ = entitled_customer(ctx)
    url = f"{ctx.ebiz_url}/downloads/get/{ent_ref}/{file_ref}"
    req = urllib.request.Request(url, headers={"Cookie": f"session={cookie}",  # noqa: S310
                                               "User-Agent": BENCH_USER_AGENT})

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *a, **k):
            return None

    try:
        urllib.request.build_opener(NoRedirect).open(req, timeout=10)
        raise RuntimeError("expected a 302 from the link endpoint")
    except urllib.error.HTTPError as exc:
        if exc.code != 302 or "/downloads/d/" not in exc.headers.get("Location", ""):
            raise RuntimeError(f"link endpoint answered {exc.code}") from None
    lua = ctx.tmp / "cookie.lua"
    lua.write_text(f'wrk.headers["Cookie"] = "session={cookie}"\nwrk.headers["User-Agent"] = "{BENCH_USER_AGENT}"\n')
    print("link_issue: eBiz /downloads/get (signed in, recorded, signed, 302) vs floor /link", flush=True)
    c = ctx.compare(url, ctx.floor_url + "/link?id=1", script=str(lua))
    ceiling = _ceiling(ctx)
    return [bench_line("link_issue", c.ratio, ">=0.5", f"ebiz={c.a_rps:.1f}/s floor={c.b_rps:.1f}/s "
                                                       f"ceiling={ceiling:.2f} (floor /link + one durable INSERT)")]


def _ceiling(ctx) -> float:
    """What any endpoint that records each link durably can reach: link_bound.py beside the floor."""
    from . import link_bound

    link_bound.create_table(ctx.floor_db_url)
    server = ctx.start_ceiling("link_bound", "/link?id=1")
    print("link_issue: ceiling: floor /link plus one autocommitted INSERT vs floor /link", flush=True)
    return ctx.compare(server.url + "/link?id=1", ctx.floor_url + "/link?id=1").ratio
