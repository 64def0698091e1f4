"""The help centre: articles in both languages, sanitised Markdown, search, suggestions, votes, contact."""

from sqlalchemy import func, select

from ebiz.accounts.models import Role
from ebiz.audit.models import AuditEvent
from ebiz.extensions import db
from ebiz.support import help as helpdesk
from ebiz.support.articles import ARTICLES
from ebiz.support.models import HelpArticle, HelpVote
from tests.factories import make_counter, make_user
from tests.payments.helpers import csrf, sign_in


def _seed():
    helpdesk.seed_articles()
    db.session.commit()


def test_articles_in_both_languages_cover_the_faq(app, client):
    _seed()
    assert helpdesk.seed_articles() == 0  # idempotent
    topics = {a[0] for a in ARTICLES}
    assert {"akaun-dan-tahap", "kaunter-dan-dokumen", "runner", "dompet-dan-tambah-nilai", "bayaran-belum-dibayar",
            "resit", "lesen", "muat-turun", "data-terhad-dan-remit", "akaun-lama", "chi-square-ndcdb"} <= topics
    client.set_cookie("lang", "en")
    html = client.get("/help/").get_data(as_text=True)
    assert "Why do chi-square results differ after an NDCDB update?" in html
    client.set_cookie("lang", "ms")
    html = client.get("/help/a/chi-square-ndcdb").get_data(as_text=True)
    assert "Mengapa keputusan ujian khi kuasa dua" in html and "<strong>Muat turun saya</strong>" in html


def test_search_and_suggestions(app, client):
    _seed()
    client.set_cookie("lang", "en")
    html = client.get("/help/", query_string={"q": "unpaid bank"}).get_data(as_text=True)
    assert "The bank took the money but my order still shows unpaid" in html
    r = client.get("/help/suggest", query_string={"q": "my order shows unpaid"})
    assert r.is_json and r.json["articles"][0]["title"] == "The bank took the money but my order still shows unpaid"
    assert r.json["articles"][0]["url"].startswith("/help/a/bayaran-belum-dibayar")
    assert client.get("/help/suggest", query_string={"q": "zz"}).json == {"articles": []}
    client.set_cookie("lang", "ms")
    r = client.get("/help/suggest", query_string={"q": "resit"})
    assert r.json["articles"][0]["title"] == "Resit dan invois"
    page = client.get("/support/new").get_data(as_text=True)
    assert 'data-suggest-url="/help/suggest"' in page and "/static/support.js" in page


def test_staff_markdown_is_sanitised_and_edits_are_audited(app, client):
    _seed()
    agent = make_user(role=Role.SUPPORT)
    sign_in(client, agent)
    url = "/help/staff/new"
    data = {"csrf_token": csrf(client, url), "slug": "ujian", "topic": "products", "position": "1",
            "title_ms": "Ujian", "title_en": "Test", "published": "y",
            "body_ms": "Hello <script>alert(1)</script> [x](javascript:alert(2)) <img src=x onerror=alert(3)> **ok**",
            "body_en": "English <b onclick='x()'>bold</b>"}
    r = client.post(url, data=data)
    assert r.status_code == 302
    client.set_cookie("lang", "ms")
    html = client.get("/help/a/ujian").get_data(as_text=True)
    article_html = html.split('class="help-article">')[1].split("</div>")[0]
    assert "<strong>ok</strong>" in article_html
    for bad in ("<script", "javascript:", "onerror", "<img"):
        assert bad not in article_html
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "support.help_article.created"))
    # A duplicate address is said beside its field; nothing changes.
    client.set_cookie("lang", "en")
    r = client.post(url, data={**data, "title_ms": "Lain"})
    assert r.status_code == 400 and "Another article has this address." in r.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(HelpArticle).where(HelpArticle.slug == "ujian")) == 1
    customer = app.test_client()
    sign_in(customer, make_user())
    assert customer.get("/help/staff/new").status_code == 403


def test_did_this_help_counts_once_per_voter(app, client):
    _seed()
    article = db.session.scalar(select(HelpArticle).where(HelpArticle.slug == "resit"))
    url = "/help/a/resit?from_=ticket"
    token = csrf(client, url)
    client.post("/help/a/resit/vote", data={"csrf_token": token, "helpful": "yes", "from_ticket": "1"})
    client.post("/help/a/resit/vote", data={"csrf_token": token, "helpful": "no", "from_ticket": "1"})
    other = app.test_client()
    user = make_user()
    sign_in(other, user)
    other.post("/help/a/resit/vote", data={"csrf_token": csrf(other, url), "helpful": "no"})
    db.session.refresh(article)
    assert (article.helpful_yes, article.helpful_no) == (1, 1)
    votes = db.session.scalars(select(HelpVote).order_by(HelpVote.id)).all()
    assert [(v.helpful, v.from_ticket_form, v.user_id) for v in votes] == [(True, True, None), (False, False, user.id)]


def test_contact_page_shows_hours_counters_and_channels(app, client):
    make_counter("HQ")
    client.set_cookie("lang", "en")
    html = client.get("/help/contact").get_data(as_text=True)
    assert "Monday to Friday, 8.00 to 17.00" in html and "Kaunter HQ" in html
    assert app.config["SUPPORT_ADDRESS"] in html
