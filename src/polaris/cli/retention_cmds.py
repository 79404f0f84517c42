"""``polaris retention``: retention rules, legal holds and the retention pass (docs/resilience.md,
"Retention and legal hold"). Run by the instance's operator: audited as the CLI's system user."""

from __future__ import annotations

from pathlib import Path

import typer

from polaris.access.policy import Classification
from polaris.cli.context import DataDirOption, cli_context, console, instance_for, unit_of_work
from polaris.drive import holds, retention, retention_run

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
    data_dir: Path | None = DataDirOption,
) -> None:
    """Create or change the rule of one space, folder or classification level."""
    target = retention.Target(
        space_id=space,
        node_id=folder,
        classification=None if classification is None else int(classification),
    )
    with instance_for(data_dir) as instance, unit_of_work(instance) as session:
        rule = retention.set_rule(
            session=session,
            actor=None,
            context=cli_context(),
            target=target,
            keep_versions_years=keep_versions_years,
            purge_trash_days=purge_trash_days,
        )
        console.print(f"rule {rule.id}: {retention.rule_detail(rule)}", highlight=False)


@retention_app.command("list")
def list_rules(data_dir: Path | None = DataDirOption) -> None:
    """Every retention rule."""
    with instance_for(data_dir) as instance, unit_of_work(instance, writes=False) as session:
        for rule in retention.list_rules(session=session, actor=None, context=cli_context()):
            console.print(f"rule {rule.id}: {retention.rule_detail(rule)}", highlight=False)


@retention_app.command("delete")
def delete_rule(rule_id: int, data_dir: Path | None = DataDirOption) -> None:
    """Delete a rule (what it kept is then kept by the other rules, or for ever)."""
    with instance_for(data_dir) as instance, unit_of_work(instance) as session:
        retention.delete_rule(session=session, actor=None, context=cli_context(), rule_id=rule_id)
    console.print(f"deleted rule {rule_id}")


@retention_app.command("hold")
def hold(
    node_id: int,
    reason: str = typer.Option(..., "--reason", help="Why (a court order, an inquiry): audited."),
    data_dir: Path | None = DataDirOption,
) -> None:
    """Put a file or folder (with its subtree) under a legal hold."""
    with instance_for(data_dir) as instance, unit_of_work(instance) as session:
        placed = holds.place_hold(
            session=session, actor=None, context=cli_context(), node_id=node_id, reason=reason
        )
        console.print(f"hold {placed.id} on node {node_id}: {placed.reason}", highlight=False)


@retention_app.command("release")
def release(
    node_id: int,
    reason: str = typer.Option(..., "--reason", help="Why the hold ends: audited."),
    data_dir: Path | None = DataDirOption,
) -> None:
    """Lift the legal hold on a file or folder."""
    with instance_for(data_dir) as instance, unit_of_work(instance) as session:
        lifted = holds.release_hold(
            session=session, actor=None, context=cli_context(), node_id=node_id, reason=reason
        )
        console.print(f"hold {lifted.id} on node {node_id} lifted", highlight=False)


@retention_app.command("holds")
def list_holds(data_dir: Path | None = DataDirOption) -> None:
    """The legal holds in force."""
    with instance_for(data_dir) as instance, unit_of_work(instance, writes=False) as session:
        for held in holds.list_holds(session=session, actor=None, context=cli_context()):
            console.print(
                f"hold {held.id} on node {held.node_id} since {held.held_at:%Y-%m-%d}: "
                f"{held.reason}",
                highlight=False,
            )


@retention_app.command("run")
def run(data_dir: Path | None = DataDirOption) -> None:
    """Run a retention pass now (the job runs one every hour on its own)."""
    with instance_for(data_dir) as instance:
        outcome = retention_run.run(instance.sessions, context=cli_context())
    console.print(
        f"expired {outcome.expired_versions} version(s), purged {outcome.purged_nodes} node(s), "
        f"released {outcome.released_bytes} bytes; {outcome.held} kept by a legal hold"
    )
