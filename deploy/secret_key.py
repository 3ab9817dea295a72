#!/usr/bin/env python3
"""Write a new random SECRET_KEY to the file given, unless it already holds one.

compose.yaml runs it once before anything else, so `docker compose up` needs no key typed in
and the key stays the same across restarts (sessions survive); the settings read the file
through SECRET_KEY_FILE. Only the owner may read it.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path


def main(path: Path) -> int:
    if path.exists() and path.read_text().strip():
        return 0
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(secrets.token_urlsafe(50) + "\n")
    partial.replace(path)  # whole or not at all, even if two start at once
    print(f"secret_key: wrote a new key to {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: secret_key.py FILE")
    sys.exit(main(Path(sys.argv[1])))
