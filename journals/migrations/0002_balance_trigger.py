"""PostgreSQL backstops behind the posting service's own checks (HOUSE_STYLE "Invariants"):

- a DEFERRABLE INITIALLY DEFERRED constraint trigger on journal lines: at commit, every entry a
  transaction touched must have debits equal to credits (an entry has one currency), whatever
  wrote the lines: the service, a shell, raw SQL;
- posted entries and their lines are never changed: corrections are reversing entries.

SQLite (the embedded demo) has only the service's checks.
"""

from django.db import migrations

BALANCE = """
CREATE OR REPLACE FUNCTION journals_entry_balanced() RETURNS trigger AS $$
DECLARE
    entry bigint;
    debits numeric;
    credits numeric;
BEGIN
    FOREACH entry IN ARRAY (
        CASE TG_OP
            WHEN 'INSERT' THEN ARRAY[NEW.entry_id]
            WHEN 'DELETE' THEN ARRAY[OLD.entry_id]
            ELSE ARRAY[NEW.entry_id, OLD.entry_id]
        END
    ) LOOP
        SELECT COALESCE(SUM(debit), 0), COALESCE(SUM(credit), 0) INTO debits, credits
        FROM journals_journalline WHERE entry_id = entry;
        IF debits <> credits THEN
            RAISE EXCEPTION 'journal entry % does not balance: debits %, credits %',
                entry, debits, credits
                USING ERRCODE = '23514', CONSTRAINT = 'journal_entry_balanced';
        END IF;
    END LOOP;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE CONSTRAINT TRIGGER journal_entry_balanced
    AFTER INSERT OR UPDATE OR DELETE ON journals_journalline
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION journals_entry_balanced();

CREATE OR REPLACE FUNCTION journals_posted_unchanged() RETURNS trigger AS $$
BEGIN
    IF TG_TABLE_NAME = 'journals_journalentry' THEN
        IF OLD.status = 'posted' THEN
            RAISE EXCEPTION 'journal entry % is posted: reverse it instead', OLD.id
                USING ERRCODE = '23514', CONSTRAINT = 'journal_posted_unchanged';
        END IF;
        RETURN NEW;
    END IF;
    IF EXISTS (
        SELECT 1 FROM journals_journalentry e
        WHERE e.status = 'posted'
          AND e.id IN (
              CASE WHEN TG_OP = 'DELETE' THEN OLD.entry_id ELSE NEW.entry_id END,
              CASE WHEN TG_OP = 'INSERT' THEN NEW.entry_id ELSE OLD.entry_id END)
    ) THEN
        RAISE EXCEPTION 'the lines of a posted journal entry are never changed'
            USING ERRCODE = '23514', CONSTRAINT = 'journal_posted_unchanged';
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER journal_posted_entry_unchanged
    BEFORE UPDATE OR DELETE ON journals_journalentry
    FOR EACH ROW EXECUTE FUNCTION journals_posted_unchanged();

CREATE TRIGGER journal_posted_lines_unchanged
    BEFORE INSERT OR UPDATE OR DELETE ON journals_journalline
    FOR EACH ROW EXECUTE FUNCTION journals_posted_unchanged();
"""

DROP = """
DROP TRIGGER IF EXISTS journal_posted_lines_unchanged ON journals_journalline;
DROP TRIGGER IF EXISTS journal_posted_entry_unchanged ON journals_journalentry;
DROP FUNCTION IF EXISTS journals_posted_unchanged();
DROP TRIGGER IF EXISTS journal_entry_balanced ON journals_journalline;
DROP FUNCTION IF EXISTS journals_entry_balanced();
"""


def _on_postgresql(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, None)

    return run


class Migration(migrations.Migration):
    dependencies = [("journals", "0001_initial")]

    operations = [migrations.RunPython(_on_postgresql(BALANCE), _on_postgresql(DROP))]
