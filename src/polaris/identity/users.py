"""Users: create, import from CSV, disable, reset password or MFA. Each change is audited."""

from __future__ import annotations

import secrets
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import regex
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from polaris.access.policy import Classification
from polaris.audit import service as audit
from polaris.clock import utcnow
from polaris.errors import Conflict, NotFound, ValidationFailed
from polaris.identity import events
from polaris.identity.csvrows import ImportRejected, RowError, read_rows, row_error
from polaris.identity.models import ApiToken, RecoveryCode, Role, Unit, User, UserSession
from polaris.identity.passwords import Passwords, check_policy
from polaris.web.messages import N_

USER_CSV_COLUMNS = ["username", "full_name", "unit_code", "role"]
USER_CSV_OPTIONAL = ["rank", "clearance", "password"]
_USERNAME = regex.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")


@dataclass(frozen=True)
class UserSpec:
    username: str
    full_name: str
    unit_code: str
    role: str
    clearance: Classification | None = None
    rank: str | None = None
    password: str | None = None


@dataclass(frozen=True)
class Problem:
    """Why a user's details are refused: a catalogue text and its values (English in ``detail``,
    the reader's language on a page)."""

    text: str
    values: tuple[tuple[str, str], ...] = ()

    @property
    def english(self) -> str:
        return self.text % dict(self.values) if self.values else self.text


def rule_problem(text: str, **values: object) -> Problem:
    """A refused user rule: its catalogue text and its values, translated where it is shown."""
    return Problem(text, tuple(sorted((k, str(v)) for k, v in values.items())))


class InvalidUser(ValidationFailed):
    """A user's details refused; ``problem`` says why, for a page to translate."""

    code = "invalid_user"

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.english)
        self.problem = problem


@dataclass(frozen=True)
class CreatedUser:
    user: User
    # Set when the password was generated: to hand to the officer once, never stored.
    initial_password: str | None


@dataclass(frozen=True)
class ImportRow:
    """A parsed row of a user CSV: its line in the file (the header is line 1) and what it asks."""

    line: int
    spec: UserSpec


@dataclass(frozen=True)
class HashedRow:
    """An import row with its password hashed (the slow part, done outside any transaction)."""

    row: ImportRow
    password_hash: str
    initial_password: str | None


def normalise_username(username: str) -> str:
    return unicodedata.normalize("NFC", username).strip().lower()


def check_username(username: str) -> None:
    """ValidationFailed unless ``username`` is one ``create_user`` accepts (for a command that
    must refuse a bad one before it starts a long task)."""
    if not _USERNAME.match(normalise_username(username)):
        raise ValidationFailed(
            f"username {username!r}: 2–64 of a-z, 0-9, '.', '_' or '-', starting with a letter "
            "or digit",
            code="invalid_user",
        )


def get_by_username(*, session: Session, username: str) -> User:
    user = session.scalars(
        select(User).where(User.username == normalise_username(username))
    ).one_or_none()
    if user is None:
        raise NotFound(f"user {username!r} not found")
    return user


def generate_password() -> str:
    """A random 16-character password for first sign-in (changed by the officer after)."""
    alphabet = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "".join(secrets.choice(alphabet) for _ in range(16))


def create_user(
    *, session: Session, spec: UserSpec, passwords: Passwords, context: audit.AuditContext
) -> CreatedUser:
    units = {u.code: u for u in session.scalars(select(Unit).where(Unit.code == spec.unit_code))}
    roles = {r.code: r for r in session.scalars(select(Role).where(Role.code == spec.role))}
    if session.scalars(
        select(User.id).where(User.username == normalise_username(spec.username))
    ).first():
        raise Conflict(f"username {spec.username!r} already exists", code="duplicate_username")
    problem = _check_spec(spec, units, roles)
    if problem:
        raise InvalidUser(problem)
    created = _insert(session, spec, units[spec.unit_code], roles[spec.role], passwords)
    audit.append(
        session=session,
        context=context,
        action="user.create",
        object_type="user",
        object_id=str(created.user.id),
        detail={"username": created.user.username, "unit": spec.unit_code, "role": spec.role},
    )
    user = created.user
    events.changed(session, events.USER_CREATED, ("user", user.id), context, unit_id=user.unit_id)
    return created


def _check_spec(spec: UserSpec, units: dict[str, Unit], roles: dict[str, Role]) -> Problem | None:
    username = normalise_username(spec.username)
    if not _USERNAME.match(username):
        return rule_problem(
            N_(
                "the username must be 2 to 64 of a-z, 0-9, '.', '_' or '-', starting with a "
                "letter or digit"
            )
        )
    if spec.unit_code not in units:
        return rule_problem(N_("unit %(unit)s is not a known unit"), unit=spec.unit_code)
    return check_details(spec.full_name, roles.get(spec.role), spec.role, spec.clearance) or (
        _check_password(spec.password, username) if spec.password else None
    )


