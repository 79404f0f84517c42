"""Push rules: the spec's default ruleset, with a user's changes to the rules' ``enabled`` and
``actions`` kept as the server-owned account data ``polaris.push_rule_changes`` (sync should send
:func:`ruleset` as the ``m.push_rules`` account data event, not that row).

Polaris sends no push notifications yet (docs/matrix.md, "Gaps"); clients still read the rules
to decide what to highlight and count as unread, so they must be a valid ruleset. Rules of a
user's own (keywords, per-room rules) are refused with ``M_FORBIDDEN``.
"""

from __future__ import annotations

import copy
from typing import Any

from sqlalchemy.orm import Session

from polaris.matrix import settings_store
from polaris.web.matrix_errors import MatrixError

CHANGES_TYPE = "polaris.push_rule_changes"
KINDS = ("override", "content", "room", "sender", "underride")
NOTIFY: list[Any] = ["notify"]
SOUND = [{"set_tweak": "sound", "value": "default"}]
HIGHLIGHT = [{"set_tweak": "highlight"}]


def _event_match(key: str, pattern: str) -> dict[str, str]:
    return {"kind": "event_match", "key": key, "pattern": pattern}


def _rule(rule_id: str, conditions: list[dict[str, Any]], actions: list[Any]) -> dict[str, Any]:
    return {
        "rule_id": rule_id,
        "default": True,
        "enabled": True,
        "conditions": conditions,
        "actions": actions,
    }


def default_ruleset(username: str, user_id: str) -> dict[str, Any]:
    """The predefined rules of the client-server spec (v1.11), for ``user_id``."""
    mention = {"kind": "event_property_contains", "key": "content.m\\.mentions.user_ids"}
    override = [
        {**_rule(".m.rule.master", [], []), "enabled": False},
        _rule(".m.rule.suppress_notices", [_event_match("content.msgtype", "m.notice")], []),
        _rule(
            ".m.rule.invite_for_me",
            [
                _event_match("type", "m.room.member"),
                _event_match("content.membership", "invite"),
                _event_match("state_key", user_id),
            ],
            [*NOTIFY, *SOUND],
        ),
        _rule(".m.rule.member_event", [_event_match("type", "m.room.member")], []),
        _rule(
            ".m.rule.is_user_mention",
            [{**mention, "value": user_id}],
            [*NOTIFY, *SOUND, *HIGHLIGHT],
        ),
        _rule(
            ".m.rule.is_room_mention",
            [
                {"kind": "event_property_is", "key": "content.m\\.mentions.room", "value": True},
                {"kind": "sender_notification_permission", "key": "room"},
            ],
            [*NOTIFY, *HIGHLIGHT],
        ),
        _rule(
            ".m.rule.tombstone",
            [_event_match("type", "m.room.tombstone"), _event_match("state_key", "")],
            [*NOTIFY, *HIGHLIGHT],
        ),
        _rule(".m.rule.reaction", [_event_match("type", "m.reaction")], []),
        _rule(
            ".m.rule.server_acl",
            [_event_match("type", "m.room.server_acl"), _event_match("state_key", "")],
            [],
        ),
        _rule(
            ".m.rule.suppress_edits",
            [
                {
                    "kind": "event_property_is",
                    "key": "content.m\\.relates_to.rel_type",
                    "value": "m.replace",
                }
            ],
            [],
        ),
    ]
    content = [
        {
            **_rule(".m.rule.contains_user_name", [], [*NOTIFY, *SOUND, *HIGHLIGHT]),
            "pattern": username,
        },
    ]
    underride = [
        _rule(".m.rule.call", [_event_match("type", "m.call.invite")], [*NOTIFY]),
        _rule(
            ".m.rule.room_one_to_one",
            [{"kind": "room_member_count", "is": "2"}, _event_match("type", "m.room.message")],
            [*NOTIFY, *SOUND],
        ),
        _rule(".m.rule.message", [_event_match("type", "m.room.message")], [*NOTIFY]),
    ]
    return {
        "global": {
            "override": override,
            "content": content,
            "room": [],
            "sender": [],
            "underride": underride,
        }
    }


def ruleset(session: Session, *, user_db_id: int, username: str, user_id: str) -> dict[str, Any]:
    """The defaults with the user's stored changes applied."""
    rules = default_ruleset(username, user_id)
    try:
        changes = settings_store.get_account_data(
            session, user_id=user_db_id, data_type=CHANGES_TYPE
        )
    except MatrixError:
        changes = {}
    for key, change in changes.get("changes", {}).items():
        rule = _find(rules, *key.split("/", 1)) if "/" in key else None
        if rule is not None and isinstance(change, dict):
            rule.update({k: v for k, v in change.items() if k in ("enabled", "actions")})
    return rules


def _find(rules: dict[str, Any], kind: str, rule_id: str) -> dict[str, Any] | None:
    for rule in rules["global"].get(kind, []):
        if rule["rule_id"] == rule_id:
            found: dict[str, Any] = rule
            return found
    return None


def get_rule(
    session: Session,
    *,
    user_db_id: int,
    username: str,
    user_id: str,
    scope: str,
    kind: str,
    rule_id: str,
) -> dict[str, Any]:
    rules = ruleset(session, user_db_id=user_db_id, username=username, user_id=user_id)
    rule = _find(rules, kind, rule_id) if scope == "global" and kind in KINDS else None
    if rule is None:
        raise MatrixError(404, "M_NOT_FOUND", "no such push rule")
    return copy.deepcopy(rule)


def change_rule(
    session: Session,
    *,
    user_db_id: int,
    username: str,
    user_id: str,
    scope: str,
    kind: str,
    rule_id: str,
    attribute: str,
    value: Any,
) -> None:
    """Set ``enabled`` or ``actions`` of a predefined rule (kept per user)."""
    get_rule(
        session,
        user_db_id=user_db_id,
        username=username,
        user_id=user_id,
        scope=scope,
        kind=kind,
        rule_id=rule_id,
    )
    if attribute == "enabled" and not isinstance(value, bool):
        raise MatrixError(400, "M_BAD_JSON", "enabled must be true or false")
    if attribute == "actions" and not isinstance(value, list):
        raise MatrixError(400, "M_BAD_JSON", "actions must be a list")
    try:
        stored = settings_store.get_account_data(
            session, user_id=user_db_id, data_type=CHANGES_TYPE
        )
    except MatrixError:
        stored = {}
    changes = dict(stored.get("changes", {}))
    key = f"{kind}/{rule_id}"
    changes[key] = {**changes.get(key, {}), attribute: value}
    settings_store.put_account_data(
        session,
        user_id=user_db_id,
        data_type=CHANGES_TYPE,
        content={"changes": changes},
        server=True,
    )


def refuse_own_rules() -> MatrixError:
    return MatrixError(
        403,
        "M_FORBIDDEN",
        "rules of your own are not supported; change the "
        "predefined rules' enabled and actions instead",
    )
