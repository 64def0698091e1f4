"""The help centre: articles in two languages, sanitised Markdown, search, "did this help?".

Invariants:
- Article bodies are Markdown written by staff; they are rendered to HTML and then cleaned by
  nh3 (a fixed allow-list of tags, attributes and URL schemes), so no script, style, event
  handler or javascript: link ever reaches a page, whoever wrote the article.
- A vote counts once per article and voter (an account, or a random id kept in the browser's
  session): the unique constraint holds it; the counters move in the same transaction.
"""

from __future__ import annotations

import re

import markdown
import nh3
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from ..audit.service import record
from ..clock import utcnow
from ..errors import NotFound, ValidationError
from ..extensions import db
from .articles import ARTICLES
from .models import CATEGORIES, HelpArticle, HelpVote

TAGS = {"p", "a", "ul", "ol", "li", "strong", "em", "code", "pre", "h2", "h3", "h4", "blockquote", "br", "hr",
        "table", "thead", "tbody", "tr", "th", "td"}
SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


def render(text: str) -> Markup:
    html = markdown.markdown(text or "", extensions=["tables"])
    clean = nh3.clean(html, tags=TAGS, attributes={"a": {"href", "title"}},
                      url_schemes={"http", "https", "mailto"}, link_rel="noopener noreferrer")
    return Markup(clean)  # noqa: S704  (nh3 has just cleaned it)


def title(article: HelpArticle, lang: str) -> str:
    return article.title_en if lang == "en" else article.title_ms


def body(article: HelpArticle, lang: str) -> str:
    return article.body_en if lang == "en" else article.body_ms


def published() -> list[HelpArticle]:
    return db.session.scalars(select(HelpArticle).where(HelpArticle.published.is_(True))
                              .order_by(HelpArticle.topic, HelpArticle.position, HelpArticle.id)).all()


def all_articles() -> list[HelpArticle]:
    return db.session.scalars(select(HelpArticle).order_by(HelpArticle.topic, HelpArticle.position,
                                                           HelpArticle.id)).all()


def by_slug(slug: str, *, staff: bool = False) -> HelpArticle:
    article = db.session.scalar(select(HelpArticle).where(HelpArticle.slug == (slug or "")[:80]))
    if article is None or not (article.published or staff):
        raise NotFound()
    return article


def _words(q: str) -> list[str]:
    return [w for w in re.findall(r"\w+", (q or "").lower()[:200]) if len(w) >= 3][:8]


def search(q: str, lang: str, limit: int = 20) -> list[HelpArticle]:
    """Published articles matching the words of `q`, best first (title matches weigh more).
    A handful of short articles: scored in Python, over both languages' text."""
    words = _words(q)
    if not words:
        return []
    scored = []
    for a in published():
        own_title, own_body = title(a, lang).lower(), body(a, lang).lower()
        other = (a.title_ms + " " + a.body_ms + " " + a.title_en + " " + a.body_en).lower()
        score = sum(3 * (w in own_title) + (w in own_body) + 0.5 * (w in other) for w in words)
        if score:
            scored.append((-score, a.position, a.id, a))
    return [a for *_k, a in sorted(scored, key=lambda t: t[:3])][:limit]


def vote(article: HelpArticle, *, helpful: bool, voter: str, user_id: int | None = None,
         from_ticket_form: bool = False) -> bool:
    """Count one answer; False when this voter already answered for this article."""
    try:
        with db.session.begin_nested():
            db.session.add(HelpVote(article_id=article.id, voter=voter[:40], user_id=user_id, helpful=helpful,
                                    from_ticket_form=from_ticket_form, created_at=utcnow()))
    except IntegrityError:
        return False
    column = HelpArticle.helpful_yes if helpful else HelpArticle.helpful_no
    db.session.execute(update(HelpArticle).where(HelpArticle.id == article.id).values({column: column + 1})
                       .execution_options(synchronize_session=False))
    db.session.expire(article)
    return True


def save(staff, article: HelpArticle | None, *, slug: str, topic: str, title_ms: str, title_en: str,
         body_ms: str, body_en: str, published: bool, position: int = 0, ip: str | None = None) -> HelpArticle:
    if not staff.is_staff:
        raise NotFound()
    slug = (slug or "").strip().lower()
    if not SLUG_RE.match(slug) or len(slug) > 80:
        raise ValidationError(_l("Use lower-case letters, digits and dashes."), field="slug")
    if topic not in CATEGORIES:
        raise ValidationError(_l("Not a valid choice."), field="topic")
    clash = db.session.scalar(select(HelpArticle.id).where(HelpArticle.slug == slug))
    if clash is not None and (article is None or clash != article.id):
        raise ValidationError(_l("Another article has this address."), field="slug")
    fields = {"title_ms": title_ms, "title_en": title_en, "body_ms": body_ms, "body_en": body_en}
    for name, value in fields.items():
        if not (value or "").strip():
            raise ValidationError(_l("This field is required."), field=name)
    created = article is None
    article = article or HelpArticle()
    article.slug, article.topic, article.published, article.position = slug, topic, bool(published), position
    for name, value in fields.items():
        setattr(article, name, value.strip())
    article.updated_at = utcnow()
    article.updated_by_id = staff.id
    db.session.add(article)
    db.session.flush()
    record("support.help_article.created" if created else "support.help_article.edited", actor=staff,
           target=article, ip=ip, slug=slug, published=bool(published))
    return article


def seed_articles() -> int:
    """Add the built-in articles that are missing (by slug); staff edits are never overwritten."""
    have = set(db.session.scalars(select(HelpArticle.slug)))
    n = 0
    for pos, (slug, topic, t_ms, t_en, b_ms, b_en) in enumerate(ARTICLES):
        if slug not in have:
            db.session.add(HelpArticle(slug=slug, topic=topic, position=pos, title_ms=t_ms, title_en=t_en,
                                       body_ms=b_ms, body_en=b_en, published=True, updated_at=utcnow()))
            n += 1
    db.session.flush()
    return n
