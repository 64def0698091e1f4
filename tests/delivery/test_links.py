"""Signed download links on the local backend: allowance, Range/resume, refusals, records, staff restore."""

import hashlib
import io
import threading
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from ebiz.accounts.models import Role, Tier
from ebiz.audit.models import AuditEvent
from ebiz.catalog.models import ProductVersion
from ebiz.clock import utcnow
from ebiz.delivery import service
from ebiz.delivery.models import DownloadEvent, DownloadLink, Entitlement
from ebiz.errors import ValidationError
from ebiz.extensions import db
from ebiz.support import service as support
from tests.delivery.helpers import bought_file
from tests.factories import csrf_from, login_session, make_grant, make_product, make_user, sign_in


def _link(client, ent, pf) -> str:
    r = client.get(f"/downloads/get/{ent.ref}/{pf.ref}")
    assert r.status_code == 302, r.data[:1000]
    return r.headers["Location"]


def _used(ent_id) -> int:
    db.session.rollback()
    return db.session.get(Entitlement, ent_id).downloads_used


def test_grant_entitlement_from_the_product_and_idempotent(app):
    user, product, grant, ent, pf, _ = bought_file(download_limit=3, download_window_days=7)
    assert ent.downloads_allowed == 3 and ent.downloads_used == 0
    assert abs((ent.expires_at - grant.valid_from) - timedelta(days=7)) < timedelta(seconds=1)
    assert service.grant_entitlement(grant).id == ent.id
    assert db.session.scalar(select(func.count()).select_from(Entitlement)) == 1


