"""What the Nextcloud clients read besides WebDAV: ``/status.php``, the OCS capabilities and the
signed-in user (``/ocs/v1.php/cloud/…`` and ``/ocs/v2.php/cloud/…``), and the Nextcloud names of
a node (``oc:fileid``, ``oc:id``, ``oc:permissions``, ``oc:size``) and the headers of an upload
(``OC-ETag``, ``OC-FileId``, ``X-OC-MTime``).

The capabilities tell a client what this server does: chunked uploads v2 (``dav.chunking``
``1.0``), the checksums an upload may carry (``dav.checksums``) and where WebDAV is.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from typing import Any

from polaris.dav import checksums
from polaris.dav.context import DavRequest

OC = "{http://owncloud.org/ns}"
NC = "{http://nextcloud.org/ns}"
#: The Nextcloud instance id in ``oc:id`` (Nextcloud's ``instanceid``), after the padded node id.
INSTANCE_ID = "ocpolaris"
#: The Nextcloud version the clients are told: they compare it to enable what they use.
VERSION = (28, 0, 0, 0)
VERSION_STRING = "28.0.0"
PRODUCT = "Polaris"
STATUS_PATH = "/status.php"
OCS_PREFIX = "/ocs"
OCS_PATHS = ("/ocs/v1.php", "/ocs/v2.php")
StartResponse = Any


def file_id(node_id: int) -> str:
    """``oc:id`` and the ``OC-FileId`` header: the node id, padded, then the instance id."""
    return f"{node_id:08d}{INSTANCE_ID}"


def permissions(actions: Iterable[str], *, folder: bool) -> str:
    """``oc:permissions`` from what ``access`` allows on the node: G read, D delete, N rename,
    V move, W write (a file), C and K make files and folders (a folder)."""
    allowed = set(actions)
    letters = "G" if "read" in allowed else ""
    if "delete" in allowed:
        letters += "D"
    if "write" in allowed:
        letters += "NV" + ("CK" if folder else "W")
    return letters


def mtime_from(environ: dict[str, Any]) -> dt.datetime | None:
    """``X-OC-Mtime`` (seconds since the epoch, a whole or decimal number) as a UTC time; None
    without one, or with one that is not a time a file could have."""
    raw = str(environ.get("HTTP_X_OC_MTIME", "")).strip()
    if not raw:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        return None
    if not 0 < seconds < 253402300800:  # before year 10000
        return None
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


def upload_headers(node_id: int, etag: str, *, mtime_accepted: bool) -> list[tuple[str, str]]:
    headers = [("OC-ETag", f'"{etag}"'), ("OC-FileId", file_id(node_id))]
    if mtime_accepted:
        headers.append(("X-OC-MTime", "accepted"))
    return headers


def _json(start_response: StartResponse, status: str, data: object) -> list[bytes]:
    body = json.dumps(data, ensure_ascii=False).encode("utf-8")
    start_response(
        status,
        [("Content-Type", "application/json; charset=utf-8"), ("Content-Length", str(len(body)))],
    )
    return [body]


def status(start_response: StartResponse) -> list[bytes]:
    """``/status.php``, which every client reads first (no sign-in)."""
    return _json(
        start_response,
        "200 OK",
        {
            "installed": True,
            "maintenance": False,
            "needsDbUpgrade": False,
            "version": ".".join(str(part) for part in VERSION),
            "versionstring": VERSION_STRING,
            "edition": "",
            "productname": PRODUCT,
            "extendedSupport": False,
        },
    )


def capabilities() -> dict[str, Any]:
    return {
        "version": {
            "major": VERSION[0],
            "minor": VERSION[1],
            "micro": VERSION[2],
            "string": VERSION_STRING,
            "edition": "",
            "extendedSupport": False,
        },
        "capabilities": {
            "core": {"pollinterval": 60, "webdav-root": "remote.php/webdav"},
            "dav": {"chunking": "1.0"},
            "checksums": {
                "supportedTypes": list(checksums.SUPPORTED),
                "preferredUploadType": checksums.SUPPORTED[0],
            },
            "files": {"bigfilechunking": True, "undelete": False, "versioning": False},
        },
    }


def ocs(
    environ: dict[str, Any], start_response: StartResponse, request: DavRequest | None
) -> list[bytes]:
    """An OCS request: ``cloud/capabilities`` (also without signing in) and ``cloud/user``."""
    path = str(environ.get("PATH_INFO", ""))
    version = 2 if path.startswith("/ocs/v2.php") else 1
    endpoint = path.split(".php", 1)[1].strip("/") if ".php" in path else ""
    ok = 200 if version == 2 else 100
    if endpoint == "cloud/capabilities":
        data: object = capabilities()
    elif endpoint == "cloud/user" and request is not None:
        data = {
            "id": request.username,
            "display-name": request.username,
            "displayname": request.username,
            "email": None,
            "enabled": True,
        }
    elif endpoint == "cloud/user":
        return _ocs_answer(start_response, version, "401 Unauthorized", 997, "sign in", [])
    else:
        return _ocs_answer(start_response, version, "404 Not Found", 998, "not found", [])
    return _ocs_answer(start_response, version, "200 OK", ok, "OK", data)


def _ocs_answer(
    start_response: StartResponse,
    version: int,
    status_line: str,
    code: int,
    message: str,
    data: object,
) -> list[bytes]:
    # OCS v1 answers 200 whatever happened and puts the code in ``meta`` (as Nextcloud does).
    shown = status_line if version == 2 else "200 OK"
    return _json(
        start_response,
        shown,
        {
            "ocs": {
                "meta": {
                    "status": "ok" if code in (100, 200) else "failure",
                    "statuscode": code,
                    "message": message,
                },
                "data": data,
            }
        },
    )
