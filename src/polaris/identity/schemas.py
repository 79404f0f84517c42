"""Request and response models of the identity API. Never a secret or an ORM object out."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class SignInState(BaseModel):
    """Where sign-in stands: ``active``, ``mfa`` (code awaited) or ``enrol`` (set up MFA)."""

    stage: str
    expires_at: dt.datetime
    csrf_token: str
    must_change_password: bool = False


class CodeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=6, max_length=32)


class EnrolRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    password: str | None = Field(default=None, max_length=1024)


class EnrolmentStarted(BaseModel):
    secret: str
    provisioning_uri: str


class EnrolmentConfirmed(BaseModel):
    recovery_codes: list[str]
    stage: str
    csrf_token: str | None = None


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=1, max_length=1024)


class UserRead(BaseModel):
    id: int
    username: str
    full_name: str
    rank: str | None
    unit_id: int
    unit_code: str
    role: str
    clearance: str
    mfa_enabled: bool
    disabled: bool


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=255)
    scopes: list[str] = Field(min_length=1, max_length=3)
    lifetime_days: int = Field(default=90, ge=1, le=366)


class TokenRead(BaseModel):
    id: int
    name: str
    prefix: str
    scopes: list[str]
    created_at: dt.datetime
    expires_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked: bool


class TokenIssued(TokenRead):
    token: str = Field(description="shown once; store it now")


class AppPasswordCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=255, description="the device, as you will know it")
    scope: Literal["read", "write"] = Field(description="`write` is read and write")


class AppPasswordRead(BaseModel):
    id: int
    name: str
    prefix: str
    scope: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked: bool


class AppPasswordIssued(AppPasswordRead):
    password: str = Field(description="shown once; type it into the device now")


class UnitRead(BaseModel):
    id: int
    code: str
    name: str
    name_hi: str | None
    kind: str
    parent_id: int | None


class PasswordResetDone(BaseModel):
    generated_password: str | None


class SessionRead(BaseModel):
    """A session as administrators see it; ``id`` is the SHA-256 of the token, never the token."""

    id: str
    stage: str
    auth_factors: str
    created_at: dt.datetime
    last_seen_at: dt.datetime
    expires_at: dt.datetime
    source_address: str | None
    client: str | None
