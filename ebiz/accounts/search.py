"""Finding a customer (or any user): the one search that the counter desk, customer lookup and the
staff user list share.

What matches, each through an index (never a scan of every account):
- every word of the query as the start of a word of the name or company name: on PostgreSQL the GIN
  index on the `simple` tsvector of both (`NAME_SEARCH_SQL`); on SQLite, LIKE on word starts;
- an identity number (MyKad, passport, company number, representative's MyKad), written with or
  without dashes and spaces, in full or by its first 4 or more characters: a range on its unique index;
- an email address, in full or by its start: a range on the unique index of `email` (stored lower-cased).

A partial query needs at least MIN_PARTIAL characters, and results are bounded (`limit`). What is typed
is matched as text: "%" and "_" are no wildcards, and tsquery operators never reach the query.
"""

import re
import unicodedata

from sqlalchemy import and_, func, or_, select, text

from ..db import LIKE_ESCAPE, like_escape
from ..extensions import db
from .models import NAME_SEARCH_SQL, User

MIN_PARTIAL = 3
MIN_ID_PREFIX = 4
MAX_QUERY = 100
LIMIT = 20
_WORD = re.compile(r"\w+")


def _words(q: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(unicodedata.normalize("NFKC", q))][:6]


def _starts_with(column, prefix: str):
    """`column` starts with `prefix`, as a range the column's btree index answers (unlike LIKE
    under PostgreSQL's default collation, and with nothing to escape)."""
    return and_(column >= prefix, column < prefix + "\U0010ffff")


def _name_matches(words: list[str]):
    if db.engine.dialect.name == "postgresql":
        tsq = " & ".join(f"{w}:*" for w in words)
        return text(f"{NAME_SEARCH_SQL} @@ to_tsquery('simple', :name_tsq)").bindparams(name_tsq=tsq)
    conds = []
    for w in words:
        pat = like_escape(w)
        conds.append(or_(*(or_(func.lower(col).like(f"{pat}%", escape=LIKE_ESCAPE),
                               func.lower(col).like(f"% {pat}%", escape=LIKE_ESCAPE))
                           for col in (User.full_name, User.company_name))))
    return and_(*conds)


def user_search(q: str | None, *, role: str | None = None):
    """A select() of users matching `q` (see the module's docstring), newest first. A query shorter
    than MIN_PARTIAL matches only a whole identity number or email."""
    q = (q or "").strip()[:MAX_QUERY]
    stmt = select(User).order_by(User.id.desc())
    if role:
        stmt = stmt.where(User.role == role)
    if not q:
        return stmt
    compact = q.replace("-", "").replace(" ", "").upper()
    conds = [User.mykad == compact, User.passport_no == compact, User.company_reg_no == compact,
             User.rep_mykad == compact, User.company_reg_no == q.upper(), User.email == q.lower()]
    if len(q) >= MIN_PARTIAL:
        if "@" in q or "." in q:
            conds.append(_starts_with(User.email, q.lower()))
        elif (words := _words(q)) and all(len(w) >= 2 for w in words):
            conds.append(_name_matches(words))
            conds.append(_starts_with(User.email, q.lower()))
        if len(compact) >= MIN_ID_PREFIX and compact.isalnum():
            conds += [_starts_with(col, compact) for col in
                      (User.mykad, User.passport_no, User.company_reg_no, User.rep_mykad)]
    return stmt.where(or_(*conds))


def find_users(q: str | None, *, role: str | None = None, limit: int = LIMIT) -> list[User]:
    """At most `limit` users matching `q`, newest first (none for an empty query)."""
    if not (q or "").strip():
        return []
    return list(db.session.scalars(user_search(q, role=role).limit(limit)))
