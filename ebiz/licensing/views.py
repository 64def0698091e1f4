"""Licensing pages: licence texts, my licences, certificates (page and PDF), revocation,
and the public verification page /verify/<number> (its own blueprint, no sign-in)."""

from flask import Blueprint, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from wtforms import TextAreaField
from wtforms.validators import DataRequired, Length

from ..accounts.decorators import mfa_verified, roles_required
from ..accounts.models import Role
from ..catalog.service import in_language
from ..errors import EbizError, NotFound
from ..extensions import db, limiter
from ..forms import Form
from . import service
from .pdf import certificate_pdf as render_certificate

bp = Blueprint("licensing", __name__, url_prefix="/licences")
verify_bp = Blueprint("verify", __name__)


@bp.app_template_global("licence_title")
def licence_title(key: str | None) -> str:
    """For templates of any domain: a licence's title in the current language (never its key)."""
    return service.licence_title(key)


class RevokeForm(Form):
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(), Length(max=300)])


@bp.get("/terms/<key>")
def terms(key: str):
    lic = service.get_licence(key)
    return render_template("licensing/terms.html", lic=lic, title=lic.title(get_locale()))


@bp.get("/")
@login_required
def my_licences():
    grants = service.grants_of(current_user.id)
    products = service.products_of(grants)
    return render_template("licensing/my_licences.html", grants=grants, products=products, state=service.grant_state)


def _certificate_context(number: str) -> dict:
    grant = service.grant_for_owner(number, current_user)
    if grant.user_id != current_user.id and not mfa_verified():
        raise NotFound()
    product, version = service.subject_of(grant)
    try:
        lic = service.get_licence(grant.licence_key)
        title = lic.title(get_locale())
    except NotFound:
        title = grant.licence_key
    url = service.verify_url(grant.number, current_app.config["PUBLIC_BASE_URL"])
    return dict(grant=grant, product=product, version=version, licence_title=title, verify_url=url,
                licensee=grant.user.display_name, state=service.grant_state(grant))


@bp.get("/<number>")
@login_required
def certificate(number: str):
    ctx = _certificate_context(number)
    return render_template("licensing/certificate.html", qr=service.qr_svg_data_uri(ctx["verify_url"]),
                           revoke_form=RevokeForm(), **ctx)


@bp.get("/<number>.pdf")
@login_required
def certificate_pdf(number: str):
    ctx = _certificate_context(number)
    product = ctx["product"]
    name = in_language(product, "name", str(get_locale())) if product else ""
    pdf = render_certificate(ctx["grant"], product_name=name,
                 version_label=ctx["version"].label if ctx["version"] else "", licence_title=ctx["licence_title"],
                 licensee=ctx["licensee"], verify_url=ctx["verify_url"])
    return send_file(pdf, mimetype="application/pdf", download_name=f"{ctx['grant'].number}.pdf")


@bp.post("/<number>/revoke")
@roles_required(Role.ADMIN)
def revoke(number: str):
    grant = service.grant_for_owner(number, current_user)
    form = RevokeForm()
    if not form.validate():
        flash(_("Give the reason for revoking this licence."), "error")
        return redirect(url_for("licensing.certificate", number=number))
    try:
        service.revoke(grant, actor=current_user, reason=form.reason.data, ip=request.remote_addr)
        db.session.commit()
        flash(_("Licence %(number)s revoked.", number=grant.number), "success")
    except EbizError as exc:
        db.session.rollback()
        flash(str(exc.message), "error")
    return redirect(url_for("licensing.certificate", number=number))


@verify_bp.get("/verify/<number>")
@limiter.limit("60 per minute")
def verify(number: str):
    info = service.public_status(number)
    status = 200 if info else 404
    return render_template("licensing/verify.html", info=info, number=number[:40]), status
