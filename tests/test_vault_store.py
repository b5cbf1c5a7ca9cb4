"""The vault's file stores (core/vault/store.py): every test runs against the local folder and against S3 (moto's
server on loopback, in a process of its own: tests/s3_server.py). Files come back whole, stream through in bounded
memory, show only once whole, and keys that could name another place are refused."""

from __future__ import annotations

import hashlib
import io
import itertools
import os
import stat
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.vault.store import (
    S3_MIN_PART,
    LocalFolderStore,
    MissingFile,
    PartsRefused,
    S3Store,
    UnsafeKey,
    VaultStore,
    check_key,
    new_key,
)
from core.vault.stream_format import EncryptingReader, decrypt_stream, generate_key_pair
from tests.s3_server import ACCESS_KEY, REGION, SECRET_KEY, S3Server

MiB = 1 << 20
_buckets = itertools.count()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    with S3Server() as server:
        yield server


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[VaultStore]:
    if request.param == "local":
        yield LocalFolderStore(tmp_path / "vault")
        return
    server: S3Server = request.getfixturevalue("s3_server")
    bucket = f"claimsite-vault-{os.getpid()}-{next(_buckets)}"
    server.client().create_bucket(Bucket=bucket)
    yield S3Store(
        bucket,
        "vault/",
        server.url,
        region_name=REGION,
        access_key_id=ACCESS_KEY,
        secret_access_key=SECRET_KEY,
        part_size=S3_MIN_PART,
    )


def everything_stored(store: VaultStore) -> list[str]:
    """Every file or object the store holds, partial ones and unfinished uploads included."""
    if isinstance(store, LocalFolderStore):
        if not store.folder.exists():
            return []
        return sorted(str(path.relative_to(store.folder)) for path in store.folder.rglob("*") if path.is_file())
    assert isinstance(store, S3Store)
    objects = store.client.list_objects_v2(Bucket=store.bucket).get("Contents", [])
    uploads = store.client.list_multipart_uploads(Bucket=store.bucket).get("Uploads", [])
    return sorted([item["Key"] for item in objects] + [f"upload of {item['Key']}" for item in uploads])


class Generated(io.RawIOBase):
    """``size`` bytes made as they are read, never held whole: a pattern of a prime length, so that no part or
    block boundary lines up with its repeats (a part stored twice or out of order changes the SHA-256). Raises
    ``fail_at`` bytes in, when given (a connection that drops)."""

    PATTERN = hashlib.shake_256(b"claimsite vault store").digest(1_000_003)

    def __init__(self, size: int, fail_at: int | None = None) -> None:
        self.size, self.fail_at, self.at = size, fail_at, 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self.fail_at is not None and self.at >= self.fail_at:
            raise OSError("the source failed midway (a test)")
        end = self.size if size < 0 else min(self.size, self.at + size)
        if self.fail_at is not None:
            end = min(end, max(self.fail_at, self.at + 1))
        out = bytearray()
        while self.at < end:
            offset = self.at % len(self.PATTERN)
            piece = self.PATTERN[offset : offset + end - self.at]
            out += piece
            self.at += len(piece)
        return bytes(out)

    @classmethod
    def sha256(cls, size: int) -> str:
        digest, source = hashlib.sha256(), cls(size)
        while block := source.read(MiB):
            digest.update(block)
        return digest.hexdigest()


def read_all(store: VaultStore, key: str) -> bytes:
    with store.open(key) as file:
        return file.read()


# -- the interface ---------------------------------------------------------------------------------------------------
def test_a_file_goes_in_comes_back_and_goes(store: VaultStore) -> None:
    key = new_key()
    data = Generated(300_000).read()
    assert not store.exists(key)
    assert store.put(key, io.BytesIO(data)) == len(data)
    assert store.exists(key) and store.size(key) == len(data)
    assert read_all(store, key) == data
    store.delete(key)
    assert not store.exists(key)
    with pytest.raises(MissingFile):
        store.open(key)
    with pytest.raises(MissingFile):
        store.size(key)
    store.delete(key)  # a second erasure finds nothing and says nothing
    assert everything_stored(store) == []


def test_an_empty_file_and_a_replaced_one(store: VaultStore) -> None:
    key, other = new_key(), new_key()
    assert store.put(key, io.BytesIO(b"")) == 0
    assert store.exists(key) and store.size(key) == 0 and read_all(store, key) == b""
    store.put(other, io.BytesIO(b"first"))
    store.put(other, io.BytesIO(b"second, longer"))
    assert read_all(store, other) == b"second, longer"
    assert read_all(store, key) == b""


