"""Who may talk to a batch's Dask scheduler: TLS with the studio's certificates.

A Dask scheduler runs whatever its clients submit on every worker, so a scheduler that
accepts plain TCP on a shared network lets anyone who reaches it run code on the render
nodes. ``vidstyle batch --scheduler tls://HOST:PORT`` connects with mutual TLS: the
studio's CA, and this machine's certificate and key, which the scheduler checks against
the same CA. They come from ``--tls-ca-file``/``--tls-cert``/``--tls-key``
(:class:`TLSFiles`) or, when none of those is given, from Dask's own configuration
(``distributed.comm.tls.ca-file``, ``distributed.comm.tls.client.cert`` and
``.client.key`` in ``~/.config/dask/*.yaml``, or the environment variables
``DASK_DISTRIBUTED__COMM__TLS__CA_FILE``, ``DASK_DISTRIBUTED__COMM__TLS__CLIENT__CERT``,
``DASK_DISTRIBUTED__COMM__TLS__CLIENT__KEY``). Either way the result is a
:class:`distributed.security.Security` with ``require_encryption=True``, so the client
never falls back to plain TCP.
"""

from __future__ import annotations

import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from vidstyle.errors import InputError, OptionError

__all__ = ["TLSFiles", "batch_security", "insecure_warning", "is_loopback", "scheduler_scheme_host"]

#: Host names that always mean this machine (IP addresses are checked with :mod:`ipaddress`).
LOOPBACK_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")
#: What to pass, in the messages of a tls:// scheduler without certificates.
_HOW = ("pass --tls-ca-file CA.pem --tls-cert CERT.pem --tls-key KEY.pem (the studio's CA, this machine's "
        "certificate and key), or set distributed.comm.tls.ca-file, distributed.comm.tls.client.cert and "
        "distributed.comm.tls.client.key in Dask's configuration (DASK_DISTRIBUTED__COMM__TLS__CA_FILE, "
        "..._CLIENT__CERT, ..._CLIENT__KEY)")


@dataclass(frozen=True)
class TLSFiles:
    """Certificates given on the command line (``--tls-ca-file``, ``--tls-cert``, ``--tls-key``).

    Attributes
    ----------
    ca_file : Path or None
        PEM file of the CA(s) that signed the scheduler's and workers' certificates.
    cert : Path or None
        PEM certificate of this machine (the client), signed by that CA; may hold the key too.
    key : Path or None
        PEM private key of ``cert`` when it is a separate file.
    """

    ca_file: Path | None = None
    cert: Path | None = None
    key: Path | None = None

    def given(self) -> bool:
        """True when any of the three was given."""
        return any(p is not None for p in (self.ca_file, self.cert, self.key))


def scheduler_scheme_host(address: str) -> tuple[str, str]:
    """``(scheme, host)`` of a scheduler address; Dask's default scheme ``tcp`` when none is written.

    >>> scheduler_scheme_host("tls://[::1]:8786")
    ('tls', '::1')
    >>> scheduler_scheme_host("render1:8786")
    ('tcp', 'render1')
    """
    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    return parts.scheme.lower(), (parts.hostname or "").lower()


def is_loopback(host: str) -> bool:
    """True for this machine's loopback: ``localhost``, 127.0.0.0/8 or ``::1`` (names are not resolved)."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def insecure_warning(scheduler: str | None) -> str | None:
    """A one-line warning for a plain-TCP scheduler that is not on loopback, else None."""
    if scheduler is None:
        return None
    scheme, host = scheduler_scheme_host(scheduler)
    if scheme != "tcp" or is_loopback(host):
        return None
    return (f"--scheduler {scheduler} is plain TCP: anyone who can reach it can run code on the render nodes; "
            "use tls:// with the studio's certificates (--tls-ca-file, --tls-cert, --tls-key)")


def batch_security(scheduler: str | None, files: TLSFiles | None = None) -> Any:
    """The :class:`distributed.security.Security` to connect to ``scheduler`` with, or None.

    Parameters
    ----------
    scheduler : str or None
        ``--scheduler`` (None: the embedded cluster on loopback, no TLS).
    files : TLSFiles, optional
        Certificates from the command line; without them a ``tls://`` scheduler uses Dask's
        configuration.

    Returns
    -------
    distributed.security.Security or None
        For a ``tls://`` address, with ``require_encryption=True`` and the certificates
        loaded once (so a bad file fails here, not at the first connection); None otherwise.

    Raises
    ------
    OptionError
        Certificates given without a ``tls://`` scheduler; a ``tls://`` scheduler without a CA
        and a certificate (the message says what to pass); files that are no PEM
        certificate/key, or a key that does not belong to the certificate.
    InputError
        A given file does not exist.
    """
    files = files or TLSFiles()
    scheme = scheduler_scheme_host(scheduler)[0] if scheduler is not None else None
    if scheme != "tls":
        if files.given():
            where = f"--scheduler {scheduler}" if scheduler is not None else "the local cluster (no --scheduler)"
            raise OptionError(f"--tls-ca-file/--tls-cert/--tls-key apply to a tls:// scheduler, not {where}: "
                              "write the address as tls://HOST:PORT, or drop them")
        return None
    from distributed.security import Security

    if files.given():
        if files.ca_file is None or files.cert is None:
            raise OptionError(f"--scheduler {scheduler} needs both --tls-ca-file and --tls-cert "
                              "(and --tls-key unless the certificate file holds the key)")
        for flag, path in (("--tls-ca-file", files.ca_file), ("--tls-cert", files.cert), ("--tls-key", files.key)):
            if path is not None and not Path(path).is_file():
                raise InputError(f"{flag} {path}: file not found")
        security = Security(tls_ca_file=str(files.ca_file), tls_client_cert=str(files.cert),
                            tls_client_key=str(files.key) if files.key is not None else None,
                            require_encryption=True)
        given = "--tls-ca-file/--tls-cert/--tls-key"
    else:
        security = Security(require_encryption=True)  # distributed.comm.tls.* of Dask's configuration
        if not (security.tls_ca_file and security.tls_client_cert):
            raise OptionError(f"--scheduler {scheduler} needs certificates and none is configured: {_HOW}")
        given = "Dask's distributed.comm.tls configuration"
    try:
        security.get_connection_args("client")  # loads CA, certificate and key now
    except (ssl.SSLError, OSError, ValueError) as exc:
        reason = str(exc).strip() or type(exc).__name__
        raise OptionError(f"cannot use the TLS certificates of {given} ({reason}): give the studio's CA and a "
                          "certificate signed by it with its own key, as PEM files") from None
    return security
