"""The vault file format, version 1 (``core/vault/FORMAT.md``, the contract with the browser's JavaScript):
encrypting a file to one recipient's public key, and decrypting it, as streams.

Why this shape: a company's answer may be gigabytes, and the browser that opens it has Web Crypto alone (no
streaming AEAD, no X25519 everywhere, no third-party script). So the file is an ephemeral ECDH P-256 key agreement,
HKDF-SHA256 and AES-256-GCM over fixed-size chunks, each chunk's nonce carrying its index and a final-chunk flag
and each authenticated with the whole header: a chunk dropped, moved, added after the end or cut away fails to
open, and memory holds a couple of chunks whatever the file's size.

Both ends hold at most two chunks of input and one of output: the writer reads one chunk ahead to know which chunk
is the last (the flag goes into the nonce), the reader reads one chunk ahead for the same reason.

A decrypting reader has written the chunks before a bad one by the time it finds it: :class:`VaultFormatError`
says how many bytes (``written``), and whoever gave ``out`` must throw those away (a file half written is no
answer to show anyone).
"""

from __future__ import annotations

import hashlib
import io
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, Literal

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MAGIC = b"CLVAULT1"
HEADER_SIZE = 100
POINT_SIZE = 65  # an uncompressed P-256 point: 0x04 || X || Y, as Web Crypto's exportKey("raw") gives it
SALT_SIZE = 16
NONCE_PREFIX_SIZE = 7
TAG_SIZE = 16
DEFAULT_CHUNK_SIZE = 1 << 20
MAX_CHUNK_SIZE = 16 << 20
MAX_CHUNKS = 2**32 - 1  # the chunk index is a u32 in the nonce
HKDF_INFO = b"claimsite vault v1"
FLAG_MORE, FLAG_FINAL = 0x00, 0x01
_HEADER = struct.Struct(f">8sI{POINT_SIZE}s{SALT_SIZE}s{NONCE_PREFIX_SIZE}s")
assert _HEADER.size == HEADER_SIZE

# When a chunk fails to open, the reader tries it under these many indexes on either side of where it stands, to
# tell a moved or missing chunk from a damaged one (only after a failure: a sound file never pays for it).
_DIAGNOSIS_WINDOW = 8

Reason = Literal[
    "bad_magic",  # not a vault file (or another version)
    "bad_header",  # the header is cut short or holds an impossible value
    "wrong_key_or_damaged",  # the first chunk opens under no index: another recipient's file, or it is damaged
    "damaged_chunk",  # a chunk does not open: flipped bytes, the file cut inside a chunk, or one of the changes
    # above where the last chunk is short (its end is no chunk boundary, so the reader cannot tell which)
    "truncated",  # the file ends after a chunk that is not the last one
    "appended",  # data follows the last chunk
    "reordered",  # a chunk stands where another should: chunks dropped, swapped or repeated
    "too_many_chunks",  # more chunks than a u32 index counts
]


class VaultFormatError(Exception):
    """A vault file cannot be read (or a plaintext cannot be written): ``reason`` is one of :data:`Reason`, the
    message says what and where for a person; ``written`` is how many plaintext bytes were already written to the
    output, which the caller must discard."""

    def __init__(self, reason: Reason, message: str, written: int = 0) -> None:
        super().__init__(message)
        self.reason: Reason = reason
        self.written = written


class VaultKeyError(ValueError):
    """A key given to this module is not a P-256 key in the expected encoding."""


@dataclass(frozen=True)
class EncryptedInfo:
    """What :func:`encrypt_stream` wrote: the plaintext's size, the encrypted file's size and its SHA-256 (hex), to
    record beside the stored file and check it by later."""

    size_plain: int
    size_cipher: int
    sha256_cipher: str


@dataclass(frozen=True)
class Header:
    """The 100 bytes at the start of a vault file, parsed."""

    chunk_size: int
    ephemeral_raw: bytes
    salt: bytes
    nonce_prefix: bytes
    raw: bytes


@dataclass(frozen=True)
class FixedRandomness:
    """The random parts of a file, fixed: for the interoperability test vectors only (never in production: a nonce
    prefix or ephemeral key used twice would reuse AES-GCM nonces under one key)."""

    ephemeral_private: ec.EllipticCurvePrivateKey
    salt: bytes
    nonce_prefix: bytes


# -- keys ------------------------------------------------------------------------------------------------------------
def generate_key_pair() -> tuple[ec.EllipticCurvePrivateKey, bytes]:
    """A new recipient key pair: the private key and its public key as the 65-byte raw point."""
    private = ec.generate_private_key(ec.SECP256R1())
    return private, public_raw_of(private)


def public_raw_of(private: ec.EllipticCurvePrivateKey) -> bytes:
    """The 65-byte raw point of ``private``'s public key (what Web Crypto's ``exportKey("raw")`` gives)."""
    return private.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


