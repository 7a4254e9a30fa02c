"""request.cf: Cloudflare's incoming-request properties with local values."""

from __future__ import annotations

import pytest

from workerlab.compat.cf import LOCAL_CF_LOCATION, LOCAL_CF_TLS, local_cf
from workerlab.compat.jsrequest import js_request
from workerlab.compat.request import Request


def test_plain_http_has_no_tls() -> None:
    cf = local_cf("1.1", tls=False)
    assert (cf.httpProtocol, cf.tlsVersion, cf.tlsCipher, cf.requestPriority) == ("HTTP/1.1", "", "", "")
    assert cf.tlsClientAuth.certPresented == "0"  # Cloudflare's placeholder, over plain HTTP too
    assert "clientAcceptEncoding" not in cf
    for field, value in LOCAL_CF_LOCATION.items():
        assert cf[field] == value and getattr(cf, field) == value
    assert isinstance(cf.asn, int) and isinstance(cf.latitude, str) and cf.clientTcpRtt == 0


def test_https_and_http2() -> None:
    cf = local_cf("2", tls=True, accept_encoding="gzip, br")
    assert (cf.httpProtocol, cf.tlsVersion, cf.tlsCipher) == (
        "HTTP/2",
        LOCAL_CF_TLS["tlsVersion"],
        LOCAL_CF_TLS["tlsCipher"],
    )
    assert cf.tlsClientAuth.certPresented == "0" and cf.clientAcceptEncoding == "gzip, br"
    assert cf.requestPriority != ""
    assert local_cf("1.0").httpProtocol == "HTTP/1.0"
    http3 = local_cf("3", tls=True)
    assert (http3.httpProtocol, http3.clientQuicRtt, "clientTcpRtt" in http3) == ("HTTP/3", 0, False)
    with pytest.raises(ValueError, match="unknown http_version '4'"):
        local_cf("4")


def test_overrides_and_independent_copies() -> None:
    cf = local_cf("1.1", False, {"country": "JP", "botScore": 99})
    assert (cf.country, cf.botScore) == ("JP", 99)
    cf.colo = "NRT"
    assert local_cf().colo == LOCAL_CF_LOCATION["colo"]
    assert local_cf().to_py() == dict(local_cf())


def test_request_cf_for_server_requests_and_built_ones() -> None:
    request = Request._from_asgi("http://localhost/", "GET", [], b"", cf=local_cf())
    assert request.cf is not None and request.cf.colo == request.cf["colo"]
    view_cf = js_request(request).cf
    assert view_cf is not None and view_cf.tlsVersion == ""
    assert Request("https://x.test/").cf is None  # as on Cloudflare for a request built in code
    assert Request("https://x.test/", cf={"cacheTtl": 5}).cf == {"cacheTtl": 5}
