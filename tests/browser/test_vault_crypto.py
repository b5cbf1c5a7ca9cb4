"""The vault's browser library (js/vault_crypto.js, issue 21) in Debian's chromium, on a test page of its own served by
the real app (so under the site's Content Security Policy), driven with ``page.evaluate``.

Round trips at the edges of a chunk; every kind of tampering refused (a byte changed in the header, a chunk or a tag;
a chunk dropped, swapped or added; the file cut inside a chunk or at a boundary; files that are authentic but break
the format's rules, made by the Python reference); the private key wrapped with a passphrase and a recovery code;
and interop both ways with a small Python reference of the format (the ``reference_*`` functions below, one per
direction, written from the contract with the ``cryptography`` package, so the lead can swap in ``core.vault`` and
its fixed vectors). Bytes cross between Python and the page as base64url.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import unicodedata
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from flask import render_template_string
from playwright.sync_api import Browser, Page

from core.vault.stream_format import VaultFormatError, VaultKeyError, decrypt_stream, encrypt_stream
from core.web.rendering import page_context
from core.web.views.localized import localized_blueprint, localized_route
from tests.browser.conftest import serve_app

if TYPE_CHECKING:
    from tests.browser.conftest import LiveServer

pytestmark = pytest.mark.browser

CAMPAIGN = "alledata"
PATH = "/test/vault-crypto"
HEADER = 100
TAG = 16
CHUNK = 64  # the small chunk size of most tests: a few hundred bytes cross several chunk boundaries
FAST = 1000  # PBKDF2 iterations where speed matters; one test wraps with the real 600,000
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

PAGE = """\
{% extends tpl("base.html") %}
{% block head %}<script src="{{ asset_url('js/vault_crypto.js') }}" defer></script>{% endblock %}
{% block main %}<section class="flow wrap"><h1>Vault</h1></section>{% endblock %}
"""

bp = localized_blueprint("vault_crypto_test", __name__)


@localized_route(bp, PATH)
def vault_page() -> str:
    """A campaign page that loads the library the way the vault's pages will: a file through asset_url."""
    return render_template_string(PAGE, **page_context())


# -- the Python reference of the contract (swap these for core.vault) -----------------------------------------------
MAGIC = b"CLVAULT1"
HKDF_INFO = b"claimsite vault v1"
WRAP_AAD = b"claimsite vault key v1"


class Refused(Exception):
    """The reference refused a vault file."""


def raw_point(public_key: ec.EllipticCurvePublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


def _file_aead(shared: bytes, salt: bytes, ephemeral_raw: bytes, recipient_raw: bytes) -> AESGCM:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=HKDF_INFO + ephemeral_raw + recipient_raw)
    return AESGCM(hkdf.derive(shared))


def _iv(prefix: bytes, index: int, final: bool) -> bytes:
    return prefix + index.to_bytes(4, "big") + (b"\x01" if final else b"\x00")


def reference_seal(chunks: Sequence[tuple[bytes, bool]], recipient_raw: bytes, chunk_size: int) -> bytes:
    """A vault file whose chunks are exactly ``chunks`` (plaintext, final flag), even where that breaks the rules."""
    recipient = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), recipient_raw)
    ephemeral = ec.generate_private_key(ec.SECP256R1())
    ephemeral_raw, salt, prefix = raw_point(ephemeral.public_key()), os.urandom(16), os.urandom(7)
    header = MAGIC + chunk_size.to_bytes(4, "big") + ephemeral_raw + salt + prefix
    aead = _file_aead(ephemeral.exchange(ec.ECDH(), recipient), salt, ephemeral_raw, recipient_raw)
    return header + b"".join(
        aead.encrypt(_iv(prefix, index, final), chunk, header) for index, (chunk, final) in enumerate(chunks)
    )


def reference_encrypt(plaintext: bytes, recipient_raw: bytes, chunk_size: int = 1048576) -> bytes:
    """Python -> browser: ``plaintext`` as a vault file for ``recipient_raw``, by core.vault's own writer."""
    out = io.BytesIO()
    encrypt_stream(io.BytesIO(plaintext), out, recipient_raw, chunk_size)
    return out.getvalue()


def reference_decrypt(data: bytes, private_key: ec.EllipticCurvePrivateKey) -> bytes:
    """Browser -> Python: the plaintext of a vault file, by core.vault's own reader (raises Refused)."""
    out = io.BytesIO()
    try:
        decrypt_stream(io.BytesIO(data), out, private_key)
    except (VaultFormatError, VaultKeyError) as exc:
        raise Refused(str(exc)) from exc
    return out.getvalue()


def _wrapping_aead(password: bytes, salt: bytes, iterations: int) -> AESGCM:
    return AESGCM(PBKDF2HMAC(algorithm=hashes.SHA256(), length=32, salt=salt, iterations=iterations).derive(password))


