"""The WebDAV WSGI app: WsgiDAV with Polaris's providers, locks and gate.

WsgiDAV's error pages are replaced by plain ones (``dav.answers``); its own authentication,
directory browser and CORS layers are left out: the gate
(``dav.gate``) authenticates, a GET of a folder has no HTML page, and no browser script talks
WebDAV. PROPFIND with ``Depth: infinity`` (and without a ``Depth``, which means infinity) is
refused by the gate (``dav.gate``) with 403 ``propfind-finite-depth`` (RFC 4918 §9.1): one
request must not walk a whole space.
"""

from __future__ import annotations

import logging
from typing import Any

from wsgidav.request_resolver import RequestResolver
from wsgidav.wsgidav_app import WsgiDAVApp

from polaris.dav.answers import PlainErrors
from polaris.dav.gate import DavGate
from polaris.dav.locks import DatabaseLockStorage
from polaris.dav.provider import PolarisProvider
from polaris.instance import Instance

#: Where Windows maps a drive, and the Nextcloud clients' files (followed by the username).
DAV_PREFIX = "/dav"
NEXTCLOUD_FILES_PREFIX = "/remote.php/dav/files"
#: Nextcloud's older WebDAV address (its capabilities' ``webdav-root``): the same as ``/dav``.
NEXTCLOUD_WEBDAV_PREFIX = "/remote.php/webdav"
PREFIXES = (DAV_PREFIX, NEXTCLOUD_FILES_PREFIX, NEXTCLOUD_WEBDAV_PREFIX)
#: Everything the WebDAV app answers: WsgiDAV's addresses, and what the Nextcloud clients read
#: besides (``dav.nextcloud``, ``dav.chunking``).
SERVED = (*PREFIXES, "/status.php", "/ocs/v1.php", "/ocs/v2.php", "/remote.php/dav/uploads")
#: Bytes WsgiDAV reads from a PUT's body, and sends of a GET's, at a time.
BLOCK_SIZE = 256 * 1024


def dav_config(instance: Instance) -> dict[str, Any]:
    return {
        "provider_mapping": {
            DAV_PREFIX: PolarisProvider(per_user=False),
            NEXTCLOUD_FILES_PREFIX: PolarisProvider(per_user=True),
            NEXTCLOUD_WEBDAV_PREFIX: PolarisProvider(per_user=False),
        },
        "middleware_stack": [PlainErrors, RequestResolver],
        "http_authenticator": {"domain_controller": None},
        "lock_storage": DatabaseLockStorage(instance.sessions),
        "property_manager": None,
        "block_size": BLOCK_SIZE,
        "dir_browser": {"enable": False},
        "add_header_MS_Author_Via": True,
        "suppress_version_info": True,
        "verbose": 1,
        "logging": {"enable": False},
    }


def make_dav_app(instance: Instance) -> DavGate:
    """The WSGI app answering every path under :data:`PREFIXES`."""
    # WsgiDAV's warnings and the traceback of a 500 go to Polaris's log (``web.logs``).
    wsgidav_log = logging.getLogger("wsgidav")
    wsgidav_log.setLevel(logging.WARNING)
    wsgidav_log.propagate = True
    return DavGate(instance, WsgiDAVApp(dav_config(instance)))
