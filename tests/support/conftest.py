import pytest


@pytest.fixture(autouse=True)
def _english(request, monkeypatch):
    """Tests that use the app read its messages in English (the source language); Malay stays the default."""
    if "app" in request.fixturenames:
        monkeypatch.setitem(request.getfixturevalue("app").config, "BABEL_DEFAULT_LOCALE", "en")