def load_public_raw(raw: bytes) -> ec.EllipticCurvePublicKey:
    """A public key from its 65-byte raw point; :class:`VaultKeyError` for anything else (a compressed point, a
    point not on the curve)."""
    if len(raw) != POINT_SIZE or raw[0] != 0x04:
        raise VaultKeyError(f"not a P-256 public key: expected 65 bytes starting with 0x04, got {len(raw)} bytes")
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
    except ValueError:
        raise VaultKeyError("not a P-256 public key: the point is not on the curve") from None


def private_key_pkcs8(private: ec.EllipticCurvePrivateKey) -> bytes:
    """``private`` as unencrypted PKCS#8 DER, the form Web Crypto's ``exportKey("pkcs8")`` gives and the key
    wrapping of FORMAT.md encrypts."""
    return private.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def load_private_pkcs8(der: bytes) -> ec.EllipticCurvePrivateKey:
    """A private key from unencrypted PKCS#8 DER; :class:`VaultKeyError` unless it is a P-256 key."""
    try:
        private = serialization.load_der_private_key(der, password=None)
    except (ValueError, TypeError):
        raise VaultKeyError("not a private key in PKCS#8 DER") from None
    if not isinstance(private, ec.EllipticCurvePrivateKey) or not isinstance(private.curve, ec.SECP256R1):
        raise VaultKeyError("not a P-256 private key")
    return private


def _file_key(shared: bytes, header: Header, recipient_raw: bytes) -> AESGCM:
    key = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=header.salt,
        info=HKDF_INFO + header.ephemeral_raw + recipient_raw,
    ).derive(shared)
    return AESGCM(key)


def _nonce(header: Header, index: int, flag: int) -> bytes:
    return header.nonce_prefix + struct.pack(">IB", index, flag)


# -- reading whole blocks from any stream ----------------------------------------------------------------------------
def read_exactly(source: BinaryIO, size: int) -> bytes:
    """``size`` bytes, or fewer only at the end of ``source`` (a pipe, a socket or an HTTP body may return short
    reads)."""
    data = source.read(size) or b""
    if len(data) == size or not data:
        return data
    parts = [data]
    missing = size - len(data)
    while missing:
        more = source.read(missing)
        if not more:
            break
        parts.append(more)
        missing -= len(more)
    return b"".join(parts)


# -- the header ------------------------------------------------------------------------------------------------------
def _check_chunk_size(chunk_size: int) -> None:
    if not 1 <= chunk_size <= MAX_CHUNK_SIZE:
        raise ValueError(f"chunk_size must be 1..{MAX_CHUNK_SIZE} bytes, not {chunk_size}")


def parse_header(raw: bytes) -> Header:
    """The header of a vault file from its first 100 bytes (or the whole file, or fewer when it is shorter)."""
    if len(raw) < len(MAGIC) or raw[: len(MAGIC)] != MAGIC:
        what = "it is empty" if not raw else "it does not start with CLVAULT1"
        raise VaultFormatError("bad_magic", f"not a vault file (version 1): {what}")
    if len(raw) < HEADER_SIZE:
        raise VaultFormatError("bad_header", f"the vault file ends inside its header, after {len(raw)} bytes")
    raw = raw[:HEADER_SIZE]
    _, chunk_size, ephemeral_raw, salt, nonce_prefix = _HEADER.unpack(raw)
    if not 1 <= chunk_size <= MAX_CHUNK_SIZE:
        raise VaultFormatError(
            "bad_header", f"the vault file's header gives a chunk size of {chunk_size} bytes (1..{MAX_CHUNK_SIZE})"
        )
    try:
        load_public_raw(ephemeral_raw)
    except VaultKeyError as error:
        raise VaultFormatError(
            "bad_header", f"the vault file's header holds no valid ephemeral key ({error})"
        ) from None
    return Header(chunk_size, ephemeral_raw, salt, nonce_prefix, raw)


# -- encrypting ------------------------------------------------------------------------------------------------------
def encrypted_pieces(
    source: BinaryIO,
    recipient_public_raw: bytes,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    *,
    _test_randomness: FixedRandomness | None = None,
) -> Iterator[bytes]:
    """The vault file of what ``source`` holds, encrypted so that only the holder of the private key of
    ``recipient_public_raw`` (a 65-byte raw P-256 point) can open it: the header, then each encrypted chunk, each
    read and encrypted when asked for. Memory: two chunks of plaintext and one of ciphertext. The key and chunk
    size are checked at once, before the first piece is asked for. ``_test_randomness`` is for the test vectors
    only."""
    _check_chunk_size(chunk_size)
    recipient = load_public_raw(recipient_public_raw)
    if _test_randomness is None:
        ephemeral = ec.generate_private_key(ec.SECP256R1())
        salt, nonce_prefix = os.urandom(SALT_SIZE), os.urandom(NONCE_PREFIX_SIZE)
    else:
        ephemeral = _test_randomness.ephemeral_private
        salt, nonce_prefix = _test_randomness.salt, _test_randomness.nonce_prefix
        assert len(salt) == SALT_SIZE and len(nonce_prefix) == NONCE_PREFIX_SIZE
    ephemeral_raw = public_raw_of(ephemeral)
    raw = _HEADER.pack(MAGIC, chunk_size, ephemeral_raw, salt, nonce_prefix)
    header = Header(chunk_size, ephemeral_raw, salt, nonce_prefix, raw)
    aead = _file_key(ephemeral.exchange(ec.ECDH(), recipient), header, recipient_public_raw)
    return _chunks(source, header, aead)


