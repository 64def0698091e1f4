"""Users: customers of three kinds and staff of three roles.

Invariants:
- `email` is stored lower-cased and is unique; so are `mykad`, `passport_no`
  and `company_reg_no` (identity numbers stored normalised, digits only for
  MyKad and the 12-digit company number).
- A customer is Regular until a counter verifies their identity (Primary).
- `session_version` is part of the login session id: bumping it ends every
  other session of the user (sign-out everywhere, password change, disable).
- Staff (every role but customer) must have TOTP enrolled to use staff pages.
- `totp_last_step` only moves forward: a TOTP code is accepted once.
- `email_change_count` only grows (one per confirmed email change).
- Identity numbers are not edited by the customer (a counter corrects them); name, phone
  (E.164) and address are (service.update_profile).
"""

from enum import StrEnum

from flask_login import UserMixin
from sqlalchemy import CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy import false as sa_false
from sqlalchemy.orm import Mapped, mapped_column

from ..clock import utcnow
from ..extensions import db


class Kind(StrEnum):
    INDIVIDUAL = "individual"  # Malaysian citizen, MyKad
    FOREIGNER = "foreigner"  # non-citizen, passport
    COMPANY = "company"  # company registration number + representative's MyKad


class Tier(StrEnum):
    REGULAR = "regular"
    PRIMARY = "primary"


class Role(StrEnum):
    CUSTOMER = "customer"
    COUNTER = "counter_staff"
    SUPPORT = "support_agent"
    ADMIN = "admin"


STAFF_ROLES = frozenset({Role.COUNTER, Role.SUPPORT, Role.ADMIN})


def _in(col: str, enum) -> str:
    return f"{col} IN ({', '.join(repr(str(v)) for v in enum)})"


# The expression of the GIN index behind finding a customer by name (accounts/search.py); a search
# must use exactly this text to use the index.
NAME_SEARCH_SQL = "to_tsvector('simple', full_name || ' ' || coalesce(company_name, ''))"


class User(UserMixin, db.Model):
    __tablename__ = "user_account"
    __table_args__ = (
        CheckConstraint(_in("kind", Kind), name="kind"),
        CheckConstraint(_in("tier", Tier), name="tier"),
        CheckConstraint(_in("role", Role), name="role"),
        # PostgreSQL only (SQLite matches word starts with LIKE): names by the start of their words.
        Index("ix_user_account_name_search", text(NAME_SEARCH_SQL), postgresql_using="gin").ddl_if(
            dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    full_name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(30))  # E.164 (see identity.normalise_phone)
    address: Mapped[str | None] = mapped_column(String(500))
    kind: Mapped[str] = mapped_column(String(20), default=Kind.INDIVIDUAL)

    mykad: Mapped[str | None] = mapped_column(String(12), unique=True)
    passport_no: Mapped[str | None] = mapped_column(String(20), unique=True)
    nationality: Mapped[str | None] = mapped_column(String(2))
    company_reg_no: Mapped[str | None] = mapped_column(String(20), unique=True)
    company_name: Mapped[str | None] = mapped_column(String(200))
    rep_mykad: Mapped[str | None] = mapped_column(String(12), index=True)

    tier: Mapped[str] = mapped_column(String(10), default=Tier.REGULAR)
    role: Mapped[str] = mapped_column(String(20), default=Role.CUSTOMER)
    counter_id: Mapped[int | None] = mapped_column(ForeignKey("counter.id"))
    primary_verified_at: Mapped[object | None] = mapped_column(db.DateTime)

    active: Mapped[bool] = mapped_column(default=True)
    session_version: Mapped[int] = mapped_column(default=1)
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_last_step: Mapped[int | None] = mapped_column()
    # A secret being enrolled: shown once, active only after a code from it is confirmed.
    totp_pending_secret: Mapped[str | None] = mapped_column(String(64))
    mfa_enabled: Mapped[bool] = mapped_column(default=False)
    failed_login_count: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[object | None] = mapped_column(db.DateTime)
    locale: Mapped[str | None] = mapped_column(String(5))
    # Registered through the form and the emailed link not yet followed: no sign-in until it is
    # (registration answers alike for a new and a taken email; see service.register).
    email_confirmation_pending: Mapped[bool] = mapped_column(default=False, server_default=sa_false())
    # How many times the email address has changed: part of an email-change link's fingerprint,
    # so a used link stays used even after the address changes back.
    email_change_count: Mapped[int] = mapped_column(default=0, server_default="0")

    created_at: Mapped[object] = mapped_column(db.DateTime, default=utcnow)
    updated_at: Mapped[object] = mapped_column(db.DateTime, default=utcnow, onupdate=utcnow)

    # Flask-Login: the session id carries the session version, so bumping it
    # makes every other signed cookie of this user load as anonymous.
    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"

    @property
    def is_active(self) -> bool:  # type: ignore[override]
        return bool(self.active)

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES

    @property
    def is_primary(self) -> bool:
        return self.tier == Tier.PRIMARY

    @property
    def display_name(self) -> str:
        return self.company_name if self.kind == Kind.COMPANY and self.company_name else self.full_name

    def has_role(self, *roles: str) -> bool:
        return self.role in roles

    def __repr__(self) -> str:
        return f"<User {self.id} {self.role}/{self.tier}>"