def reference_unwrap(record: dict[str, Any], password: bytes) -> ec.EllipticCurvePrivateKey:
    """Browser -> Python: the private key of a wrapped record, ``password`` as the contract makes it from the secret
    (raises InvalidTag for a wrong one)."""
    assert set(record) == {"v", "kdf", "iterations", "salt", "iv", "wrapped"}
    assert (record["v"], record["kdf"]) == (1, "PBKDF2-SHA256")
    aead = _wrapping_aead(password, b64decode(record["salt"]), record["iterations"])
    key = serialization.load_der_private_key(
        aead.decrypt(b64decode(record["iv"]), b64decode(record["wrapped"]), WRAP_AAD), None
    )
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key


def reference_wrap(private_key: ec.EllipticCurvePrivateKey, password: bytes, iterations: int) -> dict[str, Any]:
    """Python -> browser: ``private_key`` wrapped as the browser wraps it."""
    salt, iv = os.urandom(16), os.urandom(12)
    pkcs8 = private_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    wrapped = _wrapping_aead(password, salt, iterations).encrypt(iv, pkcs8, WRAP_AAD)
    return {
        "v": 1,
        "kdf": "PBKDF2-SHA256",
        "iterations": iterations,
        "salt": b64(salt),
        "iv": b64(iv),
        "wrapped": b64(wrapped),
    }


def passphrase_password(passphrase: str) -> bytes:
    return unicodedata.normalize("NFC", passphrase).encode()


def recovery_password(code: str) -> bytes:
    return code.upper().replace("-", "").encode()


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# -- the page and its helpers ------------------------------------------------------------------------------------
# Installed on the page once: keys live in the page by name; bytes cross as base64url; a stream's error comes back
# as {name, message, discard} with what the stream gave before it.
HELPERS = """() => {
  const V = window.ClaimsiteVault;
  const keys = {};
  const concat = (parts) => {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) { out.set(p, at); at += p.length; }
    return out;
  };
  // The bytes as a stream of pieces of `piece` bytes, handed over only when asked.
  const streamOf = (bytes, piece) => {
    let at = 0;
    return new ReadableStream({
      pull(c) {
        if (at >= bytes.length) { c.close(); return; }
        c.enqueue(bytes.slice(at, at + piece));
        at += piece;
      },
    }, { highWaterMark: 0 });
  };
  const failure = (e) => ({ name: e.name, message: e.message, discard: e.discard === true });
  const collect = async (stream) => {
    const reader = stream.getReader(), parts = [];
    try {
      for (;;) {
        const r = await reader.read();
        if (r.done) return { bytes: V.base64urlEncode(concat(parts)) };
        parts.push(r.value);
      }
    } catch (e) {
      return { error: failure(e), given: V.base64urlEncode(concat(parts)) };
    }
  };
  window.vaultTest = {
    V, keys, concat, streamOf, collect, failure,
    async newKeyPair(name) {
      const pair = await V.generateKeyPair();
      keys[name] = pair.privateKey;
      return { publicRaw: V.base64urlEncode(pair.publicRaw), extractable: pair.privateKey.extractable };
    },
    async encrypt(plain, publicRaw, options, piece) {
      const bytes = V.base64urlDecode(plain);
      return collect(V.encryptStream(streamOf(bytes, piece || 17), V.base64urlDecode(publicRaw), options));
    },
    async decrypt(sealed, name, piece, options) {
      if (options && options.publicRaw) options = { publicRaw: V.base64urlDecode(options.publicRaw) };
      return collect(V.decryptStream(streamOf(V.base64urlDecode(sealed), piece || 23), keys[name], options));
    },
    async wrap(name, secret, options) { return V.wrapPrivateKey(keys[name], secret, options); },
    async unwrap(record, secret, name, options) {
      try {
        keys[name] = await V.unwrapPrivateKey(record, secret, options);
      } catch (e) {
        return { error: failure(e) };
      }
      const point = await V.publicRawOf(keys[name]);
      return { extractable: keys[name].extractable, publicRaw: point && V.base64urlEncode(point) };
    },
  };
}"""


