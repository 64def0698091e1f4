"""The S3 backend against real S3-compatible servers on loopback.

moto's server: storage behaviour (put, multipart, bytes through the presigned
URL with an ordinary HTTP client, the expiry and filename eBiz asks for, the
app's redirect). LocalStack (its own Python 3.13 venv, `make s3venv`): refusal
of tampered, expired and re-pointed presigned URLs, which moto does not check.
"""

import contextlib
import hashlib
import io
import os
import subprocess
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from ebiz.delivery.storage import S3_PART, S3Storage, StorageError
from ebiz.errors import ValidationError
from tests.services import free_port, port_open, require_service

ROOT = Path(__file__).resolve().parents[2]
S3VENV_PY = Path(os.environ.get("EBIZ_S3VENV", ROOT / ".s3venv")) / "bin" / "python"


@pytest.fixture(scope="module", autouse=True)
def _aws_env():
    """The test servers' credentials, for the whole module (module fixtures create clients too)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_ACCESS_KEY_ID", "test")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "test")
        mp.setenv("AWS_DEFAULT_REGION", "ap-southeast-1")
        for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
            mp.delenv(var, raising=False)
        yield


@pytest.fixture(scope="module")
def moto_url(_aws_env):
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as exc:
        require_service("moto server", str(exc))
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    for _ in range(50):
        if port_open("127.0.0.1", port):
            break
        time.sleep(0.1)
    yield url
    server.stop()


def _storage(url, bucket, prefix="ebiz"):
    import boto3

    client = boto3.client("s3", endpoint_url=url, region_name="ap-southeast-1", aws_access_key_id="test",
                          aws_secret_access_key="test")
    with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
        client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "ap-southeast-1"})
    return S3Storage(bucket, prefix, endpoint_url=url, region="ap-southeast-1", link_max_age=600), client


def test_small_put_and_presigned_download(moto_url):
    storage, client = _storage(moto_url, "ebiz-small")
    data = os.urandom(100_000)
    stored = storage.put(io.BytesIO(data), max_bytes=10**7, content_type="application/geopackage+sqlite3")
    assert stored.sha256 == hashlib.sha256(data).hexdigest() and stored.size == len(data)
    assert client.head_object(Bucket="ebiz-small", Key="ebiz/" + stored.key)["ContentLength"] == len(data)
    assert storage.stat(stored.key) == len(data) and storage.sha256(stored.key) == stored.sha256
    url = storage.presigned_url(stored.key, filename="Lot 12 parcels.gpkg", content_type="application/octet-stream")
    q = parse_qs(urlsplit(url).query)
    assert q["X-Amz-Expires"] == ["600"]
    r = requests.get(url, timeout=10)
    assert r.status_code == 200 and hashlib.sha256(r.content).hexdigest() == stored.sha256
    assert 'filename="Lot 12 parcels.gpkg"' in r.headers["Content-Disposition"]
    assert r.headers["Cache-Control"] == "private, no-store"  # a customer's file, kept by no cache


def test_multipart_upload(moto_url):
    storage, client = _storage(moto_url, "ebiz-multi")
    data = os.urandom(2 * S3_PART + 12345)  # three parts
    stored = storage.put(io.BytesIO(data), max_bytes=10**9, content_type="application/zip")
    head = client.head_object(Bucket="ebiz-multi", Key="ebiz/" + stored.key)
    assert head["ContentLength"] == len(data) and head["ETag"].strip('"').endswith("-3")
    r = requests.get(storage.presigned_url(stored.key, filename="big.zip", content_type="application/zip"),
                     timeout=30)
    assert hashlib.sha256(r.content).hexdigest() == hashlib.sha256(data).hexdigest() == stored.sha256


def test_over_the_limit_aborts_and_stores_nothing(moto_url):
    storage, client = _storage(moto_url, "ebiz-limit")
    with pytest.raises(ValidationError):
        storage.put(io.BytesIO(os.urandom(S3_PART + 10)), max_bytes=S3_PART + 5, content_type="application/zip")
    with pytest.raises(ValidationError):  # refused within the first part: never sent
        storage.put(io.BytesIO(b"x" * 2000), max_bytes=1000, content_type="text/csv")
    assert client.list_objects_v2(Bucket="ebiz-limit").get("KeyCount", 0) == 0
    assert not client.list_multipart_uploads(Bucket="ebiz-limit").get("Uploads")


def test_missing_object(moto_url):
    storage, _ = _storage(moto_url, "ebiz-missing")
    with pytest.raises(StorageError):
        storage.stat("files/00/" + "0" * 32)
    with pytest.raises(StorageError):
        storage.object_key("../../other-bucket/x")


def test_verify_command_on_s3(app, moto_url, monkeypatch):
    """`flask delivery verify` reads the objects back from S3: a changed or missing object is reported."""
    from ebiz.delivery import service
    from ebiz.extensions import db
    from tests.factories import make_product

    _s3, client = _storage(moto_url, "ebiz-verify")
    for key, value in (("STORAGE_BACKEND", "s3"), ("S3_BUCKET", "ebiz-verify"), ("S3_PREFIX", "v"),
                       ("S3_ENDPOINT_URL", moto_url)):
        monkeypatch.setitem(app.config, key, value)
    product = make_product()
    pf = service.store_file(product.id, io.BytesIO(b"x" * 1000), "a.csv", actor=None,
                            version_id=product.versions[0].id)
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["delivery", "verify"])
    assert result.exit_code == 0 and "0 problems" in result.output, result.output
    client.put_object(Bucket="ebiz-verify", Key="v/" + pf.storage_key, Body=b"y" * 1000)  # same size, other bytes
    result = app.test_cli_runner().invoke(args=["delivery", "verify"])
    assert result.exit_code == 1 and "sha256" in result.output
    client.delete_object(Bucket="ebiz-verify", Key="v/" + pf.storage_key)
    result = app.test_cli_runner().invoke(args=["delivery", "verify"])
    assert result.exit_code == 1 and "missing" in result.output


def test_app_redirects_to_a_presigned_url(client, app, moto_url, monkeypatch):
    """The whole path on S3: upload through the service, link, 302 to S3, bytes match, event recorded."""
    from sqlalchemy import select

    from ebiz.delivery.models import DownloadEvent
    from ebiz.extensions import db
    from tests.delivery.helpers import bought_file
    from tests.factories import login_session

    _storage(moto_url, "ebiz-app")
    monkeypatch.setitem(app.config, "STORAGE_BACKEND", "s3")
    monkeypatch.setitem(app.config, "S3_BUCKET", "ebiz-app")
    monkeypatch.setitem(app.config, "S3_PREFIX", "t")
    monkeypatch.setitem(app.config, "S3_ENDPOINT_URL", moto_url)
    monkeypatch.setitem(app.config, "DOWNLOAD_LINK_MAX_AGE", 300)
    user, product, grant, ent, pf, data = bought_file(size=50_000)
    login_session(client, user)
    link = client.get(f"/downloads/get/{ent.ref}/{pf.ref}").headers["Location"]
    r = client.get(link)
    assert r.status_code == 302 and r.headers["Location"].startswith(moto_url + "/ebiz-app/t/files/")
    assert parse_qs(urlsplit(r.headers["Location"]).query)["X-Amz-Expires"] == ["300"]
    got = requests.get(r.headers["Location"], timeout=10)
    assert hashlib.sha256(got.content).hexdigest() == pf.sha256
    ev = db.session.scalar(select(DownloadEvent))
    assert ev.backend == "s3" and ev.counted


# -- LocalStack: signatures and expiry are checked ------------------------------------------------

@pytest.fixture(scope="module")
def localstack_url(_aws_env, tmp_path_factory):
    if not S3VENV_PY.exists() or not (S3VENV_PY.parents[1] / ".installed").exists():
        require_service("LocalStack", f"{S3VENV_PY.parents[1]} is not installed (make s3venv; needs Python 3.13)")
    port = free_port()
    data = tmp_path_factory.mktemp("lsdata")
    (data / "tmp").mkdir()
    env = dict(os.environ, SERVICES="s3", GATEWAY_LISTEN=f"127.0.0.1:{port}", GATEWAY_SERVER="hypercorn",
               S3_SKIP_SIGNATURE_VALIDATION="0", PERSISTENCE="0", DISABLE_EVENTS="1", SKIP_SSL_CERT_DOWNLOAD="1",
               LOCALSTACK_HOST=f"127.0.0.1:{port}", EAGER_SERVICE_LOADING="1", DNS_ADDRESS="0",
               FILESYSTEM_ROOT=str(data))
    log = open(data / "localstack.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen([str(S3VENV_PY), "-m", "localstack.runtime.main"], env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while True:
            try:
                health = requests.get(url + "/_localstack/health", timeout=1).json()
                if health.get("services", {}).get("s3") in ("running", "available"):
                    break
            except (requests.RequestException, ValueError):
                pass
            if proc.poll() is not None or time.time() > deadline:
                require_service("LocalStack", "did not start: " + (data / "localstack.log").read_text()[-500:])
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture(scope="module")
def ls_stored(localstack_url):
    storage, client = _storage(localstack_url, "ebiz-signed")
    data = os.urandom(20_000)
    a = storage.put(io.BytesIO(data), max_bytes=10**7, content_type="application/zip")
    b = storage.put(io.BytesIO(b"another customer's file"), max_bytes=10**7, content_type="application/zip")
    return storage, a, b, data


def test_localstack_serves_a_valid_link(ls_stored):
    storage, a, _, data = ls_stored
    r = requests.get(storage.presigned_url(a.key, filename="a.zip", content_type="application/zip"), timeout=10)
    assert r.status_code == 200 and r.content == data
    assert r.headers["Cache-Control"] == "private, no-store"


def _tamper_signature(url: str) -> str:
    head, sig = url.rsplit("X-Amz-Signature=", 1)
    flipped = ("0" if sig[0] != "0" else "1") + sig[1:]
    return f"{head}X-Amz-Signature={flipped}"


def test_localstack_refuses_tampered_signature(ls_stored):
    storage, a, _, _ = ls_stored
    url = storage.presigned_url(a.key, filename="a.zip", content_type="application/zip")
    assert requests.get(_tamper_signature(url), timeout=10).status_code == 403


def test_localstack_refuses_edited_filename(ls_stored):
    storage, a, _, _ = ls_stored
    url = storage.presigned_url(a.key, filename="a.zip", content_type="application/zip")
    assert "a.zip" in url
    assert requests.get(url.replace("a.zip", "b.zip"), timeout=10).status_code == 403


def test_localstack_refuses_a_repointed_key(ls_stored):
    storage, a, b, _ = ls_stored
    url = storage.presigned_url(a.key, filename="a.zip", content_type="application/zip")
    repointed = url.replace(a.key, b.key)
    assert repointed != url
    assert requests.get(repointed, timeout=10).status_code == 403


def test_localstack_refuses_an_expired_link(ls_stored):
    storage, a, _, _ = ls_stored
    url = storage.presigned_url(a.key, filename="a.zip", content_type="application/zip", expires_in=1)
    time.sleep(2.2)
    assert requests.get(url, timeout=10).status_code == 403
