"""Command line interface (placeholder filled below)."""

import typer

app = typer.Typer()
