"""Demo users: one staff account per role (TOTP enrolled), customers of each kind."""

import secrets

import pyotp

from ..clock import utcnow
from ..extensions import db
from .models import Kind, Role, Tier, User
from .passwords import hash_password

CUSTOMER_PASSWORD = "Peta-Demo-2026!"

CUSTOMERS = [
    dict(email="aminah@example.my", full_name="Aminah binti Hassan", kind=Kind.INDIVIDUAL,
         mykad="900101145678", tier=Tier.PRIMARY),
    dict(email="tan@example.my", full_name="Tan Wei Ming", kind=Kind.INDIVIDUAL,
         mykad="850615105523", tier=Tier.REGULAR),
    dict(email="john.smith@example.com", full_name="John Smith", kind=Kind.FOREIGNER,
         passport_no="K12345678", nationality="GB", tier=Tier.REGULAR),
    dict(email="ukur@example.my", full_name="Siti Nurhaliza binti Omar", kind=Kind.COMPANY,
         company_reg_no="201901012345", company_name="Ukur Tepat Sdn. Bhd.",
         rep_mykad="880808085566", tier=Tier.PRIMARY),
]


ADMIN_EMAIL = "admin@ebiz.example.my"  # the demo's first account: present means the demo was seeded


def seed(counters: dict) -> list[str]:
    lines = ["", "eBiz demo data", "==============", "Staff sign-ins (shown once; TOTP secret for your authenticator):"]
    staff = [
        (ADMIN_EMAIL, "Pentadbir Demo", Role.ADMIN, None),
        ("support@ebiz.example.my", "Ejen Sokongan Demo", Role.SUPPORT, None),
        ("hq.counter@ebiz.example.my", "Kaunter HQ Demo", Role.COUNTER, counters["HQ"]),
        ("sgr.counter@ebiz.example.my", "Kaunter Selangor Demo", Role.COUNTER, counters["SGR"]),
    ]
    for email, name, role, counter in staff:
        password = secrets.token_urlsafe(12)
        secret = pyotp.random_base32()
        db.session.add(User(email=email, full_name=name, role=role, password_hash=hash_password(password),
                            totp_secret=secret, mfa_enabled=True, counter_id=counter.id if counter else None,
                            kind=Kind.INDIVIDUAL))
        where = f" at {counter.code}" if counter else ""
        lines.append(f"  {role:<14}{where:<8} {email:<30} password {password}  TOTP {secret}")
    lines += ["", f"Customers (password {CUSTOMER_PASSWORD}):"]
    for c in CUSTOMERS:
        verified = utcnow() if c["tier"] == Tier.PRIMARY else None
        db.session.add(User(password_hash=hash_password(CUSTOMER_PASSWORD), primary_verified_at=verified, **c))
        lines.append(f"  {c['kind']:<11} {c['tier']:<8} {c['email']}")
    db.session.flush()
    return lines