def check_details(
    full_name: str, role: Role | None, role_code: str, clearance: Classification | None
) -> Problem | None:
    """What creating and editing a user both check: a name, a known role, a clearance the role
    allows."""
    if not full_name:
        return rule_problem(N_("the full name is empty"))
    if len(full_name) > 255:
        return rule_problem(N_("the full name is longer than 255 characters"))
    if role is None:
        return rule_problem(N_("role %(role)s is not a known role"), role=role_code)
    if clearance is not None and clearance > role.max_clearance:
        return rule_problem(
            N_("clearance %(level)s is above what role %(role)s allows"),
            level=clearance.name.lower(),
            role=role.code,
        )
    return None


def _check_password(password: str, username: str) -> Problem | None:
    try:
        check_policy(password, username=username)
    except ValidationFailed:
        return rule_problem(N_("the password is too weak: choose a longer, less common one"))
    return None


def _insert(
    session: Session, spec: UserSpec, unit: Unit, role: Role, passwords: Passwords
) -> CreatedUser:
    initial = None if spec.password else generate_password()
    password = spec.password or initial
    assert password is not None
    user = _new_user(spec, unit, role, passwords.hash(password), initial is not None)
    session.add(user)
    session.flush()
    return CreatedUser(user=user, initial_password=initial)


def _new_user(
    spec: UserSpec, unit: Unit, role: Role, password_hash: str, must_change: bool
) -> User:
    clearance = (
        spec.clearance
        if spec.clearance is not None
        else Classification(min(role.max_clearance, Classification.RESTRICTED))
    )
    return User(
        username=normalise_username(spec.username),
        full_name=spec.full_name,
        rank=spec.rank,
        unit_id=unit.id,
        role_code=role.code,
        clearance=int(clearance),
        password_hash=password_hash,
        password_changed_at=utcnow(),
        must_change_password=must_change,
    )


def import_users_csv(
    *,
    session: Session,
    data: bytes,
    passwords: Passwords,
    context: audit.AuditContext,
    progress: Callable[[int, int], None] | None = None,
) -> list[CreatedUser]:
    """Import every row or none (see ``ImportRejected``). Missing passwords are generated.

    The three steps below in one go; a background import runs them apart, so that hashing (about
    0.1 s a user) happens outside the write transaction.
    """
    rows = check_users_csv(session=session, data=data)
    hashed = hash_import_rows(rows, passwords=passwords, progress=progress)
    return insert_imported_users(session=session, rows=hashed, context=context)


def check_users_csv(*, session: Session, data: bytes) -> list[ImportRow]:
    """Check every row of a user CSV against the database; change nothing.

    Raises ``ImportRejected`` listing every bad row (wrong columns, a bad value, an unknown unit or
    role, a clearance above the role's, a weak password, a username taken or repeated).
    """
    rows: list[ImportRow] = []
    errors: list[RowError] = []
    for line, row in read_rows(data, required=USER_CSV_COLUMNS, optional=USER_CSV_OPTIONAL):
        try:
            rows.append(ImportRow(line, _spec_from_row(row)))
        except ValueError as error:
            errors.append(row_error(line, N_("unknown clearance %(level)s"), level=error.args[0]))
    valid, problems = _check_rows(session, rows)
    errors.extend(problems)
    if errors:
        raise ImportRejected(sorted(errors, key=lambda error: error.row))
    return valid


def hash_import_rows(
    rows: list[ImportRow],
    *,
    passwords: Passwords,
    progress: Callable[[int, int], None] | None = None,
) -> list[HashedRow]:
    """Hash each row's password, generating one where the row has none. No database work."""
    hashed: list[HashedRow] = []
    for row in rows:
        initial = None if row.spec.password else generate_password()
        password = row.spec.password or initial
        assert password is not None
        hashed.append(HashedRow(row, passwords.hash(password), initial))
        if progress is not None:
            progress(len(hashed), len(rows))
    return hashed


def insert_imported_users(
    *, session: Session, rows: list[HashedRow], context: audit.AuditContext
) -> list[CreatedUser]:
    """Insert checked, hashed rows: all or none, checked again against the database as it is now
    (a username may have been taken, or a unit removed, since ``check_users_csv``)."""
    _valid, errors = _check_rows(session, [hashed.row for hashed in rows])
    if errors:
        raise ImportRejected(errors)
    units = {u.code: u for u in session.scalars(select(Unit))}
    roles = {r.code: r for r in session.scalars(select(Role))}
    created = []
    for hashed in rows:
        spec = hashed.row.spec
        user = _new_user(
            spec,
            units[spec.unit_code],
            roles[spec.role],
            hashed.password_hash,
            hashed.initial_password is not None,
        )
        session.add(user)
        created.append(CreatedUser(user=user, initial_password=hashed.initial_password))
    session.flush()
    for made in created:
        events.changed(
            session, events.USER_CREATED, ("user", made.user.id), context, unit_id=made.user.unit_id
        )
    audit.append(
        session=session,
        context=context,
        action="user.import",
        object_type="user",
        detail={"count": len(created)},
    )
    return created


