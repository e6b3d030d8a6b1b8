"""``python -m cli`` is the ``sigap`` command."""

from cli import main

main(prog_name="sigap")
