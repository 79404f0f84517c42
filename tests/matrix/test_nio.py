"""matrix-nio, a real Matrix client library, against a real ``polaris serve``.

Each test drives nio's own requests (``AsyncClient``) over a socket; endpoints nio has no
method for are called through its ``send`` with its access token, as an app would.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import io
import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from nio import (
    AsyncClient,
    DeleteDevicesAuthResponse,
    DeleteDevicesResponse,
    DevicesResponse,
    DiscoveryInfoResponse,
    DownloadError,
    DownloadResponse,
    LoginError,
    LoginInfoResponse,
    LoginResponse,
    LogoutResponse,
    ProfileGetResponse,
    PushRuleKind,
    UploadFilterResponse,
    UploadResponse,
    WhoamiError,
    WhoamiResponse,
)

from tests.factories import PASSWORD
from tests.live_server import Server
from tests.matrix.conftest import Browser, base_url

pytestmark = [pytest.mark.slow, pytest.mark.sqlite_only]

SERVER = "polaris.test"


def run(test: Callable[[], Awaitable[None]]) -> None:
    """Run the client's coroutine in a thread of its own: a browser test's Playwright keeps an
    event loop running in the main thread for the whole session, where ``asyncio.run`` refuses."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as thread:
        thread.submit(asyncio.run, test()).result()


async def signed_in(server: Server, username: str) -> AsyncClient:
    client = AsyncClient(base_url(server), username)
    response = await client.login(PASSWORD, device_name="nio test")
    assert isinstance(response, LoginResponse), response
    return client