def test_files_are_kept_under_their_key_alone(store: VaultStore) -> None:
    key = new_key()
    store.put(key, io.BytesIO(b"x"))
    if isinstance(store, LocalFolderStore):
        assert everything_stored(store) == [f"{key[:2]}/{key}"]
    else:
        assert everything_stored(store) == [f"vault/{key}"]


def test_a_large_file_streams_through_in_bounded_memory(store: VaultStore) -> None:
    """50 MB in and out; Python's allocations peak far below that (the S3 store holds about one 5 MiB part)."""
    size, key = 50_000_000, new_key()
    tracemalloc.start()
    try:
        assert store.put(key, Generated(size)) == size  # type: ignore[arg-type]
        put_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        digest, total = hashlib.sha256(), 0
        with store.open(key) as file:
            while block := file.read(MiB):
                digest.update(block)
                total += len(block)
        open_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert total == size == store.size(key)
    assert digest.hexdigest() == Generated.sha256(size)
    assert put_peak < 16 * MiB, f"storing {size} bytes peaked at {put_peak / MiB:.1f} MiB"
    assert open_peak < 8 * MiB, f"reading {size} bytes back peaked at {open_peak / MiB:.1f} MiB"


@pytest.mark.parametrize("fail_at", [1000, S3_MIN_PART + 1000, 3 * S3_MIN_PART])
def test_a_failed_upload_leaves_nothing_visible(store: VaultStore, fail_at: int) -> None:
    """Failing within the first part (one PUT on S3), and after one or more parts of a multipart upload."""
    key = new_key()
    with pytest.raises(OSError, match="failed midway"):
        store.put(key, Generated(4 * S3_MIN_PART, fail_at=fail_at))  # type: ignore[arg-type]
    assert not store.exists(key)
    assert everything_stored(store) == []


def test_a_failed_upload_keeps_what_was_stored_before(store: VaultStore) -> None:
    key = new_key()
    store.put(key, io.BytesIO(b"the whole earlier file"))
    with pytest.raises(OSError, match="failed midway"):
        store.put(key, Generated(2 * S3_MIN_PART, fail_at=S3_MIN_PART + 10))  # type: ignore[arg-type]
    assert read_all(store, key) == b"the whole earlier file"
    assert len(everything_stored(store)) == 1


def test_a_file_encrypted_on_the_way_in_opens_on_the_way_out(store: VaultStore) -> None:
    """The vault's pipeline: plaintext -> EncryptingReader -> put; open -> decrypt_stream, nothing in between."""
    private, public = generate_key_pair()
    size, key = 3 * MiB + 5, new_key()
    reader = EncryptingReader(Generated(size), public, 64 * 1024)  # type: ignore[arg-type]
    assert store.put(key, reader) == reader.info.size_cipher == store.size(key)
    with store.open(key) as stored:
        assert hashlib.sha256(stored.read()).hexdigest() == reader.info.sha256_cipher
    plain = io.BytesIO()
    with store.open(key) as stored:
        assert decrypt_stream(stored, plain, private) == size
    assert hashlib.sha256(plain.getvalue()).hexdigest() == Generated.sha256(size)


UNSAFE_KEYS = [
    "",
    "..",
    "../../etc/passwd",
    "0123456789abcdef0123/../x",
    "0123456789abcdef0123/x",
    "/0123456789abcdef0123",
    "0123456789abcdef0123\x00",
    "0123456789ABCDEF0123",  # capitals: one file or two on a case-insensitive disk
    "jan.jansen@example.org",
    "0123456789abcdef012",  # 19 characters: too short to be random enough
    "a" * 65,
    " 0123456789abcdef0123",
    "0123456789abcdef0123\n",
]


