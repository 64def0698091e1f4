"""Object storage for product files: one interface, a local and an S3 backend.

`get_storage(app)` picks the backend from STORAGE_BACKEND ("local" or "s3").

- Keys are made by `new_key()` (random hex under a fixed prefix), never from
  user input. `LocalStorage` accepts only keys of that exact shape, so a key
  that climbs out of STORAGE_DIR ("../", absolute paths, separators) cannot
  even be expressed.
- `put` streams: it reads the source in chunks, hashes (SHA-256) and counts
  while writing, and refuses past `max_bytes` with nothing left behind (the
  temp file is removed; the S3 multipart upload is aborted).
- Serving: local files go out through `send_file(conditional=True)` so Range
  requests work and gunicorn can use sendfile; S3 objects through a presigned
  GET URL (same expiry as eBiz's own links) carrying the download filename.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote

from flask import current_app, redirect, send_file
from flask_babel import lazy_gettext as _l

from ..errors import ValidationError

CHUNK = 1024 * 1024
S3_PART = 8 * 1024 * 1024  # multipart part size (S3 minimum is 5 MiB)
KEY_RE = re.compile(r"^files/[0-9a-f]{2}/[0-9a-f]{32}$")


class StorageError(Exception):
    """The backend is missing an object or failed."""


@dataclass(frozen=True)
class Stored:
    key: str
    size: int
    sha256: str


def new_key() -> str:
    token = secrets.token_hex(16)
    return f"files/{token[:2]}/{token}"


def too_large(max_bytes: int) -> ValidationError:
    mib = max_bytes / (1024 * 1024)
    return ValidationError(_l("The file is larger than the limit of %(mib).1f MiB.", mib=mib), field="file")


def content_disposition(filename: str) -> str:
    """An attachment header value with an ASCII fallback and the UTF-8 name (RFC 6266)."""

    ascii_name = filename.encode("ascii", "ignore").decode().replace('"', "").replace("\\", "") or "download"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"


class Storage:
    name = "base"

    def put(self, src: BinaryIO, *, max_bytes: int, content_type: str) -> Stored:
        raise NotImplementedError

    def stat(self, key: str) -> int:
        """Size in bytes; StorageError when missing."""
        raise NotImplementedError

    def sha256(self, key: str) -> str:
        raise NotImplementedError

    def delete(self, key: str) -> None:
        raise NotImplementedError

    def serve(self, key: str, *, filename: str, content_type: str):
        """A Flask response that delivers the object to the browser."""
        raise NotImplementedError

    def check(self) -> None:
        """Raise StorageError unless the store can be read and written now (for /healthz): quick."""
        raise NotImplementedError


class LocalStorage(Storage):
    name = "local"

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root).resolve()

    def check(self) -> None:
        if not self.root.is_dir() or not os.access(self.root, os.R_OK | os.W_OK | os.X_OK):
            raise StorageError(f"storage directory {self.root} is missing or not writable")

    def path(self, key: str) -> Path:
        if not isinstance(key, str) or not KEY_RE.fullmatch(key):
            raise StorageError(f"not a storage key: {key!r}")
        p = (self.root / key).resolve()
        if self.root not in p.parents:  # belt and braces: the regex already makes this impossible
            raise StorageError(f"key escapes the storage directory: {key!r}")
        return p

    def put(self, src: BinaryIO, *, max_bytes: int, content_type: str) -> Stored:
        key = new_key()
        final = self.path(key)
        final.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        fd, tmp = tempfile.mkstemp(dir=final.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := src.read(CHUNK):
                    size += len(chunk)
                    if size > max_bytes:
                        raise too_large(max_bytes)
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, final)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return Stored(key, size, digest.hexdigest())

    def stat(self, key: str) -> int:
        try:
            return self.path(key).stat().st_size
        except FileNotFoundError as exc:
            raise StorageError(f"missing: {key}") from exc

    def sha256(self, key: str) -> str:
        digest = hashlib.sha256()
        try:
            with open(self.path(key), "rb") as f:
                while chunk := f.read(CHUNK):
                    digest.update(chunk)
        except FileNotFoundError as exc:
            raise StorageError(f"missing: {key}") from exc
        return digest.hexdigest()

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def serve(self, key: str, *, filename: str, content_type: str):
        path = self.path(key)
        if not path.is_file():
            raise StorageError(f"missing: {key}")
        # conditional=True: Range/If-Range/ETag, so a broken download resumes.
        # The body is a file wrapper: gunicorn hands it to sendfile().
        response = send_file(path, mimetype=content_type, as_attachment=True, download_name=filename,
                             conditional=True, etag=True, max_age=0)
        response.headers["Cache-Control"] = "private, no-store"
        return response


class S3Storage(Storage):
    name = "s3"

    def __init__(self, bucket: str, prefix: str = "", endpoint_url: str | None = None,
                 region: str | None = None, link_max_age: int = 600, client=None):
        if not bucket:
            raise StorageError("S3_BUCKET is not set")
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.link_max_age = link_max_age
        if client is None:
            # boto3 loads only for the S3 backend: it costs a quarter-second the local default never pays.
            import boto3
            from botocore.config import Config as BotoConfig

            client = boto3.client("s3", endpoint_url=endpoint_url, region_name=region,
                                  config=BotoConfig(signature_version="s3v4", s3={"addressing_style": "path"}))
        self.client = client

    def check(self) -> None:
        from botocore.exceptions import BotoCoreError, ClientError  # S3 only, as boto3 above

        try:
            self.client.head_bucket(Bucket=self.bucket)
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"bucket {self.bucket}: {exc}") from exc

    def object_key(self, key: str) -> str:
        if not KEY_RE.fullmatch(key or ""):
            raise StorageError(f"not a storage key: {key!r}")
        return self.prefix + key

    def put(self, src: BinaryIO, *, max_bytes: int, content_type: str) -> Stored:
        key = new_key()
        okey = self.object_key(key)
        digest = hashlib.sha256()
        size = 0

        def take(n: int) -> bytes:
            nonlocal size
            data = _read_full(src, n)
            size += len(data)
            if size > max_bytes:  # refused before the part is sent
                raise too_large(max_bytes)
            digest.update(data)
            return data

        part = take(S3_PART)
        if len(part) < S3_PART:  # small file: one PUT
            self.client.put_object(Bucket=self.bucket, Key=okey, Body=part, ContentType=content_type)
            return Stored(key, size, digest.hexdigest())
        upload_id = self.client.create_multipart_upload(Bucket=self.bucket, Key=okey,
                                                        ContentType=content_type)["UploadId"]
        parts = []
        try:
            number = 1
            while part:
                r = self.client.upload_part(Bucket=self.bucket, Key=okey, UploadId=upload_id, PartNumber=number,
                                            Body=part)
                parts.append({"ETag": r["ETag"], "PartNumber": number})
                number += 1
                part = take(S3_PART)
            self.client.complete_multipart_upload(Bucket=self.bucket, Key=okey, UploadId=upload_id,
                                                  MultipartUpload={"Parts": parts})
        except BaseException:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=okey, UploadId=upload_id)
            raise
        return Stored(key, size, digest.hexdigest())

    def stat(self, key: str) -> int:
        from botocore.exceptions import ClientError  # S3 only, as boto3 above

        try:
            return int(self.client.head_object(Bucket=self.bucket, Key=self.object_key(key))["ContentLength"])
        except ClientError as exc:
            raise StorageError(f"missing: {key}: {exc}") from exc

    def sha256(self, key: str) -> str:
        from botocore.exceptions import ClientError  # S3 only, as boto3 above

        digest = hashlib.sha256()
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self.object_key(key))["Body"]
        except ClientError as exc:
            raise StorageError(f"missing: {key}: {exc}") from exc
        for chunk in body.iter_chunks(CHUNK):
            digest.update(chunk)
        return digest.hexdigest()

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.object_key(key))

    def presigned_url(self, key: str, *, filename: str, content_type: str, expires_in: int | None = None) -> str:
        return self.client.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket, "Key": self.object_key(key),
                    "ResponseContentDisposition": content_disposition(filename),
                    "ResponseContentType": content_type,
                    "ResponseCacheControl": "private, no-store"},  # as the local backend: no cache keeps it
            ExpiresIn=int(expires_in or self.link_max_age))

    def serve(self, key: str, *, filename: str, content_type: str):

        response = redirect(self.presigned_url(key, filename=filename, content_type=content_type), code=302)
        response.headers["Cache-Control"] = "private, no-store"
        return response


def _read_full(src: BinaryIO, n: int) -> bytes:
    """Read up to n bytes, looping over short reads (sockets, pipes)."""
    buf = bytearray()
    while len(buf) < n:
        chunk = src.read(n - len(buf))
        if not chunk:
            break
        buf += chunk
    return bytes(buf)


def storage_from_config(config) -> Storage:
    backend = config.get("STORAGE_BACKEND", "local")
    if backend == "local":
        return LocalStorage(config["STORAGE_DIR"])
    if backend == "s3":
        return S3Storage(config["S3_BUCKET"], config.get("S3_PREFIX", ""), config.get("S3_ENDPOINT_URL"),
                         config.get("S3_REGION"), int(config.get("DOWNLOAD_LINK_MAX_AGE", 600)))
    raise StorageError(f"unknown STORAGE_BACKEND {backend!r} (use 'local' or 's3')")


def get_storage() -> Storage:
    """The app's storage backend (built once per app, kept in app.extensions)."""
    app = current_app._get_current_object()
    c = app.config
    signature = (c.get("STORAGE_BACKEND"), c.get("STORAGE_DIR"), c.get("S3_BUCKET"), c.get("S3_PREFIX"),
                 c.get("S3_ENDPOINT_URL"), c.get("S3_REGION"), c.get("DOWNLOAD_LINK_MAX_AGE"))
    cached = app.extensions.get("ebiz_storage")
    if cached is None or cached[0] != signature:
        cached = (signature, storage_from_config(c))
        app.extensions["ebiz_storage"] = cached
    return cached[1]
