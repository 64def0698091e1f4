"""No browser or shared cache keeps a page with someone's data (issue 11 §4): every response to a
signed-in user, and every anonymous one whose view chose no caching, says `no-store, private`."""

import pytest

from tests.delivery.helpers import bought_file
from tests.factories import login_session, make_grant, make_product, make_user, sign_in


def _no_store(r) -> bool:
    directives = {d.strip() for d in r.headers.get("Cache-Control", "").split(",")}
    return {"no-store", "private"} <= directives and "public" not in directives and "max-age" not in str(directives)


def test_signed_in_pages_with_personal_or_financial_data_are_not_stored(app, client):
    user = make_user(tier="primary")
    grant = make_grant(user, make_product())
    sign_in(client, user)
    for path in ("/account/", "/account/edit", "/wallet/statement", "/wallet/statement?format=csv", "/licences/",
                 f"/licences/{grant.number}", f"/licences/{grant.number}.pdf", "/downloads/"):
        r = client.get(path)
        assert r.status_code == 200, path
        assert _no_store(r), (path, r.headers.get("Cache-Control"))


def test_a_downloaded_file_is_not_stored_either(client):
    user, product, grant, ent, pf, data = bought_file()
    login_session(client, user)
    r = client.get(f"/downloads/get/{ent.ref}/{pf.ref}")
    url = r.headers["Location"]
    r = client.get(url)
    assert r.status_code == 200 and _no_store(r), r.headers.get("Cache-Control")
    r.close()


@pytest.mark.parametrize("path", ["/account/login", "/account/register", "/account/forgot"])
def test_anonymous_pages_with_a_form_are_not_stored(client, path):
    assert _no_store(client.get(path))


def test_static_files_keep_their_caching(client):
    r = client.get("/static/ebiz.css")
    assert r.status_code == 200 and "no-store" not in r.headers.get("Cache-Control", "")
    r.close()
