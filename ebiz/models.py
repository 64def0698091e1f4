"""Imports every domain's models so that Alembic and create_all see all tables."""

from . import sequences  # noqa: F401,E402
from .accounts import models as accounts_models  # noqa: F401
from .applications import models as applications_models  # noqa: F401
from .audit import models as audit_models  # noqa: F401
from .catalog import models as catalog_models  # noqa: F401
from .companies import models as companies_models  # noqa: F401
from .counter import models as counter_models  # noqa: F401
from .counters import models as counters_models  # noqa: F401
from .delivery import models as delivery_models  # noqa: F401
from .licensing import models as licensing_models  # noqa: F401
from .migration import models as migration_models  # noqa: F401
from .notifications import models as notifications_models  # noqa: F401
from .orders import models as orders_models  # noqa: F401
from .payments import models as payments_models  # noqa: F401
from .support import models as support_models  # noqa: F401
from .wallet import models as wallet_models  # noqa: F401
