"""The `aegroup` command line: one thin module per verb, registered here."""

from __future__ import annotations

import sys

import typer

from aegroup.cli import data as data_cli
from aegroup.cli import demo as demo_cli
from aegroup.cli import evaluate as evaluate_cli
from aegroup.cli import export as export_cli
from aegroup.cli import export_model as export_model_cli
from aegroup.cli import label as label_cli
from aegroup.cli import predict as predict_cli
from aegroup.cli import schema as schema_cli
from aegroup.cli import synth as synth_cli
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
app.command("demo")(demo_cli.demo)
app.command("export")(export_cli.export)
app.command("export-model")(export_model_cli.export_model)
app.command("label")(label_cli.label)
app.command("evaluate")(evaluate_cli.evaluate)
app.command("predict")(predict_cli.predict)
app.command("train")(train_cli.train)


def main() -> None:
    """Run the CLI; user errors print one line to stderr and exit with code 2."""
    try:
        app()
    except AegroupError as err:
        typer.echo(f"error: {err}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)
