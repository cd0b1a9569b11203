"""python -m f1gen."""

from .cli import main

main()
