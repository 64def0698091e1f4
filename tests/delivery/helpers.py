"""Setting up a bought digital product with a stored file, for delivery tests."""

import hashlib
import io
import os

from ebiz.accounts.models import Role, Tier
from ebiz.delivery import service
from ebiz.extensions import db
from tests.factories import make_grant, make_product, make_user


def bought_file(*, size: int = 200_000, user=None, **product_fields):
    """(user, product, grant, entitlement, file, data): a Primary customer entitled to one stored file."""
    user = user or make_user(tier=Tier.PRIMARY)
    admin = make_user(role=Role.ADMIN)
    product = make_product(**product_fields)
    version = product.versions[0]
    data = os.urandom(size)
    pf = service.store_file(product.id, io.BytesIO(data), "parcels.gpkg", actor=admin, version_id=version.id)
    grant = make_grant(user, product, version=version, commit=False)
    ent = service.grant_entitlement(grant)
    db.session.commit()
    assert pf.sha256 == hashlib.sha256(data).hexdigest()
    return user, product, grant, ent, pf, data
