"""The files the mandate seal is made with (:mod:`core.signup.mandate_seal`), and the development CA and seal
certificate made once for a machine without real ones. A kernel module: the settings resolve the files."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

DEVELOPMENT_NAME = "claimsite development seal - not valid as evidence"


@dataclass(frozen=True)
class TokenKey:
    """A key that never leaves a hardware token (or softhsm2), reached through its PKCS#11 library."""

    library: Path  # e.g. /usr/lib/softhsm/libsofthsm2.so, or the token maker's
    token: str  # the token's label
    key: str  # the key's label on the token
    pin: str = field(repr=False)  # the user PIN (from the environment, like every secret)


@dataclass(frozen=True)
class SealIdentity:
    """Where the seal's key and certificates are: the certificates as PEM files, the key as a PEM file or on a
    token (exactly one of ``key`` and ``token_key``)."""

    key: Path | None
    certificate: Path
    chain: tuple[Path, ...] = ()
    token_key: TokenKey | None = None


def development_identity(folder: Path, common_name: str = DEVELOPMENT_NAME) -> SealIdentity:
    """A CA and a seal certificate issued by it, in ``folder`` (made the first time; the keys readable by the owner
    only). The seal's key is RSA 3072 (see :func:`certificate_problem`), the CA's EC P-256. ``common_name`` is the
    seal's name; production refuses the default one."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    identity = SealIdentity(folder / "seal-key.pem", folder / "seal-certificate.pem", (folder / "ca-certificate.pem",))
    made = identity.key.exists() and identity.certificate.exists() and identity.chain[0].exists()
    # A seal made before it had to be RSA (see certificate_problem) is made again.
    if made and _key_kind(x509.load_pem_x509_certificate(identity.certificate.read_bytes()).public_key()) == "RSA":
        return identity

    folder.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)

    def name(common: str) -> x509.Name:
        return x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "claimsite development"),
                x509.NameAttribute(NameOID.COMMON_NAME, common),
            ]
        )

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("claimsite development CA"))
        .issuer_name(name("claimsite development CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    seal_key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    seal = (
        x509.CertificateBuilder()
        .subject_name(name(common_name))
        .issuer_name(ca.subject)
        .public_key(seal_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=3 * 365))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, True, False, False, False, False, False, False, False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(seal_key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    for path, key in ((identity.key, seal_key), (folder / "ca-key.pem", ca_key)):
        data = key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        path.touch(mode=0o600)
        path.write_bytes(data)
    identity.chain[0].write_bytes(ca.public_bytes(pem))
    identity.certificate.write_bytes(seal.public_bytes(pem))
    return identity


def certificate_problem(identity: SealIdentity, now: dt.datetime) -> str | None:
    """Why production must not seal with ``identity``'s certificate (unreadable, not yet or no longer valid, or
    the development seal), or None. The key is not opened here: a web server never needs it, only the worker."""
    from cryptography import x509

    try:
        certificate = x509.load_pem_x509_certificate(identity.certificate.read_bytes())
    except (OSError, ValueError) as exc:
        return f"{identity.certificate} is not a readable PEM certificate ({exc})"
    kind = _key_kind(certificate.public_key())
    if kind != "RSA":
        # pyHanko marks an ECDSA or EdDSA seal as PDF 2.0 (ISO/TS 32002), and PDF/A-3 is PDF 1.7: the mandate
        # would no longer be the archival PDF it claims to be. Trust service providers issue RSA seals as well.
        return (
            f"{identity.certificate} certifies an {kind} key; a mandate seal must be "
            "RSA (3072 bits or more), since an ECDSA seal makes the PDF version 2.0, which PDF/A-3 does not allow"
        )
    names = [attribute.value for attribute in certificate.subject]
    if DEVELOPMENT_NAME in names:
        return f"{identity.certificate} is the development seal, which is not valid as evidence"
    if now < certificate.not_valid_before_utc:
        return f"{identity.certificate} is valid only from {certificate.not_valid_before_utc:%Y-%m-%d %H:%M} UTC"
    if now >= certificate.not_valid_after_utc:
        return f"{identity.certificate} expired on {certificate.not_valid_after_utc:%Y-%m-%d %H:%M} UTC"
    return None


def _key_kind(public_key: object) -> str:
    """ "RSA", "EC" or the name of another kind of public key."""
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    if isinstance(public_key, rsa.RSAPublicKey):
        return "RSA"
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return "EC"
    return type(public_key).__name__.replace("PublicKey", "")
