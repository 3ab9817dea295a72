"""Foreign keys checked a statement at a time, for the tables written a million rows at once.

PostgreSQL checks a foreign key one row at a time: for each row written, a lookup of its parent
`FOR KEY SHARE`. A million-line settlement file has three (its batch, order and expectation),
and a month's journals two million source links to their lines: those checks were 14 s of a
39 s journal run, and as much of a settlement's commit. Here the same rule is kept by
statement triggers over the rows a statement wrote, one anti-join each:

- a child row written (inserted, or its key updated) must name a parent that exists;
- a parent row deleted must have no child left (Django's `on_delete` has already removed or
  re-pointed them by then, as it does before the parent's DELETE);

either failing raises `foreign_key_violation` (Django's `IntegrityError`), as the constraint
did, at the end of the statement instead of at commit. The field keeps its `on_delete` and its
index; only `db_constraint=False` and these triggers stand in for the constraint. PostgreSQL
only; SQLite (the demo) goes unchecked, as Django leaves it.

A child check looks each distinct key up once (migration core 0008): a statement's rows name
few parents (a million links, some seventy lines), and over the rows themselves the planner,
sure of a small parent table and told to stop at the first miss, compared every row with every
parent (1.5 s of an 800,000-link insert). A writer whose keys were all read from their parents
in the same transaction says so for one table and one block (`keys_trusted`): nothing is
looked up then.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.db import connection
from psycopg.pq import TransactionStatus

FUNCTIONS = """
CREATE OR REPLACE FUNCTION core_key_child_check() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE missing text;
BEGIN
    IF current_setting('retailsync.keys_trusted', true) = TG_TABLE_NAME THEN
        RETURN NULL;  -- keys_trusted(): read from their parents in this transaction
    END IF;
    EXECUTE format(
        'SELECT CAST(d.v AS text) FROM (SELECT DISTINCT n.%1$I AS v FROM new_rows n) d '
        'WHERE d.v IS NOT NULL AND NOT EXISTS (SELECT 1 FROM %2$I p WHERE p.id = d.v) LIMIT 1',
        TG_ARGV[0], TG_ARGV[1]) INTO missing;
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'insert or update on table "%" violates foreign key: %=% is not in "%"',
            TG_TABLE_NAME, TG_ARGV[0], missing, TG_ARGV[1]
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION core_key_parent_check() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE referenced text;
BEGIN
    EXECUTE format(
        'SELECT CAST(o.id AS text) FROM old_rows o '
        'WHERE EXISTS (SELECT 1 FROM %1$I c WHERE c.%2$I = o.id) LIMIT 1',
        TG_ARGV[0], TG_ARGV[1]) INTO referenced;
    IF referenced IS NOT NULL THEN
        RAISE EXCEPTION 'delete on table "%" violates foreign key: id=% is still in "%"',
            TG_TABLE_NAME, referenced, TG_ARGV[0]
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END $$;
"""


@dataclass(frozen=True, slots=True)
class StatementKey:
    child: str  # table
    column: str  # its key column
    parent: str  # the table whose `id` it names

    @property
    def name(self) -> str:
        return f"{self.child}_{self.column}_key"

    def create_sql(self) -> list[str]:
        args = f"'{self.column}', '{self.parent}'"
        child = [
            f"CREATE TRIGGER {self.name}_{op.lower()} AFTER {op} ON {self.child} "
            f"REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT "
            f"EXECUTE FUNCTION core_key_child_check({args})"
            for op in ("INSERT", "UPDATE")
        ]
        parent = (
            f"CREATE TRIGGER {self.name}_parent AFTER DELETE ON {self.parent} "
            f"REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT "
            f"EXECUTE FUNCTION core_key_parent_check('{self.child}', '{self.column}')"
        )
        return [FUNCTIONS, *child, parent]

    def drop_sql(self) -> list[str]:
        return [
            f"DROP TRIGGER IF EXISTS {self.name}_insert ON {self.child}",
            f"DROP TRIGGER IF EXISTS {self.name}_update ON {self.child}",
            f"DROP TRIGGER IF EXISTS {self.name}_parent ON {self.parent}",
        ]


def postgresql_run(forward: list[str], backward: list[str]) -> tuple[Any, Any]:
    """A migration's RunPython pair running SQL on PostgreSQL only (triggers, functions),
    without parameters: a `%` in it is PL/pgSQL `format()`'s, not a placeholder."""

    def run(statements: list[str]) -> Callable[[Any, Any], None]:
        def apply(apps: Any, schema_editor: Any) -> None:
            if schema_editor.connection.vendor != "postgresql":
                return
            with schema_editor.connection.cursor() as cursor:
                for statement in statements:
                    cursor.execute(statement)

        return apply

    return run(forward), run(backward)


def keys_install(*keys: StatementKey) -> tuple[Any, Any]:
    """A migration's RunPython pair: install the keys' triggers, or take them out."""
    return postgresql_run(
        [sql for key in keys for sql in key.create_sql()],
        [sql for key in keys for sql in key.drop_sql()],
    )


@contextmanager
def keys_trusted(table: str) -> Iterator[None]:
    """Writes to `table` inside the block are not checked: for a statement whose every key
    was read from its parent in the same transaction (settlement matching writes a million
    lines whose batch, order and expectation it has just joined to; their checks were 1.6 s).
    Other tables, and the table after the block, are checked as ever. In a transaction only
    (the setting is `SET LOCAL`'s)."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('retailsync.keys_trusted', %s, true)", [table])
        try:
            yield
        finally:
            # A failed statement's transaction takes the setting with it when rolled back.
            if connection.connection.info.transaction_status != TransactionStatus.INERROR:
                cursor.execute("SELECT set_config('retailsync.keys_trusted', '', true)")