def test_download_whole_file_counts_once_and_is_recorded(client):
    user, product, grant, ent, pf, data = bought_file()
    login_session(client, user)
    url = _link(client, ent, pf)
    r = client.get(url, environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert r.status_code == 200
    assert hashlib.sha256(r.data).hexdigest() == pf.sha256
    assert r.headers["Content-Disposition"] == "attachment; filename=parcels.gpkg"
    assert r.headers["Accept-Ranges"] == "bytes"
    r.close()
    assert _used(ent.id) == 1
    ev = db.session.scalar(select(DownloadEvent))
    assert ev.user_id == user.id and ev.file_id == pf.id and ev.ip == "203.0.113.9" and ev.counted
    assert db.session.scalar(select(func.count()).select_from(DownloadLink)) == 1


def test_range_and_resume_do_not_count_again(client):
    user, product, grant, ent, pf, data = bought_file(size=300_000)
    login_session(client, user)
    url = _link(client, ent, pf)
    first = client.get(url, headers={"Range": "bytes=0-99999"})
    assert first.status_code == 206 and first.data == data[:100_000]
    assert first.headers["Content-Range"] == f"bytes 0-99999/{len(data)}"
    rest = client.get(url, headers={"Range": "bytes=100000-"})
    assert rest.status_code == 206
    assert hashlib.sha256(first.data + rest.data).hexdigest() == pf.sha256
    first.close()
    rest.close()
    assert _used(ent.id) == 1
    events = list(db.session.scalars(select(DownloadEvent).order_by(DownloadEvent.id)))
    assert [e.counted for e in events] == [True, False] and events[1].range_header == "bytes=100000-"


def test_anonymous_holder_of_the_link_may_download(client, app):
    # A download manager (no cookies) resuming the customer's own link.
    user, product, grant, ent, pf, data = bought_file()
    login_session(client, user)
    url = _link(client, ent, pf)
    anon = app.test_client()
    r = anon.get(url)
    assert r.status_code == 200 and hashlib.sha256(r.data).hexdigest() == pf.sha256
    r.close()


def test_tampered_link(client):
    user, product, grant, ent, pf, data = bought_file()
    login_session(client, user)
    url = _link(client, ent, pf)
    bad = url[:-3] + ("AAA" if not url.endswith("AAA") else "BBB")
    r = client.get(bad)
    html = r.get_data(as_text=True)
    assert r.status_code == 403 and 'data-kind="tampered"' in html
    assert 'data-testid="fresh-link"' in html  # still entitled: a new link is offered
    assert _used(ent.id) == 0
    assert db.session.scalar(select(func.count()).select_from(DownloadEvent)) == 0


def test_expired_link_offers_a_fresh_one(client, app, monkeypatch):
    user, product, grant, ent, pf, data = bought_file()
    login_session(client, user)
    url = _link(client, ent, pf)
    monkeypatch.setitem(app.config, "DOWNLOAD_LINK_MAX_AGE", -1)
    r = client.get(url)
    html = r.get_data(as_text=True)
    assert r.status_code == 410 and 'data-kind="expired"' in html and 'data-testid="fresh-link"' in html
    assert _used(ent.id) == 0
    monkeypatch.setitem(app.config, "DOWNLOAD_LINK_MAX_AGE", 600)
    fresh = client.get(f"/downloads/get/{ent.ref}/{pf.ref}")
    with client.get(fresh.headers["Location"]) as r:
        assert r.status_code == 200


def test_another_customers_link(client, app):
    user, product, grant, ent, pf, data = bought_file()
    login_session(client, user)
    url = _link(client, ent, pf)
    other = app.test_client()
    login_session(other, make_user(tier=Tier.PRIMARY))
    r = other.get(url)
    html = r.get_data(as_text=True)
    assert r.status_code == 403 and 'data-kind="foreign"' in html and "fresh-link" not in html
    assert _used(ent.id) == 0
    # Nor can they issue a link on the customer's entitlement.
    assert other.get(f"/downloads/get/{ent.ref}/{pf.ref}").status_code == 404
    assert db.session.scalar(select(func.count()).select_from(DownloadLink)) == 1


def test_exhausted_allowance(client):
    user, product, grant, ent, pf, data = bought_file(download_limit=1)
    login_session(client, user)
    spare = _link(client, ent, pf)  # issued, not yet used
    client.get(_link(client, ent, pf)).close()
    assert _used(ent.id) == 1
    r = client.get(f"/downloads/get/{ent.ref}/{pf.ref}")
    assert r.status_code == 410 and 'data-kind="exhausted"' in r.get_data(as_text=True)
    r = client.get(spare)
    assert r.status_code == 410 and 'data-kind="exhausted"' in r.get_data(as_text=True)
    assert _used(ent.id) == 1
    assert db.session.scalar(select(func.count()).select_from(DownloadEvent)) == 1


def test_revoked_licence(client):
    user, product, grant, ent, pf, data = bought_file()
    login_session(client, user)
    url = _link(client, ent, pf)
    grant.status = "revoked"
    grant.revoked_at = utcnow()
    db.session.commit()
    r = client.get(url)
    assert r.status_code == 403 and 'data-kind="revoked"' in r.get_data(as_text=True)
    assert client.get(f"/downloads/get/{ent.ref}/{pf.ref}").status_code == 403
    assert _used(ent.id) == 0


def test_download_window_ended(client):
    user, product, grant, ent, pf, data = bought_file()
    login_session(client, user)
    url = _link(client, ent, pf)
    ent.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    r = client.get(url)
    assert r.status_code == 410 and 'data-kind="window"' in r.get_data(as_text=True)
    assert _used(ent.id) == 0


def test_link_needs_sign_in_to_issue(client):
    user, product, grant, ent, pf, data = bought_file()
    r = client.get(f"/downloads/get/{ent.ref}/{pf.ref}")
    assert r.status_code in (302, 401)
    assert db.session.scalar(select(func.count()).select_from(DownloadLink)) == 0


def test_last_download_raced(app):
    """Two links, one download left, both used at once: exactly one is served."""
    user, product, grant, ent, pf, data = bought_file(download_limit=1)
    tokens = [service.issue_link(user, ent.ref, pf.ref) for _ in range(4)]
    db.session.commit()
    uid = user.id  # read here: the threads must not touch this session's objects
    outcomes = []
    barrier = threading.Barrier(len(tokens))

    def worker(token):
        with app.app_context():
            try:
                barrier.wait(timeout=10)
                service.open_link(token, user_id=uid, ip="127.0.0.1", range_header=None)
                db.session.commit()
                outcomes.append("served")
            except service.LinkRefused as exc:
                db.session.rollback()
                outcomes.append(exc.kind)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker, args=(t,)) for t in tokens]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(outcomes) == ["exhausted"] * 3 + ["served"]
    assert _used(ent.id) == 1


