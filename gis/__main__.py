"""``python -m gis`` is the ``sigap`` command."""

from gis.cli import main

main(prog_name="sigap")
