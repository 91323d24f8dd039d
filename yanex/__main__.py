"""`python -m yanex` runs the command line."""

from yanex.cli.main import cli

if __name__ == "__main__":
    cli(prog_name="yanex")
