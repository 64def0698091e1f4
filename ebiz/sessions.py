"""The session cookie, re-signed when it changes or once a while, not on every request.

Flask re-signs and re-sends a permanent session's cookie on every response
(SESSION_REFRESH_EACH_REQUEST) to slide its expiry. That costs an HMAC and a
Set-Cookie header on every page, download link and payment. Here the sliding
expiry moves in steps of SESSION_REFRESH_SECONDS instead: a session that has not
changed keeps its cookie until it is that old, so a signed-in customer is signed
out after PERMANENT_SESSION_LIFETIME of inactivity, give or take that step.
"""

import time

from flask.sessions import SecureCookieSessionInterface

STAMP = "_r"  # when the cookie was last signed (seconds since the epoch)


class SteppedRefreshSessionInterface(SecureCookieSessionInterface):
    def should_set_cookie(self, app, session) -> bool:
        return session.modified

    def save_session(self, app, session, response) -> None:
        if session and session.permanent and app.config["SESSION_REFRESH_EACH_REQUEST"]:
            now = int(time.time())
            stamp = session.get(STAMP)
            if session.modified or not isinstance(stamp, int) or now - stamp >= app.config["SESSION_REFRESH_SECONDS"]:
                session[STAMP] = now
        super().save_session(app, session, response)