class Vault:
    """The library on the page, called from Python."""

    def __init__(self, page: Page) -> None:
        self.page = page

    def call(self, method: str, *args: Any) -> Any:
        return self.page.evaluate(f"(args) => window.vaultTest.{method}(...args)", list(args))

    def new_key_pair(self, name: str) -> bytes:
        result = self.call("newKeyPair", name)
        assert result["extractable"] is True  # so it can be wrapped
        return b64decode(result["publicRaw"])

    def import_pkcs8(self, name: str, pkcs8: bytes) -> None:
        """A private key the library neither made nor unwrapped, imported by the page as not extractable."""
        self.page.evaluate(
            """async ([name, pkcs8]) => {
              window.vaultTest.keys[name] = await crypto.subtle.importKey("pkcs8",
                window.ClaimsiteVault.base64urlDecode(pkcs8), { name: "ECDH", namedCurve: "P-256" }, false,
                ["deriveBits"]);
            }""",
            [name, b64(pkcs8)],
        )

    def encrypt(self, plaintext: bytes, public_raw: bytes, chunk_size: int | None = CHUNK, piece: int = 17) -> bytes:
        options = {} if chunk_size is None else {"chunkSize": chunk_size}
        result = self.call("encrypt", b64(plaintext), b64(public_raw), options, piece)
        assert "error" not in result, result
        return b64decode(result["bytes"])

    def decrypt(self, sealed: bytes, key: str, piece: int = 23) -> dict[str, Any]:
        """{"bytes": plaintext} or {"error": {name, message, discard}, "given": what came before the error}."""
        result = self.call("decrypt", b64(sealed), key, piece, {})
        for field in ("bytes", "given"):
            if field in result:
                result[field] = b64decode(result[field])
        return result

    def opens(self, sealed: bytes, key: str, piece: int = 23) -> bytes:
        result = self.decrypt(sealed, key, piece)
        assert "error" not in result, result["error"]
        return result["bytes"]

    def refuses(self, sealed: bytes, key: str) -> str:
        """The reason the page gives for refusing ``sealed``; fails if it opens it."""
        result = self.decrypt(sealed, key)
        assert "error" in result, "the tampered file was opened"
        error = result["error"]
        assert error["name"] == "FileRefused" and error["discard"] is True, error
        assert "Discard everything already read" in error["message"]
        return error["message"]


@pytest.fixture(scope="module")
def vault_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The real app with the test page's blueprint, registered before the app answers its first request."""
    with serve_app(tmp_path_factory.mktemp("vault-crypto-instance"), thread_name="browser-vault-crypto") as server:
        server.app.register_blueprint(bp)
        yield server


@pytest.fixture(scope="module")
def vault(chromium_browser: Browser, vault_server: LiveServer) -> Iterator[Vault]:
    """One page for the whole module (the library keeps no state between calls but the named keys), loaded once;
    nothing on it may break the Content Security Policy."""
    context = chromium_browser.new_context()
    violations: list[str] = []
    try:
        page = context.new_page()
        page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
        response = page.goto(vault_server.url(CAMPAIGN, PATH))
        assert response is not None and response.ok
        page.wait_for_function("window.ClaimsiteVault !== undefined")
        page.evaluate(HELPERS)
        yield Vault(page)
    finally:
        context.close()
    assert violations == [], "the Content Security Policy refused something on the vault page"


@pytest.fixture(scope="module")
def recipient(vault: Vault) -> bytes:
    """The public point of the page's key pair "r"."""
    return vault.new_key_pair("r")