def test_a_file_written_in_parts_shows_only_once_finished_and_a_part_written_twice_counts_once(
    store: VaultStore,
) -> None:
    """The console's upload: numbered parts, each from another request (a store object of its own each time here,
    as another process would make it), a retried part replaced in place, the file shown only when finished."""
    key, part = new_key(), max(store.min_part_size, MiB)
    size = 2 * part + 12_345
    content = Generated(size).read()
    handle = store.start_parts(key)
    for number in (0, 0, 1, 2, 2):  # parts 0 and 2 sent twice (their answers lost)
        begin = number * part
        store.put_part(
            key, handle, number, begin, io.BytesIO(content[begin : begin + part]), len(content[begin:][:part])
        )
        assert not store.exists(key)
    with pytest.raises(PartsRefused, match=f"not the .*{size + 1} announced"):
        store.finish_parts(key, handle, 3, size + 1)
    assert not store.exists(key)
    store.finish_parts(key, handle, 3, size)
    assert read_all(store, key) == content and store.size(key) == size
    assert everything_stored(store) == [f"{key[:2]}/{key}" if isinstance(store, LocalFolderStore) else f"vault/{key}"]


def test_a_part_cut_short_or_sent_after_an_abort_is_refused_and_an_abort_leaves_nothing(store: VaultStore) -> None:
    key, part = new_key(), max(store.min_part_size, MiB)
    handle = store.start_parts(key)
    with pytest.raises(PartsRefused, match="ended after 10 of its"):
        store.put_part(key, handle, 0, 0, io.BytesIO(b"0123456789"), part)
    store.put_part(key, handle, 0, 0, io.BytesIO(b"x" * part), part)
    assert everything_stored(store) != []
    store.abort_parts(key, handle)
    store.abort_parts(key, handle)  # twice: nothing happens
    assert everything_stored(store) == [] and not store.exists(key)
    if isinstance(store, LocalFolderStore):  # moto answers a part of an aborted upload with a 500, not NoSuchUpload
        with pytest.raises(PartsRefused, match="no longer open"):
            store.put_part(key, handle, 1, part, io.BytesIO(b"y"), 1)
    with pytest.raises(PartsRefused, match="no longer open"):
        store.finish_parts(key, handle, 1, part)


@pytest.mark.parametrize("key", UNSAFE_KEYS)
def test_unsafe_keys_are_refused_by_every_method(store: VaultStore, key: str) -> None:
    with pytest.raises(UnsafeKey):
        store.put(key, io.BytesIO(b"x"))
    for method in (store.open, store.delete, store.exists, store.size):
        with pytest.raises(UnsafeKey):
            method(key)
    assert everything_stored(store) == []


# -- each store's own ------------------------------------------------------------------------------------------------
def test_local_files_are_for_the_owner_alone(tmp_path: Path) -> None:
    store = LocalFolderStore(tmp_path / "vault")
    key = new_key()
    store.put(key, io.BytesIO(b"ciphertext"))
    path = store.path(key)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(store.folder.stat().st_mode) == 0o700
    assert store.path(key) == tmp_path / "vault" / key[:2] / key


@pytest.mark.parametrize("prefix", ["vault", "/vault/", "../vault/", "va ult/", "vault//"])
def test_an_s3_prefix_that_is_no_folder_is_refused(prefix: str) -> None:
    with pytest.raises(ValueError, match="prefix"):
        S3Store("bucket", prefix, client=object())


def test_an_s3_part_below_five_mib_is_refused() -> None:
    with pytest.raises(ValueError, match="part size"):
        S3Store("bucket", "", client=object(), part_size=S3_MIN_PART - 1)


def test_new_keys_are_random_and_pass_their_own_check() -> None:
    keys = {new_key() for _ in range(1000)}
    assert len(keys) == 1000
    assert all(check_key(key) == key and len(key) == 32 for key in keys)


def test_a_missing_file_error_names_the_key_and_the_place(tmp_path: Path) -> None:
    key = new_key()
    with pytest.raises(MissingFile, match=key) as caught:
        LocalFolderStore(tmp_path).open(key)
    assert str(tmp_path) in str(caught.value)


@pytest.mark.parametrize(
    ("start", "length", "expected"),
    [(0, 10, range(0, 10)), (100, 50, range(100, 150)), (990, 50, range(990, 1000)), (1000, 5, range(0, 0))],
    ids=["start", "middle", "end", "past-the-end"],
)
def test_a_range_of_a_file_comes_back_alone(store: VaultStore, start: int, length: int, expected: range) -> None:
    content = bytes(i % 251 for i in range(1000))
    key = new_key()
    store.put(key, io.BytesIO(content))
    with store.open_range(key, start, length) as stored:
        assert stored.read() == content[expected.start : expected.stop]


def test_a_range_of_a_missing_file_is_missing(store: VaultStore) -> None:
    with pytest.raises(MissingFile):
        store.open_range(new_key(), 0, 10)
