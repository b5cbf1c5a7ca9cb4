"""The vault file format (core/vault/stream_format.py, core/vault/FORMAT.md): files come back whole, any change to
a file is refused with the reason, memory stays bounded, and the fixed test vectors in tests/vault_vectors/ (for
the browser's implementation) are what the code makes.

``.venv/bin/python -m tests.test_vault_format`` writes the vectors again (only after a deliberate change of the
format: the browser's code checks against them).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import struct
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given, settings
from hypothesis import strategies as st

from core.vault.stream_format import (
    HEADER_SIZE,
    MAX_CHUNK_SIZE,
    TAG_SIZE,
    EncryptingReader,
    FixedRandomness,
    VaultFormatError,
    VaultKeyError,
    decrypt_stream,
    encrypt_stream,
    encrypted_size,
    generate_key_pair,
    load_private_pkcs8,
    load_public_raw,
    parse_header,
    private_key_pkcs8,
    public_raw_of,
)

CHUNK = 64
VECTORS = Path(__file__).parent / "vault_vectors" / "v1.json"

PRIVATE, PUBLIC = generate_key_pair()
OTHER_PRIVATE, _ = generate_key_pair()


def plaintext(size: int, seed: bytes = b"") -> bytes:
    """``size`` bytes that differ from chunk to chunk (a swapped chunk changes the result)."""
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(seed + counter.to_bytes(8, "big")).digest()
        counter += 1
    return bytes(out[:size])


def encrypt(data: bytes, chunk_size: int = CHUNK, public_raw: bytes = PUBLIC) -> bytes:
    out = io.BytesIO()
    encrypt_stream(io.BytesIO(data), out, public_raw, chunk_size)
    return out.getvalue()


def decrypt(blob: bytes, private: ec.EllipticCurvePrivateKey = PRIVATE) -> bytes:
    out = io.BytesIO()
    assert decrypt_stream(io.BytesIO(blob), out, private) == len(out.getvalue())
    return out.getvalue()


def split(blob: bytes, chunk_size: int = CHUNK) -> tuple[bytes, list[bytes]]:
    """The header and the encrypted chunks of a vault file."""
    block = chunk_size + TAG_SIZE
    body = blob[HEADER_SIZE:]
    return blob[:HEADER_SIZE], [body[start : start + block] for start in range(0, len(body), block)]


def refused(blob: bytes, private: ec.EllipticCurvePrivateKey = PRIVATE) -> VaultFormatError:
    with pytest.raises(VaultFormatError) as caught:
        decrypt(blob, private)
    return caught.value


def flip(blob: bytes, position: int) -> bytes:
    return blob[:position] + bytes([blob[position] ^ 0x01]) + blob[position + 1 :]


# -- round trips -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK - 1, 3 * CHUNK, 3 * CHUNK + 1])
def test_round_trip(size: int) -> None:
    data = plaintext(size)
    out = io.BytesIO()
    info = encrypt_stream(io.BytesIO(data), out, PUBLIC, CHUNK)
    blob = out.getvalue()
    assert decrypt(blob) == data
    assert (info.size_plain, info.size_cipher) == (size, len(blob))
    assert info.sha256_cipher == hashlib.sha256(blob).hexdigest()
    assert encrypted_size(size, CHUNK) == len(blob)
    # The layout FORMAT.md gives: every chunk but the last is chunk_size + 16 bytes; the last holds the rest, and is
    # empty only for an empty plaintext.
    header, chunks = split(blob)
    assert header[:8] == b"CLVAULT1" and struct.unpack(">I", header[8:12])[0] == CHUNK
    assert len(chunks) == max(1, -(-size // CHUNK))
    assert all(len(chunk) == CHUNK + TAG_SIZE for chunk in chunks[:-1])
    assert len(chunks[-1]) == (size - (len(chunks) - 1) * CHUNK) + TAG_SIZE


def test_two_files_of_the_same_plaintext_differ() -> None:
    """A new ephemeral key, salt and nonce prefix each time: nothing says two files hold the same thing."""
    data = plaintext(300)
    first, second = encrypt(data), encrypt(data)
    assert first[12:] != second[12:] and split(first)[1][0] != split(second)[1][0]


def test_the_default_chunk_size_and_the_largest() -> None:
    data = plaintext(1000)
    assert parse_header(encrypt(data, chunk_size=1 << 20)).chunk_size == 1 << 20
    blob = encrypt(data, chunk_size=MAX_CHUNK_SIZE)
    assert parse_header(blob).chunk_size == MAX_CHUNK_SIZE and decrypt(blob) == data


class Trickle(io.RawIOBase):
    """A stream that gives at most 7 bytes per read, as a pipe or socket may."""

    def __init__(self, data: bytes) -> None:
        self._data, self._at = data, 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        size = 7 if size < 0 else min(size, 7)
        piece = self._data[self._at : self._at + size]
        self._at += len(piece)
        return piece


def test_short_reads_on_either_side_change_nothing() -> None:
    data = plaintext(5 * CHUNK + 3)
    out = io.BytesIO()
    encrypt_stream(Trickle(data), out, PUBLIC, CHUNK)  # type: ignore[arg-type]
    plain = io.BytesIO()
    decrypt_stream(Trickle(out.getvalue()), plain, PRIVATE)  # type: ignore[arg-type]
    assert plain.getvalue() == data


@settings(max_examples=200, derandomize=True, deadline=None)
@given(data=st.binary(max_size=2000), chunk_size=st.integers(min_value=1, max_value=300))
def test_any_plaintext_in_any_chunk_size_comes_back(data: bytes, chunk_size: int) -> None:
    blob = encrypt(data, chunk_size)
    assert len(blob) == encrypted_size(len(data), chunk_size)
    assert decrypt(blob) == data


@settings(max_examples=200, derandomize=True, deadline=None)
@given(size=st.integers(min_value=0, max_value=400), where=st.floats(min_value=0, max_value=1, exclude_max=True))
def test_any_flipped_byte_is_refused(size: int, where: float) -> None:
    blob = encrypt(plaintext(size), 32)
    refused(flip(blob, int(where * len(blob))))


def test_a_reader_gives_the_same_file_to_whoever_reads_it() -> None:
    """EncryptingReader: the vault file pulled in reads of any size (as a store's put reads its source)."""
    data = plaintext(5 * CHUNK + 7)
    reader = EncryptingReader(io.BytesIO(data), PUBLIC, CHUNK)
    with pytest.raises(RuntimeError, match="not read to its end"):
        reader.info  # noqa: B018
    pieces = []
    while piece := reader.read(13):
        assert len(piece) <= 13
        pieces.append(piece)
    blob = b"".join(pieces)
    assert decrypt(blob) == data
    assert reader.info.size_plain == len(data) and reader.info.size_cipher == len(blob)
    assert reader.info.sha256_cipher == hashlib.sha256(blob).hexdigest()
    assert reader.read(13) == b""
    with pytest.raises(VaultKeyError):
        EncryptingReader(io.BytesIO(data), b"\x04" * 65)  # the key is checked at once, not at the first read


# -- every kind of change refused, with its reason -------------------------------------------------------------------
THREE = plaintext(3 * CHUNK + 10)  # four chunks: three full ones and a short last one


@pytest.mark.parametrize(
    ("position", "reason"),
    [
        (0, "bad_magic"),
        (7, "bad_magic"),
        (8, "bad_header"),  # the chunk size's top byte: 16 MiB + 64
        (11, "wrong_key_or_damaged"),  # 65 instead of 64: a legal size, so every chunk is read at the wrong place
        (12, "bad_header"),  # the ephemeral key's 0x04 (uncompressed point) prefix
        (40, "bad_header"),  # its X: no longer a point on the curve
        (80, "wrong_key_or_damaged"),  # the salt: another key
        (95, "wrong_key_or_damaged"),  # the nonce prefix
    ],
)
def test_a_flipped_byte_in_the_header_is_refused(position: int, reason: str) -> None:
    assert refused(flip(encrypt(THREE), position)).reason == reason


@pytest.mark.parametrize(
    ("chunk", "offset", "reason"),
    [
        (0, 5, "wrong_key_or_damaged"),
        (1, 5, "damaged_chunk"),
        (1, CHUNK + 3, "damaged_chunk"),  # in the tag
        (3, 0, "damaged_chunk"),  # the short last chunk
        (3, 10 + TAG_SIZE - 1, "damaged_chunk"),  # the last byte of the file: the last tag
    ],
)
def test_a_flipped_byte_in_a_chunk_or_its_tag_is_refused(chunk: int, offset: int, reason: str) -> None:
    blob = encrypt(THREE)
    error = refused(flip(blob, HEADER_SIZE + chunk * (CHUNK + TAG_SIZE) + offset))
    assert error.reason == reason
    assert error.written == chunk * CHUNK  # what came before the bad chunk is out already: the caller discards it


@pytest.mark.parametrize(("dropped", "reason"), [(0, "reordered"), (1, "reordered"), (3, "truncated")])
def test_a_dropped_chunk_is_refused(dropped: int, reason: str) -> None:
    header, chunks = split(encrypt(THREE))
    del chunks[dropped]
    assert refused(header + b"".join(chunks)).reason == reason


@pytest.mark.parametrize(
    ("first", "second", "reason"),
    [
        (0, 1, "reordered"),
        (1, 2, "reordered"),
        # The short last chunk moved forward: the blocks read from there on straddle two chunks.
        (2, 3, "damaged_chunk"),
        (0, 3, "wrong_key_or_damaged"),
    ],
)
def test_swapped_chunks_are_refused(first: int, second: int, reason: str) -> None:
    header, chunks = split(encrypt(THREE))
    chunks[first], chunks[second] = chunks[second], chunks[first]
    assert refused(header + b"".join(chunks)).reason == reason


@pytest.mark.parametrize(
    ("size", "reason"),
    [
        (2 * CHUNK, "appended"),  # ends on a chunk boundary: the last chunk opens as the last, with data after it
        (len(THREE), "damaged_chunk"),  # ends on a short chunk: what follows is read as part of it
    ],
)
@pytest.mark.parametrize("extra", ["last chunk again", "first chunk again", "one byte", "a tag's worth"])
def test_anything_appended_is_refused(size: int, reason: str, extra: str) -> None:
    blob = encrypt(plaintext(size))
    _, chunks = split(blob)
    tail = {
        "last chunk again": chunks[-1],
        "first chunk again": chunks[0],
        "one byte": b"\0",
        "a tag's worth": b"\0" * 16,
    }
    error = refused(blob + tail[extra])
    assert error.reason == reason
    assert error.written == (size // CHUNK - (size % CHUNK == 0)) * CHUNK


@pytest.mark.parametrize(
    ("length", "reason"),
    [
        (0, "bad_magic"),
        (5, "bad_magic"),
        (50, "bad_header"),
        (HEADER_SIZE, "truncated"),  # the header alone
        (HEADER_SIZE + 3, "truncated"),  # less than a tag
        (HEADER_SIZE + (CHUNK + TAG_SIZE), "truncated"),  # exactly after the first chunk
        (HEADER_SIZE + 3 * (CHUNK + TAG_SIZE), "truncated"),  # exactly after the third (the last full one)
        (HEADER_SIZE + (CHUNK + TAG_SIZE) + 40, "damaged_chunk"),  # inside the second chunk
        (HEADER_SIZE + 3 * (CHUNK + TAG_SIZE) + 20, "damaged_chunk"),  # inside the short last chunk
    ],
)
def test_a_cut_file_is_refused(length: int, reason: str) -> None:
    blob = encrypt(THREE)
    assert length < len(blob)
    assert refused(blob[:length]).reason == reason


def test_a_file_cut_after_a_full_last_chunk_boundary_is_refused() -> None:
    """A plaintext of exactly two chunks, cut after its first: what is left looks whole but for the final flag."""
    blob = encrypt(plaintext(2 * CHUNK))
    assert refused(blob[: HEADER_SIZE + CHUNK + TAG_SIZE]).reason == "truncated"


def test_another_key_opens_nothing() -> None:
    error = refused(encrypt(THREE), OTHER_PRIVATE)
    assert error.reason == "wrong_key_or_damaged" and error.written == 0
    assert "another key" in str(error)


@pytest.mark.parametrize("chunk_size", [0, MAX_CHUNK_SIZE + 1, 2**32 - 1])
def test_a_header_with_an_impossible_chunk_size_is_refused(chunk_size: int) -> None:
    blob = bytearray(encrypt(THREE))
    blob[8:12] = struct.pack(">I", chunk_size)
    error = refused(bytes(blob))
    assert error.reason == "bad_header" and str(chunk_size) in str(error)


def test_the_writer_refuses_impossible_chunk_sizes_and_keys() -> None:
    for chunk_size in (0, MAX_CHUNK_SIZE + 1):
        with pytest.raises(ValueError, match="chunk_size"):
            encrypt(b"x", chunk_size)
    compressed = PRIVATE.public_key().public_bytes(Encoding.X962, PublicFormat.CompressedPoint)
    for bad in (b"", compressed, b"\x04" + b"\x01" * 64):
        with pytest.raises(VaultKeyError):
            encrypt(b"x", public_raw=bad)


def test_keys_travel_as_raw_points_and_pkcs8() -> None:
    assert len(PUBLIC) == 65 and PUBLIC[0] == 4
    assert public_raw_of(load_private_pkcs8(private_key_pkcs8(PRIVATE))) == PUBLIC
    assert load_public_raw(PUBLIC).public_numbers() == PRIVATE.public_key().public_numbers()
    with pytest.raises(VaultKeyError):
        load_private_pkcs8(b"not a key")


# -- memory ----------------------------------------------------------------------------------------------------------
class Generated(io.RawIOBase):
    """``size`` bytes made as they are read (never held whole)."""

    def __init__(self, size: int) -> None:
        self._left = size

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        size = self._left if size < 0 else min(size, self._left)
        self._left -= size
        return b"\xab" * size


class Discard(io.RawIOBase):
    """A sink that keeps the count and SHA-256 of what it got."""

    def __init__(self) -> None:
        self.size, self.sha256 = 0, hashlib.sha256()

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.size += len(data)
        self.sha256.update(data)
        return len(data)


def test_memory_stays_within_a_few_chunks() -> None:
    size, chunk_size = 24 << 20, 1 << 20
    with io.BytesIO() as blob:
        tracemalloc.start()
        try:
            encrypt_stream(Generated(size), blob, PUBLIC, chunk_size)  # type: ignore[arg-type]
            tracemalloc.reset_peak()
            base = tracemalloc.get_traced_memory()[0]  # the encrypted file itself, held in blob
            blob.seek(0)
            sink = Discard()
            assert decrypt_stream(blob, sink, PRIVATE) == size  # type: ignore[arg-type]
            peak = tracemalloc.get_traced_memory()[1] - base
        finally:
            tracemalloc.stop()
    assert sink.sha256.hexdigest() == hashlib.sha256(b"\xab" * size).hexdigest()
    assert peak < 5 * chunk_size, f"decrypting {size} bytes peaked at {peak} bytes"


def test_memory_of_encrypting_stays_within_a_few_chunks() -> None:
    size, chunk_size = 24 << 20, 1 << 20
    sink = Discard()
    tracemalloc.start()
    try:
        info = encrypt_stream(Generated(size), sink, PUBLIC, chunk_size)  # type: ignore[arg-type]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert info.size_cipher == sink.size == encrypted_size(size, chunk_size)
    assert peak < 5 * chunk_size, f"encrypting {size} bytes peaked at {peak} bytes"


# -- test vectors for the browser ------------------------------------------------------------------------------------
def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def fixed_private(label: str) -> ec.EllipticCurvePrivateKey:
    """A P-256 private key made from ``label`` (the same every run)."""
    scalar = int.from_bytes(hashlib.sha256(b"claimsite vault vector " + label.encode()).digest(), "big")
    return ec.derive_private_key(scalar % (P256_ORDER - 1) + 1, ec.SECP256R1())


VECTOR_FILES = [
    ("empty", 64, b""),
    ("one byte", 64, b"\x00"),
    ("a chunk less one", 64, plaintext(63, b"vector")),
    ("one chunk", 64, plaintext(64, b"vector")),
    ("a chunk and one", 64, plaintext(65, b"vector")),
    ("four chunks", 64, plaintext(3 * 64 + 10, b"vector")),
    ("two full chunks", 16, b"Hallo kluis! :-)Hello vault! :-)"),
    ("text, chunks of 1", 1, "Kluis ✓".encode()),
    ("default chunk size", 1 << 20, b"Je gegevens van Meta, alleen voor jou.\n"),
]


def build_vectors() -> dict[str, Any]:
    recipient, other = fixed_private("recipient"), fixed_private("other")
    files = []
    for name, chunk_size, data in VECTOR_FILES:
        ephemeral = fixed_private("ephemeral " + name)
        seed = hashlib.sha256(b"claimsite vault vector randomness " + name.encode()).digest()
        randomness = FixedRandomness(ephemeral, seed[:16], seed[16:23])
        out = io.BytesIO()
        info = encrypt_stream(io.BytesIO(data), out, public_raw_of(recipient), chunk_size, _test_randomness=randomness)
        files.append(
            {
                "name": name,
                "chunk_size": chunk_size,
                "plaintext": b64url(data),
                "ephemeral_private_pkcs8": b64url(private_key_pkcs8(ephemeral)),
                "salt": b64url(randomness.salt),
                "nonce_prefix": b64url(randomness.nonce_prefix),
                "encrypted": b64url(out.getvalue()),
                "sha256_encrypted": info.sha256_cipher,
            }
        )
    source = unb64url(next(file["encrypted"] for file in files if file["name"] == "four chunks"))
    header, chunks = split(source, 64)
    full = unb64url(next(file["encrypted"] for file in files if file["name"] == "two full chunks"))
    refusals = {
        "the third chunk dropped": header + chunks[0] + chunks[1] + chunks[3],
        "the last chunk dropped": header + b"".join(chunks[:3]),
        "the first two chunks swapped": header + chunks[1] + chunks[0] + b"".join(chunks[2:]),
        "the last chunk appended again": source + chunks[3],
        "cut inside the last chunk": source[:-5],
        "a byte of the second chunk's tag flipped": flip(source, HEADER_SIZE + 64 + TAG_SIZE + 64 + 2),
        "a byte of the salt flipped": flip(source, 80),
        "chunk size 0 in the header": header[:8] + bytes(4) + header[12:] + b"".join(chunks),
        "'two full chunks' with its last chunk appended again": full + full[-(16 + TAG_SIZE) :],
    }
    reasons = {
        "the third chunk dropped": "reordered",
        "the last chunk dropped": "truncated",
        "the first two chunks swapped": "reordered",
        "the last chunk appended again": "damaged_chunk",
        "cut inside the last chunk": "damaged_chunk",
        "a byte of the second chunk's tag flipped": "damaged_chunk",
        "a byte of the salt flipped": "wrong_key_or_damaged",
        "chunk size 0 in the header": "bad_header",
        "'two full chunks' with its last chunk appended again": "appended",
    }
    return {
        "about": (
            "Test vectors of the claimsite vault file format v1 (core/vault/FORMAT.md), made by "
            "tests/test_vault_format.py with fixed randomness. Byte strings are base64url without padding. Every "
            "'files' entry decrypts with recipient_private_pkcs8 to its plaintext, and encrypting the plaintext "
            "with its ephemeral key, salt and nonce prefix gives 'encrypted' exactly. Every 'refused' entry must be "
            "refused whole ('reason' is what the Python reader says; the format only requires refusal), and "
            "'four chunks' must be refused with other_private_pkcs8."
        ),
        "recipient_private_pkcs8": b64url(private_key_pkcs8(recipient)),
        "recipient_public_raw": b64url(public_raw_of(recipient)),
        "other_private_pkcs8": b64url(private_key_pkcs8(other)),
        "files": files,
        "refused": [
            {"name": name, "encrypted": b64url(blob), "reason": reasons[name]} for name, blob in refusals.items()
        ],
    }


def vectors_text() -> str:
    return json.dumps(build_vectors(), indent=1, ensure_ascii=False) + "\n"


def test_the_vectors_are_what_the_code_makes() -> None:
    assert VECTORS.read_text(encoding="utf-8") == vectors_text(), (
        "tests/vault_vectors/v1.json differs from what the code makes: if the format changed on purpose, write "
        "it again with .venv/bin/python -m tests.test_vault_format, and tell the browser's side"
    )


def test_the_vectors_open_and_refuse_as_they_say() -> None:
    vectors = json.loads(VECTORS.read_text(encoding="utf-8"))
    recipient = load_private_pkcs8(unb64url(vectors["recipient_private_pkcs8"]))
    other = load_private_pkcs8(unb64url(vectors["other_private_pkcs8"]))
    assert public_raw_of(recipient) == unb64url(vectors["recipient_public_raw"])
    for file in vectors["files"]:
        blob = unb64url(file["encrypted"])
        assert decrypt(blob, recipient) == unb64url(file["plaintext"]), file["name"]
        assert hashlib.sha256(blob).hexdigest() == file["sha256_encrypted"]
        assert parse_header(blob).chunk_size == file["chunk_size"]
        if file["name"] == "four chunks":
            assert refused(blob, other).reason == "wrong_key_or_damaged"
    assert len(vectors["refused"]) == 9
    for case in vectors["refused"]:
        assert refused(unb64url(case["encrypted"]), recipient).reason == case["reason"], case["name"]


def test_a_reader_written_from_format_md_alone_opens_the_vectors() -> None:
    """FORMAT.md read literally, with no code of core.vault: the vectors follow the contract, not just the code."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    vectors = json.loads(VECTORS.read_text(encoding="utf-8"))
    private = serialization.load_der_private_key(unb64url(vectors["recipient_private_pkcs8"]), None)
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    recipient_raw = private.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    for file in vectors["files"]:
        blob = unb64url(file["encrypted"])
        assert blob[0:8] == b"CLVAULT1"
        chunk_size = int.from_bytes(blob[8:12], "big")
        ephemeral_raw, salt, nonce_prefix = blob[12:77], blob[77:93], blob[93:100]
        ephemeral = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), ephemeral_raw)
        shared = private.exchange(ec.ECDH(), ephemeral)
        info = b"claimsite vault v1" + ephemeral_raw + recipient_raw
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(shared)
        body = blob[100:]
        chunks = [body[at : at + chunk_size + 16] for at in range(0, len(body), chunk_size + 16)]
        plain = b"".join(
            AESGCM(key).decrypt(
                nonce_prefix + index.to_bytes(4, "big") + (b"\x01" if index == len(chunks) - 1 else b"\x00"),
                chunk,
                blob[:100],
            )
            for index, chunk in enumerate(chunks)
        )
        assert plain == unb64url(file["plaintext"]), file["name"]


if __name__ == "__main__":
    VECTORS.parent.mkdir(exist_ok=True)
    VECTORS.write_text(vectors_text(), encoding="utf-8")
    print(f"wrote {VECTORS}")


def test_an_empty_last_chunk_after_others_is_refused_though_authentic() -> None:
    """FORMAT.md: the last chunk is empty only when the whole file is. A file made for the key that ends with an
    empty chunk after a full one (no writer makes one) is refused here as the browser's reader refuses it."""
    from cryptography.hazmat.primitives.asymmetric import ec

    from core.vault.stream_format import FLAG_FINAL, FLAG_MORE, _file_key, _nonce, load_public_raw, parse_header

    private, public = generate_key_pair()
    made = io.BytesIO()
    encrypt_stream(io.BytesIO(b"x" * 64), made, public, chunk_size=64)
    data = made.getvalue()
    header = parse_header(data[:HEADER_SIZE])
    shared = private.exchange(ec.ECDH(), load_public_raw(header.ephemeral_raw))
    aead = _file_key(shared, header, public)
    plain = aead.decrypt(_nonce(header, 0, FLAG_FINAL), data[HEADER_SIZE:], header.raw)
    forged = (
        data[:HEADER_SIZE]
        + aead.encrypt(_nonce(header, 0, FLAG_MORE), plain, header.raw)
        + aead.encrypt(_nonce(header, 1, FLAG_FINAL), b"", header.raw)
    )
    with pytest.raises(VaultFormatError) as refused:
        decrypt_stream(io.BytesIO(forged), io.BytesIO(), private)
    assert refused.value.reason == "appended"
