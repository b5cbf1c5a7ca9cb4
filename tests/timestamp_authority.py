"""An RFC 3161 time-stamping authority on loopback, for the tests of the mandate seal: certomancer (made for
pyHanko's own tests) serves a TSA of a small PKI whose keys are made fresh for each run.

    with TimestampAuthority(folder) as tsa:
        tsa.url          # http://127.0.0.1:PORT/testing/tsa/tsa, for CLAIMSITE_MANDATE_TIMESTAMP_URL
        tsa.root_pem     # the root CA that issued the TSA's certificate, to trust when verifying
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from werkzeug.serving import BaseWSGIServer, make_server

from tests.smtp_server import free_port

ARCH = "testing"


def _config(url: str) -> dict[str, Any]:
    validity = {"valid-from": "2020-01-01T00:00:00+0000", "valid-to": "2100-01-01T00:00:00+0000"}
    return {
        "external-url-prefix": url,
        "keysets": {"testing": {"keys": {"root": {"path": "root.key.pem"}, "tsa": {"path": "tsa.key.pem"}}}},
        "pki-architectures": {
            ARCH: {
                "keyset": "testing",
                "entity-defaults": {"country-name": "NL", "organization-name": "Loopback Time Authority"},
                "entities": {"root": {"common-name": "Loopback Root CA"}, "tsa": {"common-name": "Loopback TSA"}},
                "certs": {
                    "root": {
                        "subject": "root",
                        "issuer": "root",
                        "validity": validity,
                        "extensions": [
                            {"id": "basic_constraints", "critical": True, "value": {"ca": True}},
                            {
                                "id": "key_usage",
                                "critical": True,
                                "smart-value": {
                                    "schema": "key-usage",
                                    "params": ["digital_signature", "key_cert_sign", "crl_sign"],
                                },
                            },
                        ],
                    },
                    "tsa": {
                        "issuer": "root",
                        "validity": validity,
                        "extensions": [
                            {
                                "id": "key_usage",
                                "critical": True,
                                "smart-value": {"schema": "key-usage", "params": ["digital_signature"]},
                            },
                            {"id": "extended_key_usage", "critical": True, "value": ["time_stamping"]},
                        ],
                    },
                },
                "services": {"time-stamping": {"tsa": {"signing-key": "tsa", "signing-cert": "tsa"}}},
            }
        },
    }


class TimestampAuthority:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.url = f"{self.base}/{ARCH}/tsa/tsa"
        self.root_pem = folder / "tsa-root.pem"
        self._server: BaseWSGIServer | None = None
        self.requests = 0

    def start(self) -> TimestampAuthority:
        from certomancer.integrations.animator import Animator, AnimatorArchStore
        from certomancer.registry import CertomancerConfig

        self.folder.mkdir(parents=True, exist_ok=True)
        for name in ("root", "tsa"):
            key = ec.generate_private_key(ec.SECP256R1())
            (self.folder / f"{name}.key.pem").write_bytes(
                key.private_bytes(
                    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
                )
            )
        config_path = self.folder / "certomancer.yml"
        config_path.write_text(yaml.safe_dump(_config(self.base)))
        config = CertomancerConfig.from_file(str(config_path), key_search_dir=str(self.folder))
        architecture = config.get_pki_arch(ARCH)
        self.root_pem.write_bytes(_pem(architecture.get_cert("root").dump()))
        animator = Animator(AnimatorArchStore({ARCH: architecture}), with_web_ui=False)

        def counted(environ: dict[str, Any], start_response: Any) -> Any:
            self.requests += 1
            return animator(environ, start_response)

        self._server = make_server("127.0.0.1", self.port, counted, threaded=True)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> TimestampAuthority:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _pem(der: bytes) -> bytes:
    import base64

    body = base64.encodebytes(der).decode().replace("\n", "")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return ("-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n").encode()