def _check_rows(session: Session, rows: list[ImportRow]) -> tuple[list[ImportRow], list[RowError]]:
    """(rows that pass, an error for each that does not), in file order."""
    units = {u.code: u for u in session.scalars(select(Unit))}
    roles = {r.code: r for r in session.scalars(select(Role))}
    existing = set(session.scalars(select(User.username)).all())
    valid: list[ImportRow] = []
    errors: list[RowError] = []
    first_row: dict[str, int] = {}
    for row in rows:
        username = normalise_username(row.spec.username)
        problem = _check_spec(row.spec, units, roles)
        if problem is None and username in existing:
            problem = rule_problem(N_("username %(username)s already exists"), username=username)
        if problem is None and username in first_row:
            problem = rule_problem(
                N_("username %(username)s is repeated (first on row %(row)s)"),
                username=username,
                row=first_row[username],
            )
        if problem:
            errors.append(RowError(row.line, problem.text, problem.values))
            continue
        first_row[username] = row.line
        valid.append(row)
    return valid, errors


def _spec_from_row(row: dict[str, str]) -> UserSpec:
    clearance = None
    if row.get("clearance"):
        try:
            clearance = Classification[row["clearance"].upper()]
        except KeyError:
            raise ValueError(row["clearance"]) from None
    return UserSpec(
        username=row["username"],
        full_name=row["full_name"],
        unit_code=row["unit_code"],
        role=row["role"],
        clearance=clearance,
        rank=row.get("rank") or None,
        password=row.get("password") or None,
    )


def end_sessions_and_tokens(*, session: Session, user_id: int, reason: str) -> None:
    """End every session and revoke every API token of a user, at once."""
    now = utcnow()
    session.execute(
        update(UserSession)
        .where(UserSession.user_id == user_id, UserSession.ended_at.is_(None))
        .values(ended_at=now, end_reason=reason)
    )
    session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def disable_user(*, session: Session, username: str, context: audit.AuditContext) -> User:
    """End every session and token of a user and keep them out. Refused for the acting
    administrator themselves, and for the last enabled administrator: either would leave nobody
    able to undo it from the browser."""
    user = get_by_username(session=session, username=username)
    if context.actor_id is not None and str(context.actor_id) == str(user.id):
        raise Conflict("you cannot disable your own account", code="cannot_disable_self")
    if user.disabled_at is None and user.role.is_admin and enabled_admins(session) <= 1:
        raise Conflict("the last enabled administrator cannot be disabled", code="last_admin")
    if user.disabled_at is None:
        user.disabled_at = utcnow()
        events.changed(
            session, events.USER_DISABLED, ("user", user.id), context, unit_id=user.unit_id
        )
    end_sessions_and_tokens(session=session, user_id=user.id, reason="user_disabled")
    audit.append(
        session=session,
        context=context,
        action="user.disable",
        object_type="user",
        object_id=str(user.id),
    )
    return user


def enabled_admins(session: Session) -> int:
    return len(
        session.scalars(
            select(User.id)
            .join(Role, Role.code == User.role_code)
            .where(Role.is_admin.is_(True), User.disabled_at.is_(None))
        ).all()
    )


def enable_user(*, session: Session, username: str, context: audit.AuditContext) -> User:
    user = get_by_username(session=session, username=username)
    if user.disabled_at is not None:
        user.disabled_at = None
        events.changed(
            session, events.USER_ENABLED, ("user", user.id), context, unit_id=user.unit_id
        )
    audit.append(
        session=session,
        context=context,
        action="user.enable",
        object_type="user",
        object_id=str(user.id),
    )
    return user


def reset_password(
    *,
    session: Session,
    username: str,
    passwords: Passwords,
    context: audit.AuditContext,
    new_password: str | None = None,
) -> str | None:
    """Set a new password (generated when none is given) and end every session.

    The officer must change it at next sign-in. MFA is untouched: a reset never bypasses it.
    Returns the generated password, if one was generated.
    """
    user = get_by_username(session=session, username=username)
    if new_password is not None:
        check_policy(new_password, username=user.username)
    generated = None if new_password is not None else generate_password()
    user.password_hash = passwords.hash(new_password or generated or "")
    user.password_changed_at = utcnow()
    user.must_change_password = True
    end_sessions_and_tokens(session=session, user_id=user.id, reason="password_reset")
    audit.append(
        session=session,
        context=context,
        action="user.reset_password",
        object_type="user",
        object_id=str(user.id),
    )
    return generated


def reset_mfa(*, session: Session, username: str, context: audit.AuditContext) -> User:
    """Remove the second factor; the officer enrols again at next sign-in."""
    user = get_by_username(session=session, username=username)
    user.mfa_secret_sealed = None
    user.mfa_enabled_at = None
    user.mfa_last_step = None
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    end_sessions_and_tokens(session=session, user_id=user.id, reason="mfa_reset")
    audit.append(
        session=session,
        context=context,
        action="user.reset_mfa",
        object_type="user",
        object_id=str(user.id),
    )
    return user


def by_ids(*, session: Session, user_ids: Iterable[int]) -> dict[int, User]:
    """The users with these ids, in one query (a page naming many people asks once)."""
    wanted = sorted(set(user_ids))
    if not wanted:
        return {}
    return {user.id: user for user in session.scalars(select(User).where(User.id.in_(wanted)))}
