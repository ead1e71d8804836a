"""`aegroup schema show|check|list|from`: print, validate, list, or read a skeleton from a pose file."""

from __future__ import annotations

import typer

from aegroup.schema import builtin_schemas, load_schema

app = typer.Typer(help="Show or check pose schemas (skeletons).", no_args_is_help=True)


@app.command("show")
def show(name_or_path: str = typer.Argument(..., help="Built-in name or YAML/JSON file.")) -> None:
    """Print a schema as YAML, with its derived flip index and grouping order."""
    schema = load_schema(name_or_path)
    typer.echo(schema.to_yaml().rstrip())
    typer.echo(f"# num_joints: {schema.num_joints}")
    typer.echo(f"# flip_index: {schema.flip_index}")
    typer.echo(f"# group_index: {schema.group_index}")


@app.command("check")
def check(path: str = typer.Argument(..., help="Schema file (YAML or JSON) to validate.")) -> None:
    """Validate a schema file; exit 0 when valid, 2 with a one-line error otherwise."""
    schema = load_schema(path)
    typer.echo(f"{path}: ok ({schema.name}, {schema.num_joints} joints, {len(schema.edges)} edges)")


@app.command("from")
def from_file(
    path: str = typer.Argument(
        ...,
        help="Pose file: .slp, DeepLabCut project/config/csv/h5, COCO or "
        "Label Studio JSON, YOLO folder or data.yaml, results or project.",
    ),
) -> None:
    """Print the skeleton a pose file describes as schema YAML (save it to edit sigmas, order, edges)."""
    from aegroup.io.formats import read_schema

    typer.echo(read_schema(path).to_yaml().rstrip())


@app.command("list")
def list_builtins() -> None:
    """List the built-in schemas."""
    for name in builtin_schemas():
        typer.echo(name)
