"""Local storage and uploads: streaming, checksums, limits, types, keys that cannot escape."""

import hashlib
import io
import os
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ebiz.accounts.models import Role
from ebiz.audit.models import AuditEvent
from ebiz.delivery import service
from ebiz.delivery.models import ProductFile
from ebiz.delivery.storage import KEY_RE, LocalStorage, StorageError, get_storage, new_key
from ebiz.errors import ValidationError
from ebiz.extensions import db
from tests.factories import csrf_from, login_session, make_product, make_user


def _files_under(root) -> list[Path]:
    return [p for p in Path(root).rglob("*") if p.is_file()]


def test_put_streams_and_hashes(tmp_path):
    storage = LocalStorage(tmp_path)
    data = os.urandom(3 * 1024 * 1024 + 17)
    stored = storage.put(io.BytesIO(data), max_bytes=10 * 1024 * 1024, content_type="application/zip")
    assert KEY_RE.fullmatch(stored.key)
    assert stored.size == len(data) and stored.sha256 == hashlib.sha256(data).hexdigest()
    assert storage.stat(stored.key) == len(data) and storage.sha256(stored.key) == stored.sha256
    assert storage.path(stored.key).read_bytes() == data


def test_over_the_limit_leaves_nothing(tmp_path):
    storage = LocalStorage(tmp_path)
    with pytest.raises(ValidationError):
        storage.put(io.BytesIO(b"x" * 5000), max_bytes=4096, content_type="text/plain")
    assert _files_under(tmp_path) == []


@pytest.mark.parametrize("key", ["../etc/passwd", "/etc/passwd", "files/../../etc/passwd", "files/aa/../../../x",
                                 "files/ab/" + "0" * 31 + "/", "files\\ab\\" + "0" * 32, "", "files/AB/" + "A" * 32,
                                 "files/ab/" + "0" * 32 + "\x00", None])
def test_keys_cannot_escape(tmp_path, key):
    storage = LocalStorage(tmp_path / "store")
    with pytest.raises(StorageError):
        storage.path(key)


def test_generated_keys_stay_inside(tmp_path):
    storage = LocalStorage(tmp_path)
    for _ in range(500):
        key = new_key()
        assert storage.root in storage.path(key).parents


def test_store_file_refuses_type_and_writes_nothing(app):
    admin = make_user(role=Role.ADMIN)
    product = make_product(allowed_extensions=".zip,.gpkg")
    before = _files_under(app.config["STORAGE_DIR"])
    with pytest.raises(ValidationError) as exc:
        service.store_file(product.id, io.BytesIO(b"MZ..."), "tool.exe", actor=admin,
                           version_id=product.versions[0].id)
    assert exc.value.field == "file" and ".exe" in str(exc.value.message)  # named in either language
    db.session.rollback()
    assert _files_under(app.config["STORAGE_DIR"]) == before
    assert db.session.scalar(select(func.count()).select_from(ProductFile)) == 0


def test_store_file_refuses_size_and_writes_nothing(app, monkeypatch):
    monkeypatch.setitem(app.config, "UPLOAD_MAX_BYTES", 1024)
    admin = make_user(role=Role.ADMIN)
    product = make_product()
    before = _files_under(app.config["STORAGE_DIR"])
    with pytest.raises(ValidationError):
        service.store_file(product.id, io.BytesIO(os.urandom(4096)), "big.zip", actor=admin,
                           version_id=product.versions[0].id)
    db.session.rollback()
    assert _files_under(app.config["STORAGE_DIR"]) == before
    assert db.session.scalar(select(func.count()).select_from(ProductFile)) == 0


def test_filename_from_the_upload_is_only_a_label(app):
    admin = make_user(role=Role.ADMIN)
    product = make_product()
    pf = service.store_file(product.id, io.BytesIO(b"a,b\n1,2\n"), "../../etc/points.csv", actor=admin,
                            version_id=product.versions[0].id)
    db.session.commit()
    assert pf.filename == "points.csv" and KEY_RE.fullmatch(pf.storage_key)
    assert Path(app.config["STORAGE_DIR"]).resolve() in get_storage().path(pf.storage_key).parents
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == "delivery.file.store")) == 1


def test_upload_page(client, app):
    admin = make_user(role=Role.ADMIN)
    product = make_product()
    version = product.versions[0]
    login_session(client, admin)
    page = client.get(f"/downloads/staff/versions/{version.id}/files")
    assert page.status_code == 200
    data = os.urandom(70_000)
    r = client.post(f"/downloads/staff/versions/{version.id}/files", data={
        "csrf_token": csrf_from(page.data), "file": (io.BytesIO(data), "points.geojson")},
        content_type="multipart/form-data")
    assert r.status_code == 302
    pf = db.session.scalar(select(ProductFile))
    assert pf.sha256 == hashlib.sha256(data).hexdigest() and pf.size == len(data)
    # Refused type: message beside the field, nothing stored.
    page = client.get(f"/downloads/staff/versions/{version.id}/files")
    r = client.post(f"/downloads/staff/versions/{version.id}/files", data={
        "csrf_token": csrf_from(page.data), "file": (io.BytesIO(b"x"), "run.sh")}, content_type="multipart/form-data")
    assert r.status_code == 400 and ".sh" in r.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(ProductFile)) == 1
    # The product page shows the file with its checksum.
    html = client.get(f"/catalog/p/{product.slug}").get_data(as_text=True)
    assert pf.sha256 in html and "points.geojson" in html


def test_upload_page_is_for_admins(client):
    product = make_product()
    login_session(client, make_user(role=Role.SUPPORT))
    assert client.get(f"/downloads/staff/versions/{product.versions[0].id}/files").status_code == 403


def test_verify_command(app):
    admin = make_user(role=Role.ADMIN)
    product = make_product()
    pf = service.store_file(product.id, io.BytesIO(b"x" * 1000), "a.csv", actor=admin,
                            version_id=product.versions[0].id)
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["delivery", "verify"])
    assert result.exit_code == 0 and "0 problems" in result.output, result.output
    path = get_storage().path(pf.storage_key)
    path.write_bytes(b"y" * 1000)  # same size, different bytes
    result = app.test_cli_runner().invoke(args=["delivery", "verify"])
    assert result.exit_code == 1 and "sha256" in result.output
    path.unlink()
    result = app.test_cli_runner().invoke(args=["delivery", "verify"])
    assert result.exit_code == 1 and "missing" in result.output
