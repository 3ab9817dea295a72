"""One module per real file format; `PARSERS` maps API.md's provider names to them."""

from .base import Parser

PARSERS: dict[str, Parser] = {}
