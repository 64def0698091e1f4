"""The help centre's pages: /help (articles, search, contact, suggestions for the ticket form)."""

import secrets

from flask import Blueprint, flash, jsonify, redirect, render_template, request, session, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from ..accounts.decorators import roles_required
from ..accounts.models import Role
from ..counters.service import open_counters
from ..errors import EbizError
from ..extensions import db
from ..forms import show_error
from . import help as helpdesk
from . import service
from .forms import ArticleForm, VoteForm

bp = Blueprint("help", __name__, url_prefix="/help")
VOTER = "help_voter"


def _lang() -> str:
    return str(get_locale())


@bp.app_template_global("help_title")
def help_title(article) -> str:
    return helpdesk.title(article, _lang())


@bp.get("/")
def index():
    q = request.args.get("q", "")[:200]
    results = helpdesk.search(q, _lang()) if q.strip() else None
    by_topic: dict[str, list] = {}
    for a in helpdesk.published():
        by_topic.setdefault(a.topic, []).append(a)
    return render_template("support/help_index.html", q=q, results=results, by_topic=by_topic)


@bp.get("/contact")
def contact():
    return render_template("support/contact.html", counters=open_counters())


@bp.get("/suggest")
def suggest():
    """Articles matching what is typed in the ticket form's subject (JSON, for support.js)."""
    found = helpdesk.search(request.args.get("q", "")[:200], _lang(), limit=5)
    return jsonify({"articles": [{"title": helpdesk.title(a, _lang()),
                                  "url": url_for("help.article", slug=a.slug, from_="ticket")} for a in found]})


@bp.get("/a/<slug>")
def article(slug: str):
    a = helpdesk.by_slug(slug)
    return render_template("support/help_article.html", article=a, html=helpdesk.render(helpdesk.body(a, _lang())),
                           form=VoteForm(), from_ticket=request.args.get("from_") == "ticket",
                           voted=session.get(f"voted:{a.id}"))


@bp.post("/a/<slug>/vote")
def vote(slug: str):
    a = helpdesk.by_slug(slug)
    form = VoteForm()
    if form.validate_on_submit():
        voter = f"u:{current_user.id}" if current_user.is_authenticated else \
            f"s:{session.setdefault(VOTER, secrets.token_hex(12))}"
        helpdesk.vote(a, helpful=form.helpful.data == "yes", voter=voter,
                      user_id=current_user.id if current_user.is_authenticated else None,
                      from_ticket_form=form.from_ticket.data == "1")
        db.session.commit()
        session[f"voted:{a.id}"] = form.helpful.data
        flash(_("Thank you for telling us."), "success")
    return redirect(url_for("help.article", slug=a.slug))


# -- staff ---------------------------------------------------------------------------------------

@bp.get("/staff")
@roles_required(Role.SUPPORT, Role.ADMIN)
def staff_list():
    return render_template("support/help_staff.html", articles=helpdesk.all_articles())


@bp.route("/staff/new", methods=["GET", "POST"])
@bp.route("/staff/<slug>/edit", methods=["GET", "POST"])
@roles_required(Role.SUPPORT, Role.ADMIN)
def edit(slug: str | None = None):
    article = helpdesk.by_slug(slug, staff=True) if slug else None
    form = ArticleForm(obj=article)
    if form.validate_on_submit():
        try:
            saved = helpdesk.save(current_user._get_current_object(), article, slug=form.slug.data,
                                  topic=form.topic.data, title_ms=form.title_ms.data, title_en=form.title_en.data,
                                  body_ms=form.body_ms.data, body_en=form.body_en.data,
                                  published=form.published.data, position=form.position.data or 0,
                                  ip=request.remote_addr)
        except EbizError as exc:
            db.session.rollback()
            show_error(form, exc)
        else:
            db.session.commit()
            flash(_("The article was saved."), "success")
            return redirect(url_for("help.article", slug=saved.slug) if saved.published
                            else url_for("help.staff_list"))
    preview = helpdesk.render(form.body_ms.data or "") if form.body_ms.data else None
    return render_template("support/help_edit.html", form=form, article=article, preview=preview,
                           topics=service.CATEGORY_LABELS), 400 if form.errors else 200