def sealed_length(size: int, chunk_size: int) -> int:
    chunks = max(1, -(-size // chunk_size))
    return HEADER + size + TAG * chunks


# -- round trips ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 3 * CHUNK + 10])
def test_a_round_trip_in_the_browser_and_through_the_python_reference(
    vault: Vault, recipient: bytes, size: int
) -> None:
    plaintext = os.urandom(size)
    sealed = vault.encrypt(plaintext, recipient, CHUNK)
    assert len(sealed) == sealed_length(size, CHUNK)
    assert sealed[:8] == MAGIC and int.from_bytes(sealed[8:12], "big") == CHUNK and sealed[12] == 4
    for piece in (1, 23, 1000):  # the stream's pieces never line up with chunks, or are larger than the file
        assert vault.opens(sealed, "r", piece) == plaintext
    again = vault.encrypt(plaintext, recipient, CHUNK)
    assert again[12:HEADER] != sealed[12:HEADER]  # a new ephemeral key, salt and nonce prefix for every file


def test_the_default_chunk_is_one_mebibyte_and_a_file_of_a_few_goes_through(vault: Vault) -> None:
    result = vault.page.evaluate(
        """async () => {
          const T = window.vaultTest, V = T.V;
          const size = 2 * 1048576 + 3, plaintext = new Uint8Array(size);
          for (let i = 0; i < size; i++) plaintext[i] = (i * 31 + (i >> 12)) & 255;
          const sealed = await T.collect(V.encryptStream(T.streamOf(plaintext, 65536), V.base64urlDecode(
            (await T.newKeyPair("big")).publicRaw)));
          const bytes = V.base64urlDecode(sealed.bytes);
          const opened = await T.collect(V.decryptStream(T.streamOf(bytes, 100000), T.keys.big));
          const digest = async (b) => V.base64urlEncode(new Uint8Array(await crypto.subtle.digest("SHA-256", b)));
          return { sealed: bytes.length, chunkSize: new DataView(bytes.buffer).getUint32(8),
                   same: (await digest(plaintext)) === (await digest(V.base64urlDecode(opened.bytes))) };
        }"""
    )
    assert result == {"sealed": sealed_length(2 * 1048576 + 3, 1048576), "chunkSize": 1048576, "same": True}


def test_encrypting_and_decrypting_pull_only_a_chunk_or_two_ahead_of_the_reader(vault: Vault) -> None:
    """An endless source through encryptStream then decryptStream: after three chunks come out, the source has given
    little more than three chunks, and cancelling the output cancels the source."""
    result = vault.page.evaluate(
        """async () => {
          const T = window.vaultTest, V = T.V, chunkSize = 1024;
          let given = 0, cancelled = false;
          const endless = new ReadableStream({
            pull(c) { given += 100; c.enqueue(new Uint8Array(100).fill(7)); },
            cancel() { cancelled = true; },
          }, { highWaterMark: 0 });
          const publicRaw = V.base64urlDecode((await T.newKeyPair("endless")).publicRaw);
          const plain = V.decryptStream(V.encryptStream(endless, publicRaw, { chunkSize }), T.keys.endless);
          const reader = plain.getReader();
          let read = 0;
          for (let i = 0; i < 3; i++) read += (await reader.read()).value.length;
          const givenThen = given;
          await reader.cancel("enough");
          return { read, givenThen, cancelled };
        }"""
    )
    assert result["read"] == 3 * 1024 and result["cancelled"] is True
    # Decrypting looks one byte past a sealed chunk, and encrypting one byte past a chunk: five at most.
    assert 3 * 1024 < result["givenThen"] <= 5 * 1024 + 100


def test_a_source_that_fails_fails_the_encrypted_stream_before_any_last_chunk(vault: Vault, recipient: bytes) -> None:
    """An upload whose file cannot be read to the end must not become a shorter file that opens."""
    result = vault.page.evaluate(
        """async (publicRaw) => {
          const T = window.vaultTest, V = T.V;
          let sent = 0;
          const failing = new ReadableStream({
            pull(c) {
              if (sent === 3) { c.error(new Error("the disk went away")); return; }
              sent += 1;
              c.enqueue(new Uint8Array(50).fill(sent));
            },
          }, { highWaterMark: 0 });
          return T.collect(V.encryptStream(failing, V.base64urlDecode(publicRaw), { chunkSize: 64 }));
        }""",
        b64(recipient),
    )
    assert result["error"]["message"] == "the disk went away"
    given = b64decode(result["given"])
    assert len(given) == HEADER + 2 * (CHUNK + TAG)  # the whole chunks among 150 bytes read, neither flagged final
    vault.refuses(given, "r")


def test_a_key_from_elsewhere_needs_its_public_point(
    vault: Vault, private_key: ec.EllipticCurvePrivateKey, recipient: bytes
) -> None:
    """decryptStream needs the recipient's public point (it is in the key derivation): a key neither made nor
    unwrapped by the library, and not extractable, comes with it."""
    pkcs8 = private_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    vault.import_pkcs8("imported", pkcs8)
    public_raw = raw_point(private_key.public_key())
    sealed = reference_encrypt(b"from elsewhere", public_raw, CHUNK)
    without = vault.call("decrypt", b64(sealed), "imported", 23, {})["error"]
    assert without["name"] == "TypeError" and "pass {publicRaw}" in without["message"]
    opened = vault.call("decrypt", b64(sealed), "imported", 23, {"publicRaw": b64(public_raw)})
    assert b64decode(opened["bytes"]) == b"from elsewhere"
    wrong_point = vault.call("decrypt", b64(sealed), "imported", 23, {"publicRaw": b64(recipient)})
    assert wrong_point["error"]["name"] == "FileRefused"


def test_encrypt_checks_its_arguments(vault: Vault, recipient: bytes) -> None:
    def error(script: str) -> str:
        return vault.page.evaluate(
            f"""async (publicRaw) => {{
              const V = window.ClaimsiteVault, empty = () => new ReadableStream({{ start(c) {{ c.close(); }} }});
              publicRaw = V.base64urlDecode(publicRaw);
              try {{ await window.vaultTest.collect({script}); return "no error"; }}
              catch (e) {{ return e.name + ": " + e.message; }}
            }}""",
            b64(recipient),
        )

    assert error("V.encryptStream(empty(), publicRaw, { chunkSize: 0 })").startswith("RangeError: chunkSize")
    assert error("V.encryptStream(empty(), publicRaw, { chunkSize: 16 * 1048576 + 1 })").startswith("RangeError")
    assert error("V.encryptStream(empty(), publicRaw.slice(1))").startswith("TypeError: recipientPublicRaw")
    off_curve = "(() => { const p = publicRaw.slice(); p[64] ^= 1; return V.encryptStream(empty(), p); })()"
    result = vault.page.evaluate(
        f"""async (publicRaw) => {{
          const V = window.ClaimsiteVault, empty = () => new ReadableStream({{ start(c) {{ c.close(); }} }});
          publicRaw = V.base64urlDecode(publicRaw);
          const r = await window.vaultTest.collect({off_curve});
          return r.error ? r.error.name + ": " + r.error.message : "no error";
        }}""",
        b64(recipient),
    )
    assert result.startswith("TypeError: recipientPublicRaw is not a point on P-256")
    assert vault.opens(vault.encrypt(b"x" * 5, recipient, 16 * 1048576), "r") == b"x" * 5  # the largest is legal


# -- tampering --------------------------------------------------------------------------------------------------
PLAINTEXT = bytes(range(256))[: 3 * CHUNK + 10]  # four chunks: 64, 64, 64 and a last one of 10


def chunk_at(n: int) -> slice:
    return slice(HEADER + n * (CHUNK + TAG), HEADER + (n + 1) * (CHUNK + TAG))


def flipped(data: bytes, at: int) -> bytes:
    changed = bytearray(data)
    changed[at] ^= 0x01
    return bytes(changed)


def chunks_of(data: bytes) -> list[bytes]:
    return [data[chunk_at(n)] for n in range(4)]


TAMPERINGS = {
    "magic": lambda d: flipped(d, 0),
    "chunk size field": lambda d: flipped(d, 11),
    "chunk size zero": lambda d: d[:8] + bytes(4) + d[12:],
    "ephemeral key X": lambda d: flipped(d, 20),
    "ephemeral key Y": lambda d: flipped(d, 76),
    "salt": lambda d: flipped(d, 80),
    "nonce prefix": lambda d: flipped(d, 99),
    "first chunk's ciphertext": lambda d: flipped(d, HEADER + 5),
    "middle chunk's ciphertext": lambda d: flipped(d, chunk_at(1).start + 40),
    "middle chunk's tag": lambda d: flipped(d, chunk_at(2).stop - 3),
    "last chunk's ciphertext": lambda d: flipped(d, chunk_at(3).start),
    "last chunk's tag": lambda d: flipped(d, len(d) - 1),
    "first chunk dropped": lambda d: d[:HEADER] + d[chunk_at(1).start :],
    "middle chunk dropped": lambda d: d[: chunk_at(1).start] + d[chunk_at(2).start :],
    "last chunk dropped": lambda d: d[: chunk_at(3).start],
    "first two chunks swapped": lambda d: d[:HEADER] + b"".join(chunks_of(d)[i] for i in (1, 0, 2, 3)),
    "middle chunks swapped": lambda d: d[:HEADER] + b"".join(chunks_of(d)[i] for i in (0, 2, 1, 3)),
    "a chunk appended": lambda d: d + d[chunk_at(1)],
    "the last chunk appended again": lambda d: d + d[chunk_at(3)],
    "one byte appended": lambda d: d + b"\x00",
    "a tag's length appended": lambda d: d + bytes(TAG),
    "cut inside the last chunk": lambda d: d[:-5],
    "cut inside a middle chunk": lambda d: d[: chunk_at(1).start + 40],
    "cut at a chunk boundary": lambda d: d[: chunk_at(2).start],
    "cut after the first chunk": lambda d: d[: chunk_at(1).start],
    "cut after the header": lambda d: d[:HEADER],
    "cut inside the header": lambda d: d[:50],
    "nothing at all": lambda d: b"",
}


@pytest.fixture(scope="module")
def sealed_four_chunks(vault: Vault, recipient: bytes) -> bytes:
    sealed = vault.encrypt(PLAINTEXT, recipient, CHUNK)
    assert len(sealed) == chunk_at(3).start + 10 + TAG and vault.opens(sealed, "r") == PLAINTEXT
    return sealed


@pytest.mark.parametrize("tampering", TAMPERINGS)
def test_every_tampering_is_refused(
    vault: Vault, recipient: bytes, sealed_four_chunks: bytes, private_key: ec.EllipticCurvePrivateKey, tampering: str
) -> None:
    tampered = TAMPERINGS[tampering](sealed_four_chunks)
    assert tampered != sealed_four_chunks
    vault.refuses(tampered, "r")
    with pytest.raises(Refused):  # the reference agrees, so the two sides keep the same rules
        reference_decrypt(tampered, private_key)


def test_the_reasons_tell_a_cut_from_an_addition(vault: Vault, recipient: bytes, sealed_four_chunks: bytes) -> None:
    assert "without its last chunk" in vault.refuses(TAMPERINGS["cut at a chunk boundary"](sealed_four_chunks), "r")
    assert "not a vault file" in vault.refuses(TAMPERINGS["magic"](sealed_four_chunks), "r")
    assert "ends inside chunk 0" in vault.refuses(sealed_four_chunks[: HEADER + 10], "r")
    whole_chunks = vault.encrypt(PLAINTEXT[: 2 * CHUNK], recipient, CHUNK)  # its last chunk is a whole one
    assert "more data follows its last chunk" in vault.refuses(whole_chunks + b"\x00", "r")


def test_a_refused_file_may_already_have_given_chunks_and_says_to_discard_them(
    vault: Vault, sealed_four_chunks: bytes
) -> None:
    result = vault.decrypt(TAMPERINGS["last chunk dropped"](sealed_four_chunks), "r")
    assert result["error"]["discard"] is True
    assert PLAINTEXT.startswith(result["given"]) and len(result["given"]) <= 2 * CHUNK  # never the cut chunk itself


def test_a_file_for_another_key_or_with_another_files_header_is_refused(
    vault: Vault, recipient: bytes, sealed_four_chunks: bytes
) -> None:
    other = vault.new_key_pair("other")
    vault.refuses(vault.encrypt(PLAINTEXT, other, CHUNK), "r")
    vault.refuses(sealed_four_chunks, "other")
    second = vault.encrypt(PLAINTEXT, recipient, CHUNK)
    vault.refuses(second[:HEADER] + sealed_four_chunks[HEADER:], "r")  # each file's header is in every chunk's tag
    vault.refuses(sealed_four_chunks[: chunk_at(3).start] + second[chunk_at(3).start :], "r")


@pytest.fixture(scope="module")
def private_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def python_key_in_page(vault: Vault, private_key: ec.EllipticCurvePrivateKey) -> str:
    """The Python key pair, wrapped by the reference and unwrapped on the page as "py"."""
    record = reference_wrap(private_key, passphrase_password("sleutel"), FAST)
    result = vault.call("unwrap", record, "sleutel", "py", {})
    assert result["publicRaw"] == b64(raw_point(private_key.public_key()))
    return "py"


RULE_BREAKERS = {
    # Authentic chunks (made with the file's key by the reference) in an order or shape the format forbids.
    "a chunk flagged final with more after it": [(b"a" * CHUNK, True), (b"b" * 10, True)],
    "no chunk flagged final": [(b"a" * CHUNK, False), (b"b" * CHUNK, False)],
    "an empty last chunk after a full one": [(b"a" * CHUNK, False), (b"", True)],
    "a short chunk before the last": [(b"a" * 10, False), (b"b" * 10, True)],
    "a long last chunk": [(b"a" * (CHUNK + 1), True)],
    "no chunk at all": [],
}


@pytest.mark.parametrize("breaker", RULE_BREAKERS)
def test_authentic_chunks_that_break_the_formats_rules_are_refused(
    vault: Vault, private_key: ec.EllipticCurvePrivateKey, python_key_in_page: str, breaker: str
) -> None:
    sealed = reference_seal(RULE_BREAKERS[breaker], raw_point(private_key.public_key()), CHUNK)
    vault.refuses(sealed, python_key_in_page)
    with pytest.raises(Refused):
        reference_decrypt(sealed, private_key)


@pytest.mark.parametrize("chunk_size", [0, 16 * 1048576 + 1])
def test_a_header_with_a_chunk_size_out_of_range_is_refused(
    vault: Vault, private_key: ec.EllipticCurvePrivateKey, python_key_in_page: str, chunk_size: int
) -> None:
    sealed = reference_seal([(b"x", True)], raw_point(private_key.public_key()), chunk_size)
    assert "chunk size" in vault.refuses(sealed, python_key_in_page)


# -- interop with Python ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK])
def test_python_encrypts_and_the_browser_decrypts(vault: Vault, recipient: bytes, size: int) -> None:
    plaintext = os.urandom(size)
    assert vault.opens(reference_encrypt(plaintext, recipient, CHUNK), "r") == plaintext


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK])
def test_the_browser_encrypts_and_python_decrypts(
    vault: Vault, private_key: ec.EllipticCurvePrivateKey, size: int
) -> None:
    plaintext = os.urandom(size)
    sealed = vault.encrypt(plaintext, raw_point(private_key.public_key()), CHUNK)
    assert reference_decrypt(sealed, private_key) == plaintext