def test_my_downloads_page_and_newer_version(client):
    user, product, grant, ent, pf, data = bought_file()
    db.session.add(ProductVersion(product_id=product.id, label="2026.2", release_date=date(2026, 7, 1),
                                  change_notes="Parcels re-surveyed in Klang", published=True))
    db.session.commit()
    login_session(client, user)
    html = client.get("/downloads/").get_data(as_text=True)
    assert pf.sha256 in html and "5 / 5" in html and grant.number in html
    assert 'data-testid="newer-version"' in html and "re-surveyed in Klang" in html


def test_staff_restore_allowance_audited(client):
    user, product, grant, ent, pf, data = bought_file(download_limit=1)
    login_session(client, user)
    client.get(_link(client, ent, pf)).close()
    assert client.get(f"/downloads/staff/{ent.ref}").status_code == 403  # customers cannot

    agent = make_user(role=Role.SUPPORT)
    staff = client.application.test_client()
    login_session(staff, agent)
    page = staff.get(f"/downloads/staff/{ent.ref}")
    assert page.status_code == 200 and 'method="post"' not in page.get_data(as_text=True).split("<main")[-1]
    # Restoring is done from the customer's support ticket, assigned to the agent.
    ticket = support.open_ticket(customer=user, name="", email=None, category="downloads", subject="Broke",
                                 body="Download broke")
    support.assign(ticket, agent, agent)
    db.session.commit()
    desk = f"/support/desk/t/{ticket.reference}"
    token = csrf_from(staff.get(desk).data)
    r = staff.post(f"{desk}/allowance", data={"csrf_token": token, "entitlement_ref": ent.ref, "add_downloads": "2",
                                              "extend_days": "0", "reason": ""})
    assert r.status_code == 400  # no reason: refused
    db.session.rollback()
    assert db.session.get(Entitlement, ent.id).downloads_allowed == 1
    r = staff.post(f"{desk}/allowance", data={"csrf_token": token, "entitlement_ref": ent.ref, "add_downloads": "2",
                                              "extend_days": "10", "reason": "Download broke at 80%"})
    assert r.status_code == 302
    db.session.rollback()
    fresh = db.session.get(Entitlement, ent.id)
    assert fresh.downloads_allowed == 3 and fresh.remaining == 2
    ev = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "delivery.entitlement.adjust"))
    assert ev.actor_id == agent.id and ev.details["reason"] == f"{ticket.reference}: Download broke at 80%"
    assert client.get(f"/downloads/get/{ent.ref}/{pf.ref}").status_code == 302


def test_adjust_needs_a_reason(app):
    user, product, grant, ent, pf, data = bought_file()
    with pytest.raises(ValidationError):
        service.adjust_allowance(ent.id, actor=None, add_downloads=1, reason="")
    with pytest.raises(ValidationError):
        service.adjust_allowance(ent.id, actor=None, reason="nothing to do here")


def test_deliverable_of_an_on_demand_service(client):
    user = make_user(tier=Tier.PRIMARY)
    admin = make_user(role=Role.ADMIN)
    product = make_product(type="service", service_kind="extraction", allowed_extensions=".zip,.csv")
    grant = make_grant(user, product, order_line_id=4242)
    with pytest.raises(ValidationError):
        service.attach_deliverable(4242, grant, io.BytesIO(b"x"), "extract.exe", admin)
    db.session.rollback()
    pf = service.attach_deliverable(4242, grant, io.BytesIO(b"id,x,y\n1,101.5,3.1\n"), "extract.csv", admin)
    db.session.commit()
    ent = db.session.scalar(select(Entitlement).where(Entitlement.grant_id == grant.id))
    assert [f.id for f in service.files_for(ent)] == [pf.id]
    login_session(client, user)
    r = client.get(_link(client, ent, pf))
    assert r.status_code == 200 and r.data == b"id,x,y\n1,101.5,3.1\n"
    r.close()


def _statements(app):
    """SQL statements sent while the block runs (appended to the returned list)."""
    from sqlalchemy import event

    seen: list[str] = []

    def on_execute(conn, cursor, statement, *args):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", on_execute)
    return seen, lambda: event.remove(db.engine, "before_cursor_execute", on_execute)


