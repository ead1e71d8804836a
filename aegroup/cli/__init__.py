"""The `aegroup` command line: one thin module per verb, registered here; other packages add verbs through
the `aegroup.commands` entry-point group (the labeller's `label`)."""

from __future__ import annotations

import sys
from importlib.metadata import entry_points

import typer

from aegroup.cli import convert as convert_cli
from aegroup.cli import data as data_cli
from aegroup.cli import demo as demo_cli
from aegroup.cli import evaluate as evaluate_cli
from aegroup.cli import export as export_cli
from aegroup.cli import export_model as export_model_cli
from aegroup.cli import predict as predict_cli
from aegroup.cli import schema as schema_cli
from aegroup.cli import synth as synth_cli
from aegroup.cli import track as track_cli
from aegroup.cli import train as train_cli
from aegroup.errors import AegroupError

app = typer.Typer(
    name="aegroup",
    help="Associative-embedding bottom-up pose estimation for any skeleton.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(schema_cli.app, name="schema")
app.add_typer(data_cli.app, name="data")
app.command("synth")(synth_cli.synth)
app.command("convert")(convert_cli.convert)
app.command("demo")(demo_cli.demo)
app.command("export")(export_cli.export)
app.command("export-model")(export_model_cli.export_model)
app.command("evaluate")(evaluate_cli.evaluate)
app.command("predict")(predict_cli.predict)
app.command("train")(train_cli.train)
app.command("track")(track_cli.track)


COMMANDS_GROUP = "aegroup.commands"
"""Entry-point group of verbs that other packages add: name -> typer command function."""


def add_entry_point_commands() -> None:
    """Register every `aegroup.commands` entry point whose name is not a verb yet."""
    taken = {command.name for command in app.registered_commands}
    for point in entry_points(group=COMMANDS_GROUP):
        if point.name not in taken:
            app.command(point.name)(point.load())


def main() -> None:
    """The `aegroup` program: built-in verbs and those of entry points, with `run`'s error handling."""
    add_entry_point_commands()
    run(app)


def run(program: typer.Typer) -> None:
    """Run a typer program; user errors print one line to stderr and exit with code 2."""
    try:
        program()
    except AegroupError as err:
        typer.echo(f"error: {err}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)