def test_default_chunks_both_ways(vault: Vault, private_key: ec.EllipticCurvePrivateKey, recipient: bytes) -> None:
    plaintext = os.urandom(1048576 + 1)
    sealed = vault.encrypt(plaintext, raw_point(private_key.public_key()), None, piece=65536)
    assert len(sealed) == sealed_length(len(plaintext), 1048576)
    assert reference_decrypt(sealed, private_key) == plaintext
    assert vault.opens(reference_encrypt(plaintext, recipient), "r", 65536) == plaintext


def test_python_decrypts_with_the_key_the_browser_wrapped(vault: Vault) -> None:
    public_raw = vault.new_key_pair("wrapped-for-python")
    record = vault.call("wrap", "wrapped-for-python", "correct horse battery staple", {"iterations": FAST})
    key = reference_unwrap(record, passphrase_password("correct horse battery staple"))
    assert raw_point(key.public_key()) == public_raw
    plaintext = os.urandom(3 * CHUNK + 1)
    assert reference_decrypt(vault.encrypt(plaintext, public_raw, CHUNK), key) == plaintext


def test_the_browser_decrypts_with_a_key_python_wrapped(
    vault: Vault, private_key: ec.EllipticCurvePrivateKey, python_key_in_page: str
) -> None:
    plaintext = os.urandom(2 * CHUNK + 5)
    assert vault.opens(reference_encrypt(plaintext, raw_point(private_key.public_key()), CHUNK), "py") == plaintext