def test_signed_in_link_is_one_statement_and_recorded_durably(client, is_postgres):
    """A real sign-in: the link is one INSERT (no user SELECT), committed with synchronous_commit on."""
    user, product, grant, ent, pf, data = bought_file()
    assert sign_in(client, user).status_code == 302
    url = f"/downloads/get/{ent.ref}/{pf.ref}"
    ids = (user.id, ent.id, pf.id)
    db.session.remove()  # as in production: the request starts with no transaction (autocommit on PostgreSQL)
    seen, stop = _statements(client.application)
    try:
        r = client.get(url, environ_base={"REMOTE_ADDR": "127.0.0.1"})
    finally:
        stop()
    assert r.status_code == 302 and "/downloads/d/" in r.headers["Location"]
    seen = [q for q in seen if not q.startswith("BEGIN")]  # SQLite's BEGIN IMMEDIATE
    if is_postgres:  # the INSERT goes on the pooled driver connection: SQLAlchemy sees no statement at all
        assert seen == []
        from contextlib import ExitStack

        with ExitStack() as stack:  # and that connection went back to the pool out of autocommit
            conns = [stack.enter_context(db.engine.connect()) for _ in range(db.engine.pool.checkedin())]
            assert conns and not any(c.connection.driver_connection.autocommit for c in conns)
    else:
        assert len(seen) == 1 and seen[0].lstrip().startswith("INSERT INTO download_link"), seen
    db.session.rollback()
    link = db.session.scalar(select(DownloadLink))
    assert (link.user_id, link.entitlement_id, link.file_id, link.issued_ip) == (*ids, "127.0.0.1")
    if is_postgres:
        from sqlalchemy import text

        assert db.session.execute(text("SHOW synchronous_commit")).scalar() == "on"
    client.get(r.headers["Location"]).close()
    assert _used(ent.id) == 1



def test_serving_a_link_reads_it_and_what_it_names_in_one_statement(client):
    """A download: one SELECT (the link joined to its entitlement, grant and file), then the
    first-use UPDATEs and the download record; a repeat (a resumed download) counts nothing: its
    conditional UPDATE of the link changes no row and takes no download from the allowance."""
    user, product, grant, ent, pf, data = bought_file()
    token, ent_id = service.issue_link(user, ent.ref, pf.ref), ent.id
    db.session.commit()
    db.session.remove()
    for first in (True, False):
        seen, stop = _statements(client.application)
        try:
            r = client.get(f"/downloads/d/{token}", headers={"Range": "bytes=0-9"})
        finally:
            stop()
        assert r.status_code == 206 and r.data == data[:10]
        r.close()
        verbs = [" ".join(q.split()[:3]) for q in seen if not q.startswith(("BEGIN", "SAVEPOINT", "RELEASE"))]
        expected = ["SELECT download_link.id, download_link.nonce,", "UPDATE download_link SET",
                    "UPDATE entitlement SET", "INSERT INTO download_event"] if first else \
                   ["SELECT download_link.id, download_link.nonce,", "UPDATE download_link SET",
                    "INSERT INTO download_event"]
        assert verbs == expected, seen
    assert _used(ent_id) == 1

def test_hot_path_still_checks_the_account(client):
    """Disabled account or ended sessions (session_version bumped): no link, back to sign-in."""
    user, product, grant, ent, pf, data = bought_file()
    sign_in(client, user)
    assert client.get(f"/downloads/get/{ent.ref}/{pf.ref}").status_code == 302
    user.session_version += 1  # "sign out everywhere"
    db.session.commit()
    r = client.get(f"/downloads/get/{ent.ref}/{pf.ref}")
    assert r.status_code == 302 and "/account/login" in r.headers["Location"]
    other = client.application.test_client()
    sign_in(other, user)
    user.active = False
    db.session.commit()
    r = other.get(f"/downloads/get/{ent.ref}/{pf.ref}")
    assert r.status_code == 302 and "/account/login" in r.headers["Location"]
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(DownloadLink)) == 1


def test_hot_path_refusals_and_foreign_files(client):
    """Someone else's entitlement: 404 and nothing written; an exhausted one: the refusal page."""
    user, product, grant, ent, pf, data = bought_file(download_limit=1)
    intruder = make_user(tier=Tier.PRIMARY)
    sign_in(client, intruder)
    assert client.get(f"/downloads/get/{ent.ref}/{pf.ref}").status_code == 404
    owner = client.application.test_client()
    sign_in(owner, user)
    owner.get(_link(owner, ent, pf)).close()
    r = owner.get(f"/downloads/get/{ent.ref}/{pf.ref}")
    assert r.status_code == 410 and 'data-kind="exhausted"' in r.get_data(as_text=True)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(DownloadLink)) == 1
