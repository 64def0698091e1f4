import pytest

from .stripe_servers import SECRET_KEY, WEBHOOK_SECRET, CheckoutRecorder, start_localstripe


@pytest.fixture(autouse=True)
def _sandbox(sandbox_db):
    """Every payments test has the in-process sandbox gateway on a fresh database (tests/conftest.py)."""


@pytest.fixture(scope="module")
def localstripe_url():
    proc, url = start_localstripe()
    yield url
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="module")
def recorder(localstripe_url):
    rec = CheckoutRecorder(localstripe_url)
    yield rec
    rec.stop()


@pytest.fixture
def stripe_gw(app, sandbox_db, recorder):
    app.config.update(PAYMENT_GATEWAY="stripe", STRIPE_SECRET_KEY=SECRET_KEY, STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
                      STRIPE_API_BASE=recorder.url, STRIPE_WEBHOOK_TOLERANCE=300)
    return recorder
