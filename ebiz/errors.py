"""EbizError and its kinds, and how each becomes a page or a JSON problem.

Services raise these with a message in the user's language (a lazy gettext
string) and, for bad input, the form field it belongs to. Views catch them to
show the message beside the field; anything uncaught becomes an error page or,
under /api/, an RFC 9457 problem document.
"""

from flask import Flask, g, jsonify, render_template, request
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException


class EbizError(Exception):
    status = 400
    code = "error"
    default_message = _l("The request could not be completed.")

    def __init__(self, message=None, *, field: str | None = None, **details):
        self.message = message if message is not None else self.default_message
        self.field = field
        self.details = details
        super().__init__(str(self.message))


class ValidationError(EbizError):
    status = 400
    code = "invalid"
    default_message = _l("Please correct the highlighted information.")


class NotFound(EbizError):
    status = 404
    code = "not-found"
    default_message = _l("We could not find what you were looking for.")


class Forbidden(EbizError):
    status = 403
    code = "forbidden"
    default_message = _l("You are not allowed to do this.")


class TierRequired(Forbidden):
    code = "primary-required"
    default_message = _l(
        "This needs a Primary account. Verify your identity at any eBiz counter to upgrade."
    )


class Conflict(EbizError):
    status = 409
    code = "conflict"
    default_message = _l("This conflicts with the current state. Please reload and try again.")


class InsufficientFunds(Conflict):
    code = "insufficient-balance"
    default_message = _l("Insufficient wallet balance.")


class Gone(EbizError):
    status = 410
    code = "gone"
    default_message = _l("This is no longer available.")


def _wants_json() -> bool:
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def _problem(status: int, title: str, detail: str, code: str, field: str | None = None):
    body = {"type": f"about:blank#{code}", "title": title, "status": status, "detail": detail}
    if field:
        body["field"] = field
    resp = jsonify(body)
    resp.status_code = status
    resp.content_type = "application/problem+json"
    return resp


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(EbizError)
    def _ebiz_error(exc: EbizError):
        if _wants_json():
            return _problem(exc.status, exc.code, str(exc.message), exc.code, exc.field)
        return render_template("errors/error.html", status=exc.status, message=exc.message), exc.status

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        status = exc.code or 500
        if _wants_json():
            return _problem(status, exc.name, exc.description or exc.name, str(status))
        response = exc.get_response()
        html = render_template("errors/error.html", status=status, message=None, exc=exc)
        response.set_data(html)
        response.content_type = "text/html; charset=utf-8"
        return response

    @app.errorhandler(500)
    def _server_error(exc):
        app.logger.error("request %s failed: %r", getattr(g, "request_id", "-"), exc)
        if _wants_json():
            return _problem(500, "Internal Server Error", "Something went wrong on our side.", "500")
        return render_template("errors/error.html", status=500, message=None), 500
