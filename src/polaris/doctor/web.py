"""Session cookies and TLS: what reaches a browser in the clear."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

from polaris.doctor.findings import DoctorContext, Finding, Severity


def check(ctx: DoctorContext) -> Iterator[Finding]:
    settings = ctx.settings
    secure = settings.session.cookie_secure
    yield Finding(
        "web.cookie_secure",
        Severity.OK if secure else Severity.CRITICAL,
        "session.cookie_secure: the session cookie is sent over HTTPS only",
        str(secure).lower(),
        "" if secure else "set session.cookie_secure = true and serve over HTTPS",
    )
    proxies = settings.http.trusted_proxies
    if proxies:
        yield Finding(
            "web.hsts",
            Severity.OK,
            "HSTS: sent on every request that arrives over HTTPS",
            f"HTTPS from the trusted proxies {', '.join(proxies)}",
        )
    elif _loopback(settings.http.host):
        yield Finding(
            "web.hsts",
            Severity.WARNING,
            "HSTS: sent on every request that arrives over HTTPS",
            f"listening on {settings.http.host} with no http.trusted_proxies: the TLS proxy's "
            "X-Forwarded-Proto is ignored, so HSTS is never sent",
            "list the TLS proxy's address in http.trusted_proxies, or have the proxy send "
            "Strict-Transport-Security itself",
        )
    else:
        yield Finding(
            "web.hsts",
            Severity.CRITICAL,
            "HSTS: sent on every request that arrives over HTTPS",
            f"listening on {settings.http.host} directly, in plain HTTP",
            "put a TLS proxy in front, listen on 127.0.0.1 and list the proxy in "
            "http.trusted_proxies",
        )


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
