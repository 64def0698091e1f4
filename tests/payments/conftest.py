import pytest

from ebiz.payments.sandbox import store


@pytest.fixture(autouse=True)
def sandbox_db(app, tmp_path):
    """The in-process sandbox gateway keeps its books in a fresh file for each test."""
    old = dict(app.config)
    app.config.update(SANDBOX_DATABASE_URL=f"sqlite:///{tmp_path / 'sandbox.db'}", SANDBOX_GATEWAY_URL="",
                      SANDBOX_CALLBACK_DELAY_SECONDS=0, PAYMENT_GATEWAY="sandbox")
    yield
    store.dispose_all()
    for k in ("SANDBOX_DATABASE_URL", "SANDBOX_GATEWAY_URL", "SANDBOX_CALLBACK_DELAY_SECONDS", "PAYMENT_GATEWAY"):
        app.config[k] = old[k]
