"""``polaris retention``: retention rules, legal holds and the retention pass (docs/resilience.md,
"Retention and legal hold"), for the drive and the messenger (docs/chat.md, "Retention"). Run by
the instance's operator: audited as the CLI's system user."""

from __future__ import annotations

from pathlib import Path

import typer
from sqlalchemy.orm import Session

from polaris.access.policy import Classification
from polaris.chat import retention as chat_retention
from polaris.cli.context import DataDirOption, cli_context, console, instance_for, unit_of_work
from polaris.drive import holds, retention, retention_run
from polaris.drive.models import LegalHold
from polaris.identity import users

retention_app = typer.Typer(no_args_is_help=True)


@retention_app.command("set")
def set_rule(
    space: int | None = typer.Option(None, help="A space id: the rule covers the whole space."),
    folder: int | None = typer.Option(None, help="A folder id: the rule covers its subtree."),
    classification: Classification | None = typer.Option(
        None, help="A level: the rule covers every node of that effective level."
    ),
    keep_versions_years: int | None = typer.Option(
        None, help="Keep old versions this many years after they stopped being current."
    ),
    purge_trash_days: int | None = typer.Option(
        None, help="Purge what is in the trash this many days after it was deleted."
    ),
    room_kind: str | None = typer.Option(
        None, help="A kind of messenger room: direct, group, unit_channel or broadcast."
    ),
    keep_messages_days: int | None = typer.Option(
        None, help="Remove the text of that kind of room's messages this many days after sending."
    ),
    data_dir: Path | None = DataDirOption,
) -> None:
    """Create or change the rule of one space, folder, classification level or kind of room."""
    target = retention.Target(
        space_id=space,
        node_id=folder,
        classification=None if classification is None else int(classification),
        room_kind=None if room_kind is None else chat_retention.check_kind(room_kind),
    )
    with instance_for(data_dir) as instance, unit_of_work(instance) as session:
        rule = retention.set_rule(
            session=session,
            actor=None,
            context=cli_context(),
            target=target,
            keep_versions_years=keep_versions_years,
            purge_trash_days=purge_trash_days,
            keep_messages_days=keep_messages_days,
        )
        console.print(f"rule {rule.id}: {retention.rule_detail(rule)}", highlight=False)


@retention_app.command("list")
def list_rules(data_dir: Path | None = DataDirOption) -> None:
    """Every retention rule: the drive's, then the messenger's."""
    with instance_for(data_dir) as instance, unit_of_work(instance, writes=False) as session:
        found = retention.list_rules(session=session, actor=None, context=cli_context())
        found += retention.list_room_rules(session=session, actor=None, context=cli_context())
        for rule in found:
            console.print(f"rule {rule.id}: {retention.rule_detail(rule)}", highlight=False)


@retention_app.command("delete")
def delete_rule(rule_id: int, data_dir: Path | None = DataDirOption) -> None:
    """Delete a rule (what it kept is then kept by the other rules, or for ever)."""
    with instance_for(data_dir) as instance, unit_of_work(instance) as session:
        retention.delete_rule(session=session, actor=None, context=cli_context(), rule_id=rule_id)
    console.print(f"deleted rule {rule_id}")


def _chat_target(session: Session, room: int | None, user: str | None) -> chat_retention.HoldTarget:
    user_id = None if user is None else users.get_by_username(session=session, username=user).id
    return chat_retention.HoldTarget(room_id=room, user_id=user_id)


def _one_target(node_id: int | None, room: int | None, user: str | None) -> None:
    if sum(value is not None for value in (node_id, room, user)) != 1:
        raise typer.BadParameter("name one file or folder (its id), one --room or one --user")


@retention_app.command("hold")
def hold(
    node_id: int | None = typer.Argument(None, help="A file or folder id."),
    room: int | None = typer.Option(None, "--room", help="A messenger room id: all its messages."),
    user: str | None = typer.Option(None, "--user", help="A username: every message they sent."),
    reason: str = typer.Option(..., "--reason", help="Why (a court order, an inquiry): audited."),
    data_dir: Path | None = DataDirOption,
) -> None:
    """Put a file or folder (with its subtree), a messenger room or a user's messages under a
    legal hold."""
    _one_target(node_id, room, user)
    with instance_for(data_dir) as instance, unit_of_work(instance) as session:
        if node_id is not None:
            placed = holds.place_hold(
                session=session, actor=None, context=cli_context(), node_id=node_id, reason=reason
            )
        else:
            placed = chat_retention.place_hold(
                session=session,
                actor=None,
                context=cli_context(),
                target=_chat_target(session, room, user),
                reason=reason,
            )
        console.print(f"hold {placed.id} on {_held(placed)}: {placed.reason}", highlight=False)


@retention_app.command("release")
def release(
    node_id: int | None = typer.Argument(None, help="A file or folder id."),
    room: int | None = typer.Option(None, "--room", help="A messenger room id."),
    user: str | None = typer.Option(None, "--user", help="A username."),
    reason: str = typer.Option(..., "--reason", help="Why the hold ends: audited."),
    data_dir: Path | None = DataDirOption,
) -> None:
    """Lift the legal hold on a file or folder, a messenger room or a user's messages."""
    _one_target(node_id, room, user)
    with instance_for(data_dir) as instance, unit_of_work(instance) as session:
        if node_id is not None:
            lifted = holds.release_hold(
                session=session, actor=None, context=cli_context(), node_id=node_id, reason=reason
            )
        else:
            lifted = chat_retention.release_hold(
                session=session,
                actor=None,
                context=cli_context(),
                target=_chat_target(session, room, user),
                reason=reason,
            )
        console.print(f"hold {lifted.id} on {_held(lifted)} lifted", highlight=False)


def _held(hold: LegalHold) -> str:
    if hold.room_id is not None:
        return f"room {hold.room_id}"
    if hold.user_id is not None:
        return f"user {hold.user_id}"
    return f"node {hold.node_id}"


@retention_app.command("holds")
def list_holds(data_dir: Path | None = DataDirOption) -> None:
    """The legal holds in force."""
    with instance_for(data_dir) as instance, unit_of_work(instance, writes=False) as session:
        found = holds.list_holds(session=session, actor=None, context=cli_context())
        found += chat_retention.list_holds(session=session, actor=None, context=cli_context())
        for held in found:
            console.print(
                f"hold {held.id} on {_held(held)} since {held.held_at:%Y-%m-%d}: {held.reason}",
                highlight=False,
            )


@retention_app.command("run")
def run(data_dir: Path | None = DataDirOption) -> None:
    """Run the retention passes now, the drive's and the messenger's (the jobs run every hour)."""
    with instance_for(data_dir) as instance:
        outcome = retention_run.run(instance.sessions, context=cli_context())
        messages = chat_retention.run(instance.sessions, context=cli_context())
    console.print(
        f"expired {outcome.expired_versions} version(s), purged {outcome.purged_nodes} node(s), "
        f"released {outcome.released_bytes} bytes; {outcome.held} kept by a legal hold"
    )
    console.print(
        f"messages: removed the text of {messages.purged_messages} in {messages.rooms} room(s); "
        f"{messages.held} kept by a legal hold"
    )
