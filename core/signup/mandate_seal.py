"""The foundation's electronic seal on every mandate PDF: a PAdES signature (pyHanko) made by the worker right after
the PDF is laid out, so that any PDF reader shows who sealed it and that nothing changed since, and the SHA-256 the
database records is that of the sealed file.

The seal is made with the foundation's signing certificate and its key, given as files (``CLAIMSITE_MANDATE_SEAL_KEY``
and ``CLAIMSITE_MANDATE_SEAL_CERTIFICATE``, with ``CLAIMSITE_MANDATE_SEAL_CHAIN`` for the issuing CAs). Outside
production, without them, a self-made CA and seal certificate are created once under ``instance/seal/`` (see
:func:`development_identity`): fine to try the whole flow, worthless as evidence, and said so in the certificate's
name. Sealing is off the request path: only the mandate job calls :meth:`MandateSealer.seal`.

pyHanko takes about a second to import, so it is imported on the first seal, not with this module.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from io import BytesIO
from typing import Any, TypeVar

from flask import current_app

from core.certificates import SealIdentity
from core.site import site

FIELD_NAME = "FoundationSeal"
T = TypeVar("T")


def outside_any_event_loop(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``function(*args, **kwargs)``, in a thread of its own when this thread runs an event loop. pyHanko signs and
    validates with ``asyncio.run()``, which cannot run inside a running loop (an async server; a test that drives a
    browser through Playwright and runs the worker or a command in the same thread)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return function(*args, **kwargs)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="pyhanko") as pool:
        return pool.submit(function, *args, **kwargs).result()


class MandateSealer:
    """Seals mandate PDFs with one identity; loads the key once, and is safe to share between threads."""

    def __init__(self, identity: SealIdentity, timestamp_url: str = "") -> None:
        self.identity = identity
        self.timestamp_url = timestamp_url
        self._lock = threading.Lock()

    @functools.cached_property
    def _signer(self) -> Any:
        from pyhanko.keys import load_cert_from_pemder, load_certs_from_pemder
        from pyhanko.sign import signers

        identity = self.identity
        if identity.token_key is None:
            loaded = signers.SimpleSigner.load(
                str(identity.key),
                str(identity.certificate),
                ca_chain_files=[str(path) for path in identity.chain],
            )
            return _key_kept(loaded)
        from pkcs11.exceptions import UserAlreadyLoggedIn
        from pyhanko.config.pkcs11 import TokenCriteria
        from pyhanko.sign.pkcs11 import PKCS11Signer, open_pkcs11_session

        token = identity.token_key
        criteria = TokenCriteria(label=token.token)
        try:
            session = open_pkcs11_session(str(token.library), token_criteria=criteria, user_pin=token.pin)
        except UserAlreadyLoggedIn:
            # PKCS#11 logs in per process and token: another sealer of this process (a second app) already did.
            session = open_pkcs11_session(str(token.library), token_criteria=criteria)
        certificate = load_cert_from_pemder(str(identity.certificate))
        return PKCS11Signer(
            session,
            key_label=token.key,
            signing_cert=certificate,
            ca_chain=list(load_certs_from_pemder([str(path) for path in identity.chain])),
            # Many tokens (softhsm2 among them) sign EC keys only with raw ECDSA: pyHanko hashes first then.
            use_raw_mechanism=certificate.public_key.algorithm == "ec",
        )

    def seal(self, pdf: bytes, *, reason: str, location: str, contact: str) -> bytes:
        """``pdf`` with the seal added as an incremental update (the bytes before it stay as they were)."""
        return outside_any_event_loop(self._seal, pdf, reason=reason, location=location, contact=contact)

    def _seal(self, pdf: bytes, *, reason: str, location: str, contact: str) -> bytes:
        from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
        from pyhanko.sign import fields, signers, timestamps

        timestamper = timestamps.HTTPTimeStamper(self.timestamp_url) if self.timestamp_url else None
        metadata = signers.PdfSignatureMetadata(
            field_name=FIELD_NAME,
            md_algorithm="sha256",
            subfilter=fields.SigSeedSubFilter.PADES,
            reason=reason,
            location=location,
            contact_info=contact,
        )
        output = BytesIO()
        writer = IncrementalPdfFileWriter(BytesIO(pdf), strict=False)
        with self._lock:  # a token session signs one thing at a time
            signers.PdfSigner(metadata, self._signer, timestamper=timestamper).sign_pdf(writer, output=output)
        return output.getvalue()

    def certificate(self) -> Any:
        """The seal's certificate (an ``asn1crypto`` certificate)."""
        with self._lock:
            return self._signer.signing_cert


SEALER_EXTENSION = "claimsite.mandate_sealer"


def current_sealer() -> MandateSealer:
    """The app's sealer (made on first use, from the settings: every mandate is sealed)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if SEALER_EXTENSION not in app.extensions:
        settings = site().settings
        identity = settings.resolved_seal_identity()
        app.extensions[SEALER_EXTENSION] = MandateSealer(identity, settings.mandate_timestamp_url.strip())
    return app.extensions[SEALER_EXTENSION]


def _key_kept(signer: Any) -> Any:
    """``signer`` (pyHanko's ``SimpleSigner``, a key from a file) with its private key parsed once. pyHanko parses
    the key from DER on every signature, which for an RSA key runs OpenSSL's key checks each time: about 170 ms of a
    3072-bit seal's 175 ms (bench/mandate.py --seal). The signature is the same; only the parsing is kept."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
    from pyhanko.sign import signers
    from pyhanko_certvalidator.util import get_pyca_cryptography_hash

    class KeyKeptSigner(signers.SimpleSigner):  # type: ignore[misc]
        @functools.cached_property
        def _private_key(self) -> Any:
            return serialization.load_der_private_key(self.signing_key.dump(), password=None)

        def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
            if self.get_signature_mechanism_for_digest(digest_algorithm).signature_algo == "rsassa_pkcs1v15":
                return self._private_key.sign(data, PKCS1v15(), get_pyca_cryptography_hash(digest_algorithm))
            return super().sign_raw(data, digest_algorithm)  # other kinds of key: pyHanko's own way

    return KeyKeptSigner(
        signing_cert=signer.signing_cert,
        signing_key=signer.signing_key,
        cert_registry=signer.cert_registry,
        signature_mechanism=signer.signature_mechanism,
        prefer_pss=signer.prefer_pss,
    )
