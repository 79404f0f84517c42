"""Nextcloud's login flow v2: how a Nextcloud app (desktop, Android) gets an app password
without the person typing one.

1. The app asks for a flow (``POST /index.php/login/v2``) and gets two tokens: a *login* token in
   the address of a page it opens in the browser, and a *poll* token it keeps.
2. In the browser the person signs in as usual (password, and the second factor where the role
   needs it) and, on that page, grants the app access (``views_login_flow``).
3. Granting makes an app password (scope *read and write*, named after the app, audited as
   ``app_password.create``), kept only sealed until the app takes it: the flow has an X25519 key
   pair whose private half is sealed (AES-GCM) under a key derived from the poll token, which the
   server never stores (only SHA-256s of both tokens are kept); the grant seals the password to
   the public half. Whoever reads the database learns no password from a flow.
4. The app polls (``POST /index.php/login/v2/poll``) and, once granted, gets the server address,
   the username and the app password, once: the flow is deleted as it is handed out.

Starting a flow needs no sign-in, so starts are throttled per client address (``flow:`` counters
of ``identity.throttle``: 429 with ``Retry-After`` once an address has started too many in an
hour). A flow lasts 20 minutes. Polling an unknown, expired or not yet granted flow answers the
same 404.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from polaris.audit.context import AuditContext
from polaris.clock import utcnow
from polaris.errors import NotFound
from polaris.identity import app_passwords, throttle
from polaris.identity.models import LoginFlow, User
from polaris.identity.throttle import ThrottlePolicy

LIFETIME = dt.timedelta(minutes=20)
CLIENT_NAME_MAX = 120


@dataclass(frozen=True)
class Started:
    poll_token: str
    login_token: str


@dataclass(frozen=True)
class Granted:
    username: str
    app_password: str


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _key(poll_token: str) -> bytes:
    return hashlib.sha256(b"polaris login flow key\x00" + poll_token.encode()).digest()


#: The Nextcloud apps' User-Agents: ``Mozilla/5.0 (Linux) mirall/3.7.3git (Nextcloud, …)``
#: (desktop), ``Mozilla/5.0 (Android) Nextcloud-android/3.26.0`` (Android).
_DESKTOP = re.compile(r"\((?P<os>[^)]{1,40})\) mirall/(?P<version>[0-9][0-9.]{0,20})")
_MOBILE = re.compile(r"Nextcloud-(?P<os>android|iOS)/(?P<version>[0-9][0-9.]{0,20})", re.I)


def client_name(user_agent: str | None) -> str:
    """The app's name as the page shows it and as the app password is named: a Nextcloud app's
    own short name (``Nextcloud desktop 3.7.3 (Linux)``, ``Nextcloud Android 3.26.0``), else its
    User-Agent (printable characters only, at most :data:`CLIENT_NAME_MAX`)."""
    text = "".join(c for c in (user_agent or "") if c.isprintable()).strip()
    desktop = _DESKTOP.search(text)
    if desktop is not None:
        return f"Nextcloud desktop {desktop['version'].rstrip('.')} ({desktop['os']})"
    mobile = _MOBILE.search(text)
    if mobile is not None:
        system = "Android" if mobile["os"].lower() == "android" else "iOS"
        return f"Nextcloud {system} {mobile['version'].rstrip('.')}"
    return text[:CLIENT_NAME_MAX] or "Nextcloud app"


def start(
    *, session: Session, client: str, source_address: str | None, policy: ThrottlePolicy
) -> Started:
    """A new flow. It needs no sign-in and makes a row, so starts are counted per client
    address (``throttle.count_flow``): ``Throttled`` while the address must wait."""
    now = utcnow()
    throttle.count_flow(session=session, source_address=source_address, now=now, policy=policy)
    session.execute(delete(LoginFlow).where(LoginFlow.expires_at <= now))
    started = Started(poll_token=secrets.token_urlsafe(48), login_token=secrets.token_urlsafe(32))
    private = X25519PrivateKey.generate()
    session.add(
        LoginFlow(
            poll_hash=_hash(started.poll_token),
            login_hash=_hash(started.login_token),
            client=client,
            public_key=_b64(private.public_key().public_bytes_raw()),
            private_key=_seal(_key(started.poll_token), private.private_bytes_raw()),
            created_at=now,
            expires_at=now + LIFETIME,
        )
    )
    return started


def pending(*, session: Session, login_token: str) -> LoginFlow:
    """The flow a login page names, not yet granted; NotFound otherwise."""
    flow = session.scalar(
        select(LoginFlow).where(
            LoginFlow.login_hash == _hash(login_token), LoginFlow.expires_at > utcnow()
        )
    )
    if flow is None or flow.user_id is not None:
        raise NotFound("this sign-in link has expired or was used", code="login_flow_expired")
    return flow


def grant(*, session: Session, user: User, login_token: str, context: AuditContext) -> LoginFlow:
    """The signed-in ``user`` grants the flow: an app password is made for the app, and kept
    sealed to the flow's public key."""
    flow = pending(session=session, login_token=login_token)
    made = app_passwords.create(
        session=session, user=user, name=flow.client, scope="write", context=context
    )
    ephemeral = X25519PrivateKey.generate()
    public = X25519PublicKey.from_public_bytes(_unb64(flow.public_key))
    ephemeral_public = ephemeral.public_key().public_bytes_raw()
    key = _shared_key(ephemeral.exchange(public), ephemeral_public)
    flow.user_id = user.id
    flow.username = user.username
    flow.secret = _b64(ephemeral_public) + "." + _seal(key, made.secret.encode())
    return flow


def poll(*, session: Session, poll_token: str) -> Granted:
    """The app password of a granted flow, once; NotFound while not granted (or unknown)."""
    flow = session.scalar(
        select(LoginFlow).where(
            LoginFlow.poll_hash == _hash(poll_token), LoginFlow.expires_at > utcnow()
        )
    )
    if flow is None or flow.secret is None or flow.username is None:
        raise NotFound("not granted (yet)", code="login_flow_pending")
    try:
        private = X25519PrivateKey.from_private_bytes(_open(_key(poll_token), flow.private_key))
        ephemeral_b64, _, sealed = flow.secret.partition(".")
        ephemeral_public = _unb64(ephemeral_b64)
        shared = private.exchange(X25519PublicKey.from_public_bytes(ephemeral_public))
        secret = _open(_shared_key(shared, ephemeral_public), sealed).decode()
    except (InvalidTag, ValueError):
        raise NotFound("not granted (yet)", code="login_flow_pending") from None
    session.delete(flow)
    return Granted(username=flow.username, app_password=secret)


def _shared_key(shared: bytes, ephemeral_public: bytes) -> bytes:
    return hashlib.sha256(b"polaris login flow seal\x00" + shared + ephemeral_public).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text.encode())


def _seal(key: bytes, plaintext: bytes) -> str:
    nonce = secrets.token_bytes(12)
    return _b64(nonce + AESGCM(key).encrypt(nonce, plaintext, b"login-flow"))


def _open(key: bytes, sealed: str) -> bytes:
    raw = _unb64(sealed)
    return AESGCM(key).decrypt(raw[:12], raw[12:], b"login-flow")