def test_base64url_matches_python(vault: Vault) -> None:
    samples = [b"", b"\x00", b"\xff\xfe", b"abc", bytes(range(256)), os.urandom(1000)]
    encoded = vault.page.evaluate(
        "(samples) => samples.map((s) => window.ClaimsiteVault.base64urlEncode(Uint8Array.from(s)))",
        [list(s) for s in samples],
    )
    assert encoded == [b64(s) for s in samples]
    decoded = vault.page.evaluate(
        "(texts) => texts.map((t) => Array.from(window.ClaimsiteVault.base64urlDecode(t)))", encoded
    )
    assert [bytes(d) for d in decoded] == samples
    refused = vault.page.evaluate(
        """(texts) => texts.map((t) => {
          try { window.ClaimsiteVault.base64urlDecode(t); return "decoded"; } catch (e) { return e.name; }
        })""",
        ["YWJj=", "YW+j", "YW/j", "Y", "YW Jj"],
    )
    assert refused == ["VaultError"] * 5  # padding, the other alphabet, an impossible length, a space


VECTORS = Path(__file__).resolve().parents[1] / "vault_vectors" / "v1.json"


def test_the_fixed_vectors_of_the_python_side_open_and_are_refused_alike(vault: Vault) -> None:
    """core/vault's fixed vectors (tests/vault_vectors/v1.json): every file opens to its plaintext, in the browser
    and with the reference; every refused one is refused by both; "four chunks" is refused with the other key."""
    vectors = json.loads(VECTORS.read_text())
    keys: dict[str, ec.EllipticCurvePrivateKey] = {}
    for name in ("recipient", "other"):
        pkcs8 = b64decode(vectors[f"{name}_private_pkcs8"])
        key = serialization.load_der_private_key(pkcs8, None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        vault.import_pkcs8(f"vectors-{name}", pkcs8)
        keys[name] = key
    points = {name: b64(raw_point(key.public_key())) for name, key in keys.items()}
    assert points["recipient"] == vectors["recipient_public_raw"]
    for file in vectors["files"]:
        sealed, plaintext = b64decode(file["encrypted"]), b64decode(file["plaintext"])
        assert int.from_bytes(sealed[8:12], "big") == file["chunk_size"], file["name"]
        opened = vault.call("decrypt", file["encrypted"], "vectors-recipient", 4096, {"publicRaw": points["recipient"]})
        assert "error" not in opened and b64decode(opened["bytes"]) == plaintext, file["name"]
        assert reference_decrypt(sealed, keys["recipient"]) == plaintext, file["name"]
    four = next(file for file in vectors["files"] if file["name"] == "four chunks")
    cases = [(entry["name"], entry["encrypted"], "recipient") for entry in vectors["refused"]]
    for what, sealed, whose in [*cases, ("four chunks, for the other key", four["encrypted"], "other")]:
        result = vault.call("decrypt", sealed, f"vectors-{whose}", 23, {"publicRaw": points[whose]})
        assert result.get("error", {}).get("name") == "FileRefused", what
        with pytest.raises(Refused):
            reference_decrypt(b64decode(sealed), keys[whose])


# -- the wrapped private key ------------------------------------------------------------------------------------
def test_a_passphrase_wraps_and_unwraps_and_a_wrong_one_is_refused(vault: Vault) -> None:
    public_raw = vault.new_key_pair("owner")
    decomposed = unicodedata.normalize("NFD", "Één zin, café")
    record = vault.call("wrap", "owner", decomposed, {"iterations": FAST})
    assert set(record) == {"v", "kdf", "iterations", "salt", "iv", "wrapped"}
    assert (record["v"], record["kdf"], record["iterations"]) == (1, "PBKDF2-SHA256", FAST)
    assert (len(b64decode(record["salt"])), len(b64decode(record["iv"]))) == (16, 12)
    # The composed form opens what was wrapped with the decomposed one: the browser normalised it (NFC).
    assert reference_unwrap(record, "Één zin, café".encode()) is not None
    opened = vault.call("unwrap", record, {"passphrase": "Één zin, café"}, "owner-again", {})
    assert opened == {"extractable": False, "publicRaw": b64(public_raw)}
    sealed = vault.encrypt(b"only for the owner", public_raw, CHUNK)
    assert vault.opens(sealed, "owner-again") == b"only for the owner"

    for wrong in ("één zin, café", "Één zin, café ", "Één zin, cafe"):
        result = vault.call("unwrap", record, wrong, "nobody", {})
        assert result["error"]["name"] == "WrongSecret", wrong
    changed = dict(record, wrapped=b64(flipped(b64decode(record["wrapped"]), 3)))
    assert vault.call("unwrap", changed, decomposed, "nobody", {})["error"]["name"] == "WrongSecret"
    fewer = dict(record, iterations=FAST - 1)  # the iterations are part of the key: a changed count opens nothing
    assert vault.call("unwrap", fewer, decomposed, "nobody", {})["error"]["name"] == "WrongSecret"


def test_a_new_passphrase_rewraps_a_key_unwrapped_as_extractable(vault: Vault) -> None:
    public_raw = vault.new_key_pair("moving")
    first = vault.call("wrap", "moving", "old passphrase", {"iterations": FAST})
    assert vault.call("unwrap", first, "old passphrase", "moving-open", {"extractable": True})["extractable"] is True
    second = vault.call("wrap", "moving-open", "new passphrase", {"iterations": FAST})
    assert second["salt"] != first["salt"]
    assert vault.call("unwrap", second, "new passphrase", "moving-new", {})["publicRaw"] == b64(public_raw)
    assert vault.call("unwrap", second, "old passphrase", "nobody", {})["error"]["name"] == "WrongSecret"
    # A key unwrapped without {extractable: true} cannot be wrapped again, and says how to get one that can.
    vault.call("unwrap", first, "old passphrase", "locked", {})
    message = vault.page.evaluate(
        "async () => { try { await window.vaultTest.wrap('locked', 'x', { iterations: 1 }); return 'wrapped'; }"
        " catch (e) { return e.name + ': ' + e.message; } }"
    )
    assert message.startswith("TypeError") and "extractable: true" in message


def test_a_recovery_code_has_its_shape_and_opens_the_key_however_it_is_typed(vault: Vault) -> None:
    codes = vault.page.evaluate("() => Array.from({ length: 60 }, () => window.ClaimsiteVault.newRecoveryCode())")
    pattern = re.compile(rf"^[{CROCKFORD}]{{4}}(-[{CROCKFORD}]{{4}}){{7}}$")
    assert all(pattern.match(code) for code in codes), codes[:3]
    assert len(set(codes)) == len(codes)
    assert set("".join(codes).replace("-", "")) == set(CROCKFORD)  # 1920 characters: every one of the 32 appears

    public_raw = vault.new_key_pair("recoverable")
    code = next(code for code in codes if "0" in code and "1" in code)  # to type them as their look-alikes
    record = vault.call("wrap", "recoverable", {"recoveryCode": code}, {"iterations": FAST})
    assert raw_point(reference_unwrap(record, recovery_password(code)).public_key()) == public_raw
    typed_as_people_do = (
        code,
        code.lower(),
        code.replace("-", ""),
        code[:9].lower() + code[9:],
        " " + code.replace("-", " ").lower() + " ",  # spaces for dashes
        code.replace("-", "--").replace("-", "\u2013", 1),  # extra dashes, one a phone's long dash
        code[:4] + "\t" + code[4:].replace("0", "O").replace("1", "l"),  # Crockford's look-alikes
    )
    for typed in typed_as_people_do:
        assert vault.call("unwrap", record, {"recoveryCode": typed}, "recovered", {})["publicRaw"] == b64(public_raw)
    other = next(other for other in codes if other != code)
    assert vault.call("unwrap", record, {"recoveryCode": other}, "nobody", {})["error"]["name"] == "WrongSecret"
    # The code as a passphrase is another password (dashes and all): it does not open the record.
    assert vault.call("unwrap", record, code, "nobody", {})["error"]["name"] == "WrongSecret"
    short = vault.call("unwrap", record, {"recoveryCode": code[:-1]}, "nobody", {})["error"]
    assert short["name"] == "WrongSecret" and "not a recovery code" in short["message"]


def test_a_record_that_is_not_a_wrapped_key_says_so(vault: Vault) -> None:
    vault.new_key_pair("plain")
    record = vault.call("wrap", "plain", "passphrase", {"iterations": FAST})
    broken = {
        "version 2": dict(record, v=2),
        "another kdf": dict(record, kdf="Argon2id"),
        "an unknown field": dict(record, extra="x"),
        "a short salt": dict(record, salt=b64(bytes(8))),
        "no iterations": {k: v for k, v in record.items() if k != "iterations"},
        "iterations as text": dict(record, iterations="1000"),
    }
    for what, bad in broken.items():
        error = vault.call("unwrap", bad, "passphrase", "nobody", {})["error"]
        assert error["name"] == "VaultError" and "Not a wrapped vault key" in error["message"], what
    assert vault.call("unwrap", "{not json", "passphrase", "nobody", {})["error"]["name"] == "VaultError"


def test_the_real_iterations_are_the_default_and_python_opens_them(vault: Vault) -> None:
    public_raw = vault.new_key_pair("real")
    record = vault.call("wrap", "real", "een lange wachtzin", {})
    assert record["iterations"] == 600_000
    assert raw_point(reference_unwrap(record, passphrase_password("een lange wachtzin")).public_key()) == public_raw
    assert vault.call("unwrap", record, "een lange wachtzin", "real-again", {})["publicRaw"] == b64(public_raw)
