from __future__ import annotations

from collections.abc import Callable

from polaris.doctor import web
from polaris.doctor.findings import DoctorContext, Severity
from tests.doctor.conftest import severity_of


def test_insecure_cookies_and_plain_http_on_a_public_address_are_critical(
    make_ctx: Callable[..., DoctorContext],
) -> None:
    findings = list(
        web.check(make_ctx(session={"cookie_secure": False}, http={"host": "10.1.2.3"}))
    )
    assert severity_of(findings, "web.cookie_secure") is Severity.CRITICAL
    assert severity_of(findings, "web.hsts") is Severity.CRITICAL


def test_a_proxy_not_trusted_means_no_hsts_and_a_trusted_one_passes(
    make_ctx: Callable[..., DoctorContext],
) -> None:
    untrusted = list(web.check(make_ctx()))
    assert severity_of(untrusted, "web.cookie_secure") is Severity.OK
    assert severity_of(untrusted, "web.hsts") is Severity.WARNING
    trusted = list(web.check(make_ctx(http={"trusted_proxies": ["127.0.0.1"]})))
    assert severity_of(trusted, "web.hsts") is Severity.OK


def test_webdav_over_plain_http_is_flagged(make_ctx: Callable[..., DoctorContext]) -> None:
    public = list(web.check(make_ctx(http={"host": "10.1.2.3"}, dav={"allow_plain_http": True})))
    assert severity_of(public, "web.dav_https") is Severity.CRITICAL
    local = list(web.check(make_ctx(dav={"allow_plain_http": True})))
    assert severity_of(local, "web.dav_https") is Severity.WARNING
    no_proxy = list(web.check(make_ctx()))
    assert severity_of(no_proxy, "web.dav_https") is Severity.WARNING
    proxied = list(web.check(make_ctx(http={"trusted_proxies": ["127.0.0.1"]})))
    assert severity_of(proxied, "web.dav_https") is Severity.OK
    off = list(web.check(make_ctx(dav={"enabled": False})))
    assert severity_of(off, "web.dav_https") is Severity.OK
