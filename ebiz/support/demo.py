"""Demo data for the support desk: the help articles, a canned reply, and a ticket in every state."""

from datetime import timedelta

from sqlalchemy import select

from ..accounts.models import Role, User
from ..clock import utcnow
from ..extensions import db
from . import help as helpdesk
from . import service
from .models import CannedReply


def seed() -> list[str]:
    helpdesk.seed_articles()
    agent = db.session.scalar(select(User).where(User.role == Role.SUPPORT).order_by(User.id))
    aminah = db.session.scalar(select(User).where(User.email == "aminah@example.my"))
    tan = db.session.scalar(select(User).where(User.email == "tan@example.my"))
    if agent is None or aminah is None or tan is None:
        return []
    db.session.add(CannedReply(
        title="Semak semula bayaran / Payment requeried",
        body_ms="Kami telah menyemak semula pembayaran anda dengan bank. Pesanan anda kini telah dibayar.",
        body_en="We asked the bank about your payment again. Your order is now paid."))

    def ticket(customer, category, subject, body, locale="ms"):
        return service.open_ticket(customer=customer, name="", email=None, category=category, subject=subject,
                                   body=body, locale=locale)

    ticket(aminah, "downloads", "Pautan muat turun tamat tempoh", "Pautan muat turun saya tamat semasa saya "
           "di luar negara. Boleh dilanjutkan?")                                                       # new
    opened = ticket(tan, "products", "Which NDCDB version is in my order?",
                    "My chi-square test gives a different result from last month.", locale="en")
    service.assign(opened, agent, agent)                                                                # open
    waiting = ticket(aminah, "payment", "Bayaran ditolak tetapi pesanan belum dibayar",
                     "Bank saya sudah tolak RM 50 tetapi pesanan masih menunggu bayaran.")
    service.agent_reply(waiting, agent, body="Boleh berikan rujukan pembayaran daripada halaman Pembayaran?",
                        next_status="waiting")                                                         # waiting
    resolved = ticket(tan, "account", "Cannot sign in", "I forgot my password.", locale="en")
    service.agent_reply(resolved, agent, body="Use 'Forgot password' on the sign-in page; the link lasts an hour.",
                        next_status="resolved")                                                        # resolved
    service.rate(resolved, tan, rating=5, comment="Quick, thank you.")
    closed = ticket(aminah, "counters", "Waktu kaunter Selangor", "Adakah kaunter Selangor dibuka pada hari Sabtu?")
    service.agent_reply(closed, agent, body="Tidak, kaunter dibuka Isnin hingga Jumaat, 8.00 hingga 17.00.",
                        next_status="resolved")
    closed.resolved_at = utcnow() - timedelta(days=15)
    service.transition(closed, "close")                                                                 # closed
    db.session.flush()
    return ["Support desk: help articles and five demo tickets (new, open, waiting, resolved, closed) at "
            "/support/desk."]
