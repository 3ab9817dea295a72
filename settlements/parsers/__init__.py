"""One module per real file format; `PARSERS` maps API.md's provider names to them."""