def _chunks(source: BinaryIO, header: Header, aead: AESGCM) -> Iterator[bytes]:
    yield header.raw
    index = 0
    current = read_exactly(source, header.chunk_size)
    while True:
        # A full chunk may be the last: only reading on tells (an empty read after it makes it final).
        following = read_exactly(source, header.chunk_size) if len(current) == header.chunk_size else b""
        final = not following
        if index >= MAX_CHUNKS:
            raise VaultFormatError("too_many_chunks", f"the plaintext needs more than {MAX_CHUNKS} chunks")
        yield aead.encrypt(_nonce(header, index, FLAG_FINAL if final else FLAG_MORE), current, header.raw)
        if final:
            return
        current, index = following, index + 1


class _Tally:
    """Sizes and SHA-256 of a vault file, counted as its pieces go by."""

    def __init__(self) -> None:
        self.sha256, self.size, self.pieces = hashlib.sha256(), 0, 0

    def add(self, piece: bytes) -> None:
        self.sha256.update(piece)
        self.size += len(piece)
        self.pieces += 1

    def info(self) -> EncryptedInfo:
        size_plain = self.size - HEADER_SIZE - (self.pieces - 1) * TAG_SIZE
        return EncryptedInfo(size_plain, self.size, self.sha256.hexdigest())


def encrypt_stream(
    source: BinaryIO,
    out: BinaryIO,
    recipient_public_raw: bytes,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    *,
    _test_randomness: FixedRandomness | None = None,
) -> EncryptedInfo:
    """Read ``source`` to its end and write it to ``out`` as a vault file (:func:`encrypted_pieces`)."""
    tally = _Tally()
    for piece in encrypted_pieces(source, recipient_public_raw, chunk_size, _test_randomness=_test_randomness):
        out.write(piece)
        tally.add(piece)
    return tally.info()


class _PiecesReader(io.RawIOBase):
    """A readable stream over an iterator of byte pieces, each made when the reader reaches it."""

    def __init__(self, pieces: Iterator[bytes]) -> None:
        super().__init__()
        self._pieces = pieces
        self._piece, self._at = memoryview(b""), 0
        self._done = False

    def readable(self) -> bool:
        return True

    def _took(self, piece: bytes) -> None:
        """Called with each piece as it is taken from the iterator."""

    def readinto(self, buffer: Any) -> int:
        while self._at == len(self._piece):
            if self._done:
                return 0
            try:
                piece = next(self._pieces)
            except StopIteration:
                self._done, self._piece, self._at = True, memoryview(b""), 0
                return 0
            self._took(piece)
            self._piece, self._at = memoryview(piece), 0
        count = min(len(buffer), len(self._piece) - self._at)
        buffer[:count] = self._piece[self._at : self._at + count]
        self._at += count
        return count


class EncryptingReader(_PiecesReader):
    """A vault file to read from, made as it is read: ``store.put(key, EncryptingReader(plain, public_raw))`` stores
    a file encrypted on the way, with no plaintext written anywhere and no thread. ``info`` is there once the file
    was read to its end."""

    def __init__(self, source: BinaryIO, recipient_public_raw: bytes, chunk_size: int = DEFAULT_CHUNK_SIZE) -> None:
        super().__init__(encrypted_pieces(source, recipient_public_raw, chunk_size))
        self._tally = _Tally()

    def _took(self, piece: bytes) -> None:
        self._tally.add(piece)

    @property
    def info(self) -> EncryptedInfo:
        if not self._done:
            raise RuntimeError("the vault file was not read to its end yet")
        return self._tally.info()


