"""Reading the bank fixtures and catching refusals, for the bank parser tests."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import pytest

from settlements.parsers.base import ColumnMapping, ParsedBatch, ParsedLine, ParseError, Record

FILES = Path(__file__).resolve().parent.parent / "files" / "bank"

Parser = Callable[..., Iterator[Record]]


def fixture(name: str) -> bytes:
    return (FILES / name).read_bytes()


def parse(parser: Parser, data: bytes, options: ColumnMapping | None = None) -> list[Record]:
    return list(parser(io.BytesIO(data), options=options))


def split(records: list[Record]) -> tuple[list[ParsedBatch], list[ParsedLine]]:
    batches = [r for r in records if isinstance(r, ParsedBatch)]
    lines = [r for r in records if isinstance(r, ParsedLine)]
    assert len(batches) + len(lines) == len(records)
    return batches, lines


def refused(parser: Parser, data: bytes, options: ColumnMapping | None = None) -> ParseError:
    with pytest.raises(ParseError) as caught:
        parse(parser, data, options)
    return caught.value


class CountingStream(io.RawIOBase):
    """A binary stream that says how much of it has been read."""

    def __init__(self, data: bytes) -> None:
        self._inner: IO[bytes] = io.BytesIO(data)
        self.consumed = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        chunk = self._inner.read(len(buffer))
        buffer[: len(chunk)] = chunk
        self.consumed += len(chunk)
        return len(chunk)
