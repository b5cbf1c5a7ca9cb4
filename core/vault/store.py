"""Where encrypted vault files are kept: one interface (:class:`VaultStore`), a local folder by default
(:class:`LocalFolderStore`) and an S3-compatible object store for production (:class:`S3Store`).

Why a store knows so little: it only ever holds ciphertext (:mod:`core.vault.stream_format` encrypts before a byte
reaches it), so it needs no access rules of its own beyond "readable by the app's user only". Its keys are random
opaque names (:func:`new_key`) that say nothing about a person: a listing of the folder or bucket, a log line of
the object store or a backup's file list names nobody. A key is checked against one strict pattern before it
becomes a path or an object name, so no key can climb out of the folder (``..``) or into another prefix (``/``).

Why files are written whole or not at all: a file half uploaded (the connection dropped, the source failed) must
never look like a stored file, or a participant would be offered a file that fails to open. The local store writes
to a hidden partial file beside the final one and renames it into place once whole; the S3 store uploads large
files in parts and completes the upload only at the end (S3 shows an object only once completed) and aborts it on
any failure. Either way the file streams through in blocks, never whole in memory.

Why a file can also be written in parts: the console's upload arrives as ciphertext over many requests, possibly
served by different app processes, so nothing may wait in one process's memory between them. The store keeps the
unfinished file itself (the local store a hidden part file, the S3 store an open multipart upload) under a handle
that the caller keeps in the database; each request writes one part in place, and only finishing makes the file show
under its key. Writing a part again (a retried request) replaces it, so a retry never doubles a byte.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import secrets
from pathlib import Path
from typing import Any, BinaryIO, Protocol, cast

from core.settings import Settings, SettingsError
from core.vault.stream_format import read_exactly

KEY_PATTERN = re.compile(r"[0-9a-z]{20,64}")
COPY_BLOCK = 1 << 20
S3_MIN_PART = 5 << 20  # S3 refuses smaller parts (but the last)
S3_DEFAULT_PART = 8 << 20  # S3 takes at most 10,000 parts: 80 GB at this size, far beyond any answer
S3_PREFIX_PATTERN = re.compile(r"([0-9A-Za-z_-]+/)*")


class UnsafeKey(ValueError):
    """A key that is not a store key (:func:`new_key` makes them)."""


class MissingFile(LookupError):
    """No file is stored under the key."""


class PartsRefused(ValueError):
    """A file written in parts that cannot be written or finished as asked: a part shorter than announced, parts
    missing, or the unfinished file gone (aborted, or removed as abandoned). The message says which."""


def new_key() -> str:
    """A new random key: 32 hex digits (128 bits), naming nothing and no one."""
    return secrets.token_hex(16)


def check_key(key: str) -> str:
    """``key`` when it is safe as a file or object name: 20-64 lower-case letters and digits (no dots, no slashes)."""
    if not isinstance(key, str) or not KEY_PATTERN.fullmatch(key):
        raise UnsafeKey(
            f"not a vault store key: {key!r:.80}; a key is 20-64 lower-case letters and digits (new_key() makes one)"
        )
    return key


class VaultStore(Protocol):
    """Stored encrypted files, by key. Every method checks the key first (:class:`UnsafeKey`)."""

    def put(self, key: str, source: BinaryIO) -> int:
        """Store what ``source`` holds, read to its end in blocks, under ``key`` (replacing a file stored there
        before); returns the bytes stored. The file shows under ``key`` only once whole: when ``source`` fails
        midway, nothing new is stored and the exception is raised on."""
        ...

    def open(self, key: str) -> BinaryIO:
        """The stored file, for reading in blocks (close it after use); :class:`MissingFile` if there is none."""
        ...

    def open_range(self, key: str, start: int, length: int) -> BinaryIO:
        """``length`` bytes of the stored file from byte ``start`` on (fewer at its end), for reading in blocks, so
        that a download can come in short requests that each end well within a worker's timeout (issue 21);
        :class:`MissingFile` if there is none. ``start`` is at least 0 and ``length`` at least 1."""
        ...

    def delete(self, key: str) -> None:
        """Remove the file under ``key``; nothing happens when there is none (erasure may run twice)."""
        ...

    def exists(self, key: str) -> bool: ...

    def size(self, key: str) -> int:
        """The stored file's size in bytes; :class:`MissingFile` if there is none."""
        ...

    # A file written in parts, over several requests or processes (the console's upload): nothing shows under
    # ``key`` until :meth:`finish_parts`. Every part but the last is at least ``min_part_size`` bytes.
    min_part_size: int

    def start_parts(self, key: str) -> str:
        """Begin a file under ``key`` written part by part; returns its handle, for the caller to keep (in the
        database) and give to the other methods."""
        ...

    def put_part(self, key: str, handle: str, number: int, offset: int, source: BinaryIO, size: int) -> None:
        """Write part ``number`` (from 0), the next ``size`` bytes of ``source``, which starts ``offset`` bytes
        into the file; a part written before under this number is replaced. :class:`PartsRefused` when ``source``
        ends sooner or the unfinished file is gone."""
        ...

    def finish_parts(self, key: str, handle: str, parts: int, size: int) -> None:
        """Make the ``parts`` parts written so far, ``size`` bytes in all, the file under ``key``;
        :class:`PartsRefused` (and nothing shown) when they are not that."""
        ...

    def abort_parts(self, key: str, handle: str) -> None:
        """Throw an unfinished file away; nothing happens when it is gone already."""
        ...