def encrypted_size(size_plain: int, chunk_size: int = DEFAULT_CHUNK_SIZE) -> int:
    """The size of the vault file of a plaintext of ``size_plain`` bytes (to check an upload's announced size)."""
    _check_chunk_size(chunk_size)
    chunks = max(1, -(-size_plain // chunk_size))
    return HEADER_SIZE + size_plain + chunks * TAG_SIZE


# -- decrypting ------------------------------------------------------------------------------------------------------
def decrypt_stream(source: BinaryIO, out: BinaryIO, private_key: ec.EllipticCurvePrivateKey) -> int:
    """Read the vault file in ``source`` and write its plaintext to ``out``; returns the plaintext's size. Memory:
    two chunks of ciphertext and one of plaintext.

    Raises :class:`VaultFormatError` when the file is not whole and as made for this key; by then the chunks before
    the bad one are in ``out`` (``error.written`` bytes), and the caller must discard them."""
    written = 0
    for plain in decrypted_pieces(source, private_key):
        out.write(plain)
        written += len(plain)
    return written


def decrypted_pieces(source: BinaryIO, private_key: ec.EllipticCurvePrivateKey) -> Iterator[bytes]:
    """The plaintext of the vault file in ``source``, chunk by chunk, each read and opened when asked for
    (:func:`decrypt_stream` says what fails, and how)."""
    header = parse_header(read_exactly(source, HEADER_SIZE))
    ephemeral = load_public_raw(header.ephemeral_raw)
    aead = _file_key(private_key.exchange(ec.ECDH(), ephemeral), header, public_raw_of(private_key))
    block = header.chunk_size + TAG_SIZE
    written = 0
    index = 0
    current = read_exactly(source, block)
    if not current:
        raise VaultFormatError("truncated", "the vault file ends after its header: it holds no chunk")
    while True:
        following = read_exactly(source, block) if len(current) == block else b""
        final = not following
        if index >= MAX_CHUNKS:
            raise VaultFormatError("too_many_chunks", f"the vault file has more than {MAX_CHUNKS} chunks", written)
        try:
            plain = aead.decrypt(_nonce(header, index, FLAG_FINAL if final else FLAG_MORE), current, header.raw)
        except InvalidTag:
            raise _diagnose(aead, header, current, index, final, written) from None
        if final and not plain and index > 0:
            # FORMAT.md: the last chunk is empty only when the whole file is; the browser's reader refuses it too.
            raise VaultFormatError(
                "appended", "the vault file ends with an empty chunk after others: no writer makes one", written
            )
        yield plain
        written += len(plain)
        if final:
            return
        current, index = following, index + 1


class DecryptingReader(_PiecesReader):
    """The plaintext of a vault file, to read from as it is opened: ``EncryptingReader(DecryptingReader(stored,
    key), other_public_raw)`` encrypts a file again to another key, a chunk at a time, with no plaintext written
    anywhere. A read raises :class:`VaultFormatError` where the file is damaged; everything read before it must be
    discarded."""

    def __init__(self, source: BinaryIO, private_key: ec.EllipticCurvePrivateKey) -> None:
        super().__init__(decrypted_pieces(source, private_key))


def _opens(aead: AESGCM, header: Header, chunk: bytes, index: int, flag: int) -> bool:
    try:
        aead.decrypt(_nonce(header, index, flag), chunk, header.raw)
    except InvalidTag:
        return False
    return True


def _diagnose(aead: AESGCM, header: Header, chunk: bytes, index: int, final: bool, written: int) -> VaultFormatError:
    """Why chunk ``index`` does not open, told by trying it as the chunk it may really be."""
    where = f"chunk {index} (at byte {HEADER_SIZE + index * (header.chunk_size + TAG_SIZE)})"
    if len(chunk) < TAG_SIZE:
        return VaultFormatError(
            "truncated", f"{where} is {len(chunk)} bytes, shorter than any chunk: the file was cut short", written
        )
    if final and _opens(aead, header, chunk, index, FLAG_MORE):
        return VaultFormatError(
            "truncated", f"the vault file ends after {where}, which is not its last chunk: it was cut short", written
        )
    if not final and _opens(aead, header, chunk, index, FLAG_FINAL):
        return VaultFormatError(
            "appended", f"{where} is the vault file's last chunk, but data follows it: something was appended", written
        )
    for other in range(max(0, index - _DIAGNOSIS_WINDOW), min(MAX_CHUNKS, index + _DIAGNOSIS_WINDOW + 1)):
        if other != index and any(_opens(aead, header, chunk, other, flag) for flag in (FLAG_MORE, FLAG_FINAL)):
            return VaultFormatError(
                "reordered", f"{where} holds chunk {other}: chunks are missing, repeated or out of order", written
            )
    if index == 0:
        return VaultFormatError(
            "wrong_key_or_damaged",
            "the vault file's first chunk does not open: it was encrypted for another key, or it is damaged",
            written,
        )
    # A short last chunk gives no boundary to go by: data added after it, or a chunk moved before it, shifts every
    # block read from there on, so those cases show as a damaged chunk too.
    what = (
        "the file was cut short or added to there, or it is damaged"
        if final
        else "it is damaged, or chunks before the end were moved"
    )
    return VaultFormatError("damaged_chunk", f"{where} of the vault file does not open: {what}", written)