async def raw(client: AsyncClient, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """An endpoint nio has no method for, sent by nio with its access token."""
    headers = {"Authorization": f"Bearer {client.access_token}"}
    data = None if body is None else json.dumps(body)
    if data is not None:
        headers["Content-Type"] = "application/json"
    response = await client.send(method, path, data, headers)
    return response.status, await response.json()


def test_discovery_versions_and_login_flows(matrix_server: Server) -> None:
    async def test() -> None:
        client = AsyncClient(base_url(matrix_server))
        try:
            found = await client.discovery_info()
            assert isinstance(found, DiscoveryInfoResponse), found
            assert found.homeserver_url == base_url(matrix_server)
            status, well_known = await raw(client, "GET", "/.well-known/matrix/client")
            assert status == 200
            assert well_known["io.element.e2ee"] == {"force_disable": True, "default": False}
            status, versions = await raw(client, "GET", "/_matrix/client/versions")
            assert status == 200 and "v1.11" in versions["versions"]
            flows = await client.login_info()
            assert isinstance(flows, LoginInfoResponse), flows
            assert set(flows.flows) == {"m.login.password", "m.login.sso", "m.login.token"}
        finally:
            await client.close()

    run(test)


def test_password_login_whoami_and_logout(matrix_server: Server) -> None:
    async def test() -> None:
        client = await signed_in(matrix_server, "hc.a1")
        try:
            assert client.user_id == f"@hc.a1:{SERVER}"
            me = await client.whoami()
            assert isinstance(me, WhoamiResponse), me
            assert (me.user_id, me.device_id) == (client.user_id, client.device_id)
            token = client.access_token
            assert isinstance(await client.logout(), LogoutResponse)
            client.access_token = token
            refused = await client.whoami()
            assert isinstance(refused, WhoamiError)
            assert refused.status_code == "M_UNKNOWN_TOKEN"
        finally:
            await client.close()

    run(test)


def test_a_full_user_id_signs_in_and_a_wrong_password_is_refused(matrix_server: Server) -> None:
    async def test() -> None:
        client = AsyncClient(base_url(matrix_server), f"@hc.b1:{SERVER}")
        try:
            assert isinstance(await client.login(PASSWORD), LoginResponse)
            await client.logout()
            wrong = AsyncClient(base_url(matrix_server), "hc.b1")
            refused = await wrong.login("not the password")
            await wrong.close()
            assert isinstance(refused, LoginError) and refused.status_code == "M_FORBIDDEN"
            other = AsyncClient(base_url(matrix_server), "@hc.b1:elsewhere.example")
            refused = await other.login(PASSWORD)
            await other.close()
            assert isinstance(refused, LoginError) and refused.status_code == "M_FORBIDDEN"
        finally:
            await client.close()

    run(test)


def test_a_role_that_needs_mfa_signs_in_with_a_token_from_the_browser(
    matrix_server: Server,
) -> None:
    async def test() -> None:
        client = AsyncClient(base_url(matrix_server), "sho.m")
        try:
            refused = await client.login(PASSWORD)
            assert isinstance(refused, LoginError), refused
            assert refused.status_code == "M_FORBIDDEN"
            assert "second factor" in refused.message
            browser = Browser(matrix_server)
            browser.sign_in_with_mfa("sho.m")
            status, minted = browser.mint_login_token()
            assert status == 201, minted
            token = str(minted["login_token"])
            response = await client.login(token=token)
            assert isinstance(response, LoginResponse), response
            assert response.user_id == f"@sho.m:{SERVER}"
            me = await client.whoami()
            assert isinstance(me, WhoamiResponse) and me.user_id == response.user_id
            again = AsyncClient(base_url(matrix_server), "sho.m")
            reused = await again.login(token=token)  # single use
            await again.close()
            assert isinstance(reused, LoginError) and reused.status_code == "M_FORBIDDEN"
        finally:
            await client.close()

    run(test)


def test_single_sign_on_is_the_browser_sign_in_sending_the_app_a_token(
    matrix_server: Server,
) -> None:
    app = "https://app.example/after-sign-in?state=1"
    status, headers, _ = matrix_server.request(
        "GET", f"/_matrix/client/v3/login/sso/redirect?{urlencode({'redirectUrl': app})}"
    )
    assert status == 302
    page = urlsplit(headers["location"])
    assert page.path == "/account/matrix"
    browser = Browser(matrix_server)
    browser.sign_in_with_mfa("sho.sso")
    status, _, html = browser.page("GET", f"{page.path}?{page.query}")
    assert status == 200 and "https://app.example/after-sign-in?state=1" in html
    status, location, _ = browser.page("POST", page.path, {"redirect_url": app})
    assert status == 303
    sent = urlsplit(location)
    assert (sent.scheme, sent.netloc, sent.path) == ("https", "app.example", "/after-sign-in")
    query = parse_qs(sent.query)
    assert query["state"] == ["1"]
    (token,) = query["loginToken"]

    async def test() -> None:
        client = AsyncClient(base_url(matrix_server), "sho.sso")
        try:
            response = await client.login(token=token)
            assert isinstance(response, LoginResponse), response
        finally:
            await client.logout()
            await client.close()

    run(test)
    for refused in ("javascript:alert(1)", "https:///no-host", "data:text/html,x"):
        status, _, _ = browser.page("POST", page.path, {"redirect_url": refused})
        assert status == 400, refused
        status, _, _ = matrix_server.request(
            "GET", f"/_matrix/client/v3/login/sso/redirect?{urlencode({'redirectUrl': refused})}"
        )
        assert status == 400, refused


def test_filters_account_data_and_push_rules(matrix_server: Server) -> None:
    async def test() -> None:
        client = await signed_in(matrix_server, "hc.a1")
        try:
            made = await client.upload_filter(room={"timeline": {"limit": 20}})
            assert isinstance(made, UploadFilterResponse), made
            path = f"/_matrix/client/v3/user/{client.user_id}/filter/{made.filter_id}"
            status, stored = await raw(client, "GET", path)
            assert status == 200 and stored["room"]["timeline"]["limit"] == 20
            data = f"/_matrix/client/v3/user/{client.user_id}/account_data/im.vector.setting"
            assert (await raw(client, "GET", data))[0] == 404
            status, _ = await raw(client, "PUT", data, {"theme": "dark", "भाषा": "हिन्दी"})
            assert status == 200
            status, stored = await raw(client, "GET", data)
            assert (status, stored) == (200, {"theme": "dark", "भाषा": "हिन्दी"})
            other = f"/_matrix/client/v3/user/@hc.b1:{SERVER}/account_data/im.vector.setting"
            status, refused = await raw(client, "GET", other)
            assert (status, refused["errcode"]) == (403, "M_FORBIDDEN")
            status, rules = await raw(client, "GET", "/_matrix/client/v3/pushrules/")
            assert status == 200
            ids = [rule["rule_id"] for rule in rules["global"]["override"]]
            assert ".m.rule.master" in ids
            await client.enable_pushrule("global", PushRuleKind.underride, ".m.rule.message", False)
            status, rule = await raw(
                client, "GET", "/_matrix/client/v3/pushrules/global/underride/.m.rule.message"
            )
            assert (status, rule["enabled"]) == (200, False)
            status, pushers = await raw(client, "GET", "/_matrix/client/v3/pushers")
            assert (status, pushers) == (200, {"pushers": []})
        finally:
            await client.logout()
            await client.close()

    run(test)


def test_devices_are_listed_renamed_and_deleted(matrix_server: Server) -> None:
    async def test() -> None:
        first = await signed_in(matrix_server, "hc.b1")
        second = await signed_in(matrix_server, "hc.b1")
        try:
            listed = await first.devices()
            assert isinstance(listed, DevicesResponse), listed
            ids = {device.id for device in listed.devices}
            assert {first.device_id, second.device_id} <= ids
            await first.update_device(first.device_id, {"display_name": "थाना फोन"})
            listed = await first.devices()
            assert isinstance(listed, DevicesResponse)
            names = {device.id: device.display_name for device in listed.devices}
            assert names[first.device_id] == "थाना फोन"
            asked = await first.delete_devices([second.device_id])
            assert isinstance(asked, DeleteDevicesAuthResponse), asked  # the password, please
            assert isinstance(await second.whoami(), WhoamiResponse)
            wrong = {"type": "m.login.password", "user": "hc.b1", "password": "not it"}
            refused = await first.delete_devices([second.device_id], auth=wrong)
            assert not isinstance(refused, DeleteDevicesResponse), refused
            assert isinstance(await second.whoami(), WhoamiResponse)
            right = {**wrong, "password": PASSWORD, "session": asked.session}
            done = await first.delete_devices([second.device_id], auth=right)
            assert isinstance(done, DeleteDevicesResponse), done
            gone = await second.whoami()
            assert isinstance(gone, WhoamiError) and gone.status_code == "M_UNKNOWN_TOKEN"
            assert isinstance(await first.whoami(), WhoamiResponse)
        finally:
            await first.logout()
            await first.close()
            await second.close()

    run(test)


def test_profiles_and_the_user_directory(matrix_server: Server) -> None:
    async def test() -> None:
        client = await signed_in(matrix_server, "hc.a1")
        try:
            found = await client.get_profile(f"@hc.b1:{SERVER}")
            assert isinstance(found, ProfileGetResponse), found
            assert found.displayname == "Hc.B1"
            status, refused = await raw(
                client, "GET", f"/_matrix/client/v3/profile/@nobody:{SERVER}"
            )
            assert (status, refused["errcode"]) == (404, "M_NOT_FOUND")
            status, results = await raw(
                client, "POST", "/_matrix/client/v3/user_directory/search",
                {"search_term": "hc.", "limit": 2},
            )  # fmt: skip
            assert status == 200
            assert len(results["results"]) == 2 and results["limited"] is True
            assert results["results"][0]["user_id"] == f"@hc.a1:{SERVER}"
        finally:
            await client.logout()
            await client.close()

    run(test)


def test_media_is_a_drive_file_the_uploader_reads_and_others_do_not(
    matrix_server: Server,
) -> None:
    async def test() -> None:
        owner = await signed_in(matrix_server, "hc.a1")
        stranger = await signed_in(matrix_server, "hc.b1")
        try:
            payload = "प्राथमिकी FIR 12/2026\n".encode() * 100
            uploaded, _ = await owner.upload(
                io.BytesIO(payload), content_type="text/plain", filename="fir.txt",
                filesize=len(payload),
            )  # fmt: skip
            assert isinstance(uploaded, UploadResponse), uploaded
            assert uploaded.content_uri.startswith(f"mxc://{SERVER}/")
            got = await owner.download(uploaded.content_uri)
            assert isinstance(got, DownloadResponse), got
            assert got.body == payload and got.content_type.startswith("text/plain")
            refused = await stranger.download(uploaded.content_uri)
            assert isinstance(refused, DownloadError), refused
            missing = await stranger.download(f"mxc://{SERVER}/AAAAAAAAAAAAAAAAAAAAAAAA")
            assert isinstance(missing, DownloadError)
            assert (refused.status_code, refused.message) == (
                missing.status_code,
                missing.message,
            )
            assert refused.status_code == "M_NOT_FOUND"
            # The upload is a file in the uploader's drive, in "Chat attachments"; shared with
            # the stranger through the drive, it becomes theirs to read too.
            browser = Browser(matrix_server)
            browser.sign_in("hc.a1")
            node = drive_file(browser, "Chat attachments", "fir.txt")
            stranger_browser = Browser(matrix_server)
            stranger_browser.sign_in("hc.b1")
            status, me = stranger_browser.get("/api/v1/me")
            assert status == 200 and isinstance(me, dict)
            status, share = browser.post(
                f"/api/v1/nodes/{node}/shares", {"subject_type": "user", "subject_id": me["id"]}
            )
            assert status == 201, share
            shared = await stranger.download(uploaded.content_uri)
            assert isinstance(shared, DownloadResponse), shared
            assert shared.body == payload
        finally:
            for client in (owner, stranger):
                await client.logout()
                await client.close()

    run(test)


def drive_file(browser: Browser, folder: str, name: str) -> int:
    """The id of ``folder/name`` in the signed-in user's own space."""
    status, spaces = browser.get("/api/v1/spaces")
    assert status == 200 and isinstance(spaces, list)
    root = next(space["root_id"] for space in spaces if space["kind"] == "user")
    node = root
    for part in (folder, name):
        status, page = browser.get(f"/api/v1/nodes/{node}/children")
        assert status == 200 and isinstance(page, dict), page
        node = next(item["id"] for item in page["items"] if item["name"] == part)
    return int(node)
