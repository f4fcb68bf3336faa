"""``python -m sim.experiments sweep FILE ...`` — the same commands as ``govsim sweep`` / ``govsim sensitivity``."""

import typer

from .cli import register

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, no_args_is_help=True,
                  help="Batch sweeps and global sensitivity analysis of govsim experiments.")
register(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