# -- a local folder --------------------------------------------------------------------------------------------------
class LocalFolderStore:
    """Files in ``folder`` (the app's default is to be ``<instance>/vault/``), under a two-character
    sub-folder per key so that no folder grows to millions of entries: ``<folder>/<key[:2]>/<key>``. Files are mode
    0600 and folders 0700: readable by the app's user alone. A partial upload is ``.<key>.<random>.part`` in the same
    sub-folder (hidden, and on the same filesystem, so the final rename is atomic); a crash can leave one behind,
    never a final file that is incomplete."""

    min_part_size = 1
    _HANDLE = re.compile(r"[0-9a-f]{16}")

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def path(self, key: str) -> Path:
        check_key(key)
        return self.folder / key[:2] / key

    def put(self, key: str, source: BinaryIO) -> int:
        final = self.path(key)
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        final.parent.mkdir(mode=0o700, exist_ok=True)
        partial = final.parent / f".{key}.{secrets.token_hex(8)}.part"
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        size = 0
        try:
            with os.fdopen(descriptor, "wb") as file:
                while block := source.read(COPY_BLOCK):
                    file.write(block)
                    size += len(block)
                file.flush()
                os.fsync(file.fileno())
            os.replace(partial, final)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                partial.unlink()
            raise
        _fsync_folder(final.parent)
        return size

    def open(self, key: str) -> BinaryIO:
        try:
            return self.path(key).open("rb")
        except FileNotFoundError:
            raise MissingFile(f"no vault file is stored under {key} in {self.folder}") from None

    def open_range(self, key: str, start: int, length: int) -> BinaryIO:
        stored = self.open(key)
        stored.seek(start)
        return cast(BinaryIO, _Slice(stored, length))

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path(key).unlink()

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def size(self, key: str) -> int:
        try:
            return self.path(key).stat().st_size
        except FileNotFoundError:
            raise MissingFile(f"no vault file is stored under {key} in {self.folder}") from None

    def _part_file(self, key: str, handle: str) -> Path:
        if not self._HANDLE.fullmatch(handle):
            raise UnsafeKey(f"not a handle of a local file in parts: {handle!r:.40}")
        return self.path(key).parent / f".{key}.{handle}.parts"

    def start_parts(self, key: str) -> str:
        handle = secrets.token_hex(8)
        partial = self._part_file(key, handle)
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        partial.parent.mkdir(mode=0o700, exist_ok=True)
        os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        return handle

    def put_part(self, key: str, handle: str, number: int, offset: int, source: BinaryIO, size: int) -> None:
        # In place at its offset, never appended: a part written twice (a retried request, even one served by two
        # processes at once) leaves the same bytes in the same place.
        try:
            descriptor = os.open(self._part_file(key, handle), os.O_WRONLY)
        except FileNotFoundError:
            raise PartsRefused("this upload is no longer open: it was aborted or removed as abandoned") from None
        with os.fdopen(descriptor, "wb") as file:
            file.seek(offset)
            missing = size
            while missing:
                block = source.read(min(COPY_BLOCK, missing))
                if not block:
                    raise PartsRefused(f"part {number} ended after {size - missing} of its {size} bytes")
                file.write(block)
                missing -= len(block)
            file.flush()
            os.fsync(file.fileno())

    def finish_parts(self, key: str, handle: str, parts: int, size: int) -> None:
        partial = self._part_file(key, handle)
        try:
            found = partial.stat().st_size
        except FileNotFoundError:
            raise PartsRefused("this upload is no longer open: it was aborted or removed as abandoned") from None
        if found != size:
            raise PartsRefused(f"the parts hold {found} bytes, not the {size} announced")
        os.replace(partial, self.path(key))
        _fsync_folder(partial.parent)

    def abort_parts(self, key: str, handle: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._part_file(key, handle).unlink()


class _Slice(io.RawIOBase):
    """At most ``left`` bytes of an open file from where it stands; closing it closes the file."""

    def __init__(self, stored: BinaryIO, left: int) -> None:
        self.stored = stored
        self.left = left

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        wanted = self.left if size is None or size < 0 else min(size, self.left)
        block = self.stored.read(wanted) if wanted else b""
        self.left -= len(block)
        return block

    def close(self) -> None:
        self.stored.close()
        super().close()


def _fsync_folder(folder: Path) -> None:
    """Make the rename durable: a crash right after must not lose a file the caller was told is stored."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


# -- an S3-compatible object store -----------------------------------------------------------------------------------
class S3Store:
    """Objects ``<prefix><key>`` in ``bucket`` of an S3-compatible store (AWS S3, or another through
    ``endpoint_url``: MinIO, Ceph, a cloud's S3 API; the tests use moto's server on loopback), through boto3.

    A file of fewer than ``part_size`` bytes is one PUT; a larger one a multipart upload of ``part_size`` parts,
    each read, sent and dropped in turn (memory: about one part), completed at the end and aborted on failure, so a
    failed upload leaves no object and no parts billed. Credentials come from the arguments, else boto3's usual
    chain (environment, instance role). ``client`` replaces the boto3 client that would be made (any object with
    the same methods)."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        endpoint_url: str | None = None,
        *,
        region_name: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        part_size: int = S3_DEFAULT_PART,
        client: Any = None,
    ) -> None:
        if not S3_PREFIX_PATTERN.fullmatch(prefix):
            raise ValueError(
                f"S3 prefix {prefix!r}: use folder names of letters, digits, '-' or '_', each ending in '/' "
                "(e.g. 'vault/'), or nothing"
            )
        if part_size < S3_MIN_PART:
            raise ValueError(f"S3 part size {part_size}: S3 takes parts of at least {S3_MIN_PART} bytes")
        self.bucket, self.prefix, self.part_size = bucket, prefix, part_size
        if client is None:
            import boto3  # only where an S3 store is configured: boto3 takes a while to import

            client = boto3.client(
                "s3",
                endpoint_url=endpoint_url,
                region_name=region_name,
                aws_access_key_id=access_key_id,
                aws_secret_access_key=secret_access_key,
            )
        self.client: Any = client

    min_part_size = S3_MIN_PART

    def name(self, key: str) -> str:
        return self.prefix + check_key(key)

    def put(self, key: str, source: BinaryIO) -> int:
        name = self.name(key)
        part = read_exactly(source, self.part_size)
        if len(part) < self.part_size:
            self.client.put_object(Bucket=self.bucket, Key=name, Body=part)
            return len(part)
        upload_id = self.client.create_multipart_upload(Bucket=self.bucket, Key=name)["UploadId"]
        try:
            parts, size = [], 0
            while part:
                number = len(parts) + 1
                answer = self.client.upload_part(
                    Bucket=self.bucket, Key=name, UploadId=upload_id, PartNumber=number, Body=part
                )
                parts.append({"PartNumber": number, "ETag": answer["ETag"]})
                size += len(part)
                del part  # so that the next part is not read while this one is still held
                part = read_exactly(source, self.part_size)
            self.client.complete_multipart_upload(
                Bucket=self.bucket, Key=name, UploadId=upload_id, MultipartUpload={"Parts": parts}
            )
        except BaseException:
            # Best effort: an upload left open is invisible, and a bucket lifecycle rule
            # (AbortIncompleteMultipartUpload) removes its parts should this call fail too.
            with contextlib.suppress(Exception):
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=name, UploadId=upload_id)
            raise
        return size

    def open(self, key: str) -> BinaryIO:
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self.name(key))
        except self.client.exceptions.NoSuchKey:
            raise MissingFile(f"no vault file is stored under {key} in s3://{self.bucket}/{self.prefix}") from None
        return cast(BinaryIO, answer["Body"])

    def open_range(self, key: str, start: int, length: int) -> BinaryIO:
        try:
            answer = self.client.get_object(
                Bucket=self.bucket, Key=self.name(key), Range=f"bytes={start}-{start + length - 1}"
            )
        except self.client.exceptions.NoSuchKey:
            raise MissingFile(f"no vault file is stored under {key} in s3://{self.bucket}/{self.prefix}") from None
        except self.client.exceptions.ClientError as error:
            # A range that starts at or past the end: S3 refuses it (416), where a file read there gives nothing.
            if error.response.get("Error", {}).get("Code") != "InvalidRange":
                raise
            return io.BytesIO(b"")
        return cast(BinaryIO, answer["Body"])

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.name(key))

    def _head(self, key: str) -> dict[str, Any] | None:
        try:
            return self.client.head_object(Bucket=self.bucket, Key=self.name(key))
        except self.client.exceptions.ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise

    def exists(self, key: str) -> bool:
        return self._head(key) is not None

    def size(self, key: str) -> int:
        head = self._head(key)
        if head is None:
            raise MissingFile(f"no vault file is stored under {key} in s3://{self.bucket}/{self.prefix}")
        return int(head["ContentLength"])

    def start_parts(self, key: str) -> str:
        return str(self.client.create_multipart_upload(Bucket=self.bucket, Key=self.name(key))["UploadId"])

    def put_part(self, key: str, handle: str, number: int, offset: int, source: BinaryIO, size: int) -> None:
        # S3 needs each part whole to send it (its length and checksum go first): one part in memory, as put() holds.
        part = read_exactly(source, size)
        if len(part) != size:
            raise PartsRefused(f"part {number} ended after {len(part)} of its {size} bytes")
        try:
            self.client.upload_part(
                Bucket=self.bucket, Key=self.name(key), UploadId=handle, PartNumber=number + 1, Body=part
            )
        except self.client.exceptions.NoSuchUpload:
            raise PartsRefused("this upload is no longer open: it was aborted or removed as abandoned") from None

    def _parts(self, key: str, handle: str) -> list[dict[str, Any]]:
        """Every part of the open upload ``handle``, in order (S3 lists at most 1,000 at a time)."""
        found: list[dict[str, Any]] = []
        marker = 0
        while True:
            try:
                page = self.client.list_parts(
                    Bucket=self.bucket, Key=self.name(key), UploadId=handle, PartNumberMarker=marker
                )
            except self.client.exceptions.NoSuchUpload:
                raise PartsRefused("this upload is no longer open: it was aborted or removed as abandoned") from None
            found.extend(page.get("Parts", []))
            if not page.get("IsTruncated"):
                return found
            marker = int(page["NextPartNumberMarker"])

    def finish_parts(self, key: str, handle: str, parts: int, size: int) -> None:
        listed = self._parts(key, handle)
        numbers = [int(part["PartNumber"]) for part in listed]
        stored = sum(int(part["Size"]) for part in listed)
        if numbers != list(range(1, parts + 1)) or stored != size:
            raise PartsRefused(
                f"the upload holds {len(listed)} part(s) of {stored} bytes, not the {parts} of {size} announced"
            )
        self.client.complete_multipart_upload(
            Bucket=self.bucket,
            Key=self.name(key),
            UploadId=handle,
            MultipartUpload={"Parts": [{"PartNumber": p["PartNumber"], "ETag": p["ETag"]} for p in listed]},
        )

    def abort_parts(self, key: str, handle: str) -> None:
        with contextlib.suppress(self.client.exceptions.NoSuchUpload):
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=self.name(key), UploadId=handle)


# -- the app's store -------------------------------------------------------------------------------------------------
def vault_store(settings: Settings) -> VaultStore:
    """The store ``settings`` name (CLAIMSITE_VAULT_STORE), made once at start (:class:`core.site.Site`): a
    misconfigured S3 store stops the app there, not at the first deposit."""
    if settings.vault_store == "s3":
        if not settings.vault_s3_bucket:
            raise SettingsError(
                "CLAIMSITE_VAULT_STORE is s3 but CLAIMSITE_VAULT_S3_BUCKET is empty: name the bucket, or set "
                "CLAIMSITE_VAULT_STORE=local"
            )
        return S3Store(settings.vault_s3_bucket, settings.vault_s3_prefix, settings.vault_s3_endpoint_url or None)
    return LocalFolderStore(settings.resolved_vault_dir())
