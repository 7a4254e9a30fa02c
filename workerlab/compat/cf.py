"""``request.cf`` for local requests: Cloudflare's incoming-request properties, local values.

The connection fields (``httpProtocol``, ``tlsVersion``, ``tlsCipher``, ``clientAcceptEncoding``)
say what the local connection really was: plain HTTP has ``tlsVersion == ""``, as Cloudflare
reports it. The location and network fields cannot be measured locally; they hold the fixed
values of :data:`LOCAL_CF_LOCATION`, shaped as Cloudflare sends them, and tests override any
field with ``worker.fetch(..., cf={...})``.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from workerlab.compat.jsvalues import JsObject

#: Where a local request seems to come from and arrive: the location and network fields of
#: Cloudflare's ``IncomingRequestCfProperties`` (developers.cloudflare.com/workers/runtime-apis/
#: request/#incomingrequestcfproperties), fixed values with Cloudflare's types (coordinates are
#: strings, ``asn`` and ``clientTcpRtt`` numbers).
LOCAL_CF_LOCATION: Mapping[str, Any] = {
    "colo": "LHR",
    "country": "GB",
    "continent": "EU",
    "city": "London",
    "region": "England",
    "regionCode": "ENG",
    "postalCode": "EC1A",
    "timezone": "Europe/London",
    "latitude": "51.50740",
    "longitude": "-0.12780",
    "asn": 64496,  # an ASN reserved for documentation (RFC 5398)
    "asOrganization": "workerlab local network",
    "edgeRequestKeepAliveStatus": 0,  # 0: unknown
    "verifiedBotCategory": "",
}

#: TLS fields Cloudflare adds for an HTTPS request (values as for a TLS 1.3 client without a
#: client certificate).
LOCAL_CF_TLS: Mapping[str, str] = {
    "tlsVersion": "TLSv1.3",
    "tlsCipher": "AEAD-AES128-GCM-SHA256",
}

#: ``cf.tlsClientAuth`` of a client that presented no certificate (Cloudflare's placeholder, sent
#: over plain HTTP too).
NO_CLIENT_CERTIFICATE: Mapping[str, str | bool] = {
    "certPresented": "0",
    "certVerified": "NONE",
    "certRevoked": "0",
    "certIssuerDN": "",
    "certSubjectDN": "",
    "certIssuerDNRFC2253": "",
    "certSubjectDNRFC2253": "",
    "certIssuerDNLegacy": "",
    "certSubjectDNLegacy": "",
    "certSerial": "",
    "certIssuerSerial": "",
    "certSKI": "",
    "certIssuerSKI": "",
    "certFingerprintSHA1": "",
    "certFingerprintSHA256": "",
    "certNotBefore": "",
    "certNotAfter": "",
    "certRFC9440TooLarge": False,
    "certChainRFC9440TooLarge": False,
}

#: ``cf.httpProtocol`` for each ASGI ``http_version``.
HTTP_PROTOCOLS: Mapping[str, str] = {"1.0": "HTTP/1.0", "1.1": "HTTP/1.1", "2": "HTTP/2", "3": "HTTP/3"}

#: ``cf.requestPriority`` of an HTTP/2 or HTTP/3 request carrying no priority of its own.
DEFAULT_REQUEST_PRIORITY = "weight=16;exclusive=0"


@cache
def _base(http_version: str, tls: bool) -> Mapping[str, Any]:
    protocol = HTTP_PROTOCOLS.get(http_version)
    if protocol is None:
        raise ValueError(
            f"local_cf(): unknown http_version {http_version!r}; expected one of {', '.join(HTTP_PROTOCOLS)}"
        )
    fields: dict[str, Any] = dict(LOCAL_CF_LOCATION)
    fields["httpProtocol"] = protocol
    fields["requestPriority"] = "" if http_version.startswith("1") else DEFAULT_REQUEST_PRIORITY
    # The round-trip time of the connection: TCP up to HTTP/2, QUIC for HTTP/3 (loopback: 0 ms).
    fields["clientQuicRtt" if http_version == "3" else "clientTcpRtt"] = 0
    if tls:
        fields.update(LOCAL_CF_TLS)
    else:
        fields["tlsVersion"] = fields["tlsCipher"] = ""
    return fields


def local_cf(
    http_version: str = "1.1",
    tls: bool = False,
    overrides: Mapping[str, Any] | None = None,
    *,
    accept_encoding: str | None = None,
) -> JsObject:
    """The ``request.cf`` of a local request.

    ``http_version`` is the ASGI scope's ``"http_version"``, ``tls`` whether the connection was
    HTTPS (scope ``"scheme"``), ``accept_encoding`` the request's Accept-Encoding header (Cloudflare's
    ``clientAcceptEncoding``, present when given). ``overrides`` replace or add fields (the
    harness's ``cf={...}``).
    """
    cf = JsObject(_base(http_version, tls))
    cf["tlsClientAuth"] = JsObject(NO_CLIENT_CERTIFICATE)
    if accept_encoding:
        cf["clientAcceptEncoding"] = accept_encoding
    if overrides:
        cf.update(overrides)
    return cf


def scope_cf(scope: Mapping[str, Any]) -> JsObject:
    """The ``request.cf`` of an ASGI request. The server hands a request ``partial(scope_cf, scope)``,
    called when the worker first reads ``request.cf`` (most never do): cheaper per request than
    building the object."""
    accept_encoding = None
    for name, value in scope["headers"]:
        if name == b"accept-encoding":
            accept_encoding = value.decode("latin-1")
            break
    return local_cf(
        scope.get("http_version", "1.1"),
        scope.get("scheme") == "https",
        scope.get("workerlab.cf"),
        accept_encoding=accept_encoding,
    )
