"""The command line: typer commands, progress, reports (the top layer; it may import every other one)."""
