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
    yield from dav(ctx)
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


def dav(ctx: DoctorContext) -> Iterator[Finding]:
    """WebDAV sends an app password with every request (Basic): HTTPS only (docs/clients.md)."""
    settings = ctx.settings
    title = "WebDAV: Basic authentication answered over HTTPS only"
    if not settings.dav.enabled:
        yield Finding("web.dav_https", Severity.OK, title, "WebDAV is off (dav.enabled = false)")
    elif settings.dav.allow_plain_http:
        public = not _loopback(settings.http.host)
        yield Finding(
            "web.dav_https",
            Severity.CRITICAL if public else Severity.WARNING,
            title,
            f"dav.allow_plain_http = true, listening on {settings.http.host}: app passwords may "
            "cross the network in the clear",
            "set dav.allow_plain_http = false and serve WebDAV through the TLS proxy",
        )
    elif not settings.http.trusted_proxies:
        yield Finding(
            "web.dav_https",
            Severity.WARNING,
            title,
            "no http.trusted_proxies: no request is known to be HTTPS, so WebDAV refuses them all",
            "list the TLS proxy's address in http.trusted_proxies",
        )
    else:
        yield Finding("web.dav_https", Severity.OK, title, "HTTPS from the trusted proxies")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
