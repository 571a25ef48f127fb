"""Monthly partitions of the events table on PostgreSQL (issue #18); SQLite unchanged.

On PostgreSQL, ``personalization_event`` is rebuilt as a table partitioned by RANGE ("timestamp"): a partition
per month that holds events, the current month and the next two, and a DEFAULT partition; the primary key
becomes (id, timestamp) and the UNIQUE ``client_event_id`` gives way to the table ``personalization_eventid``
(see personalization/capture/partitions.py), whose rows a trigger deletes with their events. The other indexes, checks and foreign keys are recreated as they
were. The rows are copied, so on a large table run it in a maintenance window (it holds an exclusive lock).
"""
import datetime as dt

from django.db import migrations, models

TABLE = "personalization_event"
OLD = "personalization_event_unpartitioned"
IDS = "personalization_eventid"


def _next_month(day):
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def _saved_definitions(cursor, table):
    """CREATE INDEX statements (not the primary key, not unique ones) and foreign keys of ``table``."""
    cursor.execute(
        "SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i WHERE i.indrelid = %s::regclass "
        "AND NOT i.indisprimary AND NOT i.indisunique", [table])
    indexes = [row[0] for row in cursor.fetchall()]
    cursor.execute("SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                   "WHERE conrelid = %s::regclass AND contype = 'f'", [table])
    return indexes, cursor.fetchall()


def _rebuild(schema_editor, partitioned):
    cursor = schema_editor.connection.cursor()
    indexes, foreign_keys = _saved_definitions(cursor, TABLE)
    cursor.execute(f"LOCK TABLE {TABLE} IN ACCESS EXCLUSIVE MODE")
    cursor.execute(f"ALTER TABLE {TABLE} RENAME TO {OLD}")
    cursor.execute(f"ALTER SEQUENCE IF EXISTS {TABLE}_id_seq RENAME TO {OLD}_id_seq")
    if partitioned:
        cursor.execute(f'CREATE TABLE {TABLE} (LIKE {OLD} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING IDENTITY, '
                       f'PRIMARY KEY (id, "timestamp")) PARTITION BY RANGE ("timestamp")')
        cursor.execute(f"CREATE TABLE {TABLE}_pdefault PARTITION OF {TABLE} DEFAULT")
        cursor.execute(f"SELECT DISTINCT (date_trunc('month', \"timestamp\" AT TIME ZONE 'UTC'))::date FROM {OLD}")
        months = {row[0] for row in cursor.fetchall()}
        month = dt.datetime.now(dt.UTC).date().replace(day=1)
        for _ in range(3):
            months.add(month)
            month = _next_month(month)
        for month in sorted(months):
            cursor.execute(f"CREATE TABLE {TABLE}_p{month:%Y_%m} PARTITION OF {TABLE} FOR VALUES FROM "
                           f"('{month.isoformat()} 00:00:00+00') TO ('{_next_month(month).isoformat()} 00:00:00+00')")
    else:
        cursor.execute(f"CREATE TABLE {TABLE} (LIKE {OLD} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING IDENTITY, "
                       "PRIMARY KEY (id), UNIQUE (client_event_id))")
    cursor.execute(f"INSERT INTO {TABLE} OVERRIDING SYSTEM VALUE SELECT * FROM {OLD}")
    if partitioned:
        cursor.execute(f"INSERT INTO {IDS} (client_event_id, timestamp) SELECT client_event_id, timestamp FROM {OLD} "
                       "ON CONFLICT DO NOTHING")
    else:
        cursor.execute(f"DELETE FROM {IDS}")
    cursor.execute(f"SELECT pg_get_serial_sequence('{TABLE}', 'id')")
    sequence = cursor.fetchone()[0]
    cursor.execute(f"SELECT setval('{sequence}', COALESCE((SELECT max(id) FROM {TABLE}), 0) + 1, false)")
    cursor.execute(f"DROP TABLE {OLD}")
    names = {"p": f"{TABLE}_pkey", "u": f"{TABLE}_client_event_id_key"}  # the names Django gave them
    cursor.execute("SELECT conname, contype FROM pg_constraint WHERE conrelid = %s::regclass AND contype IN ('p', 'u')",
                   [TABLE])
    for name, kind in cursor.fetchall():
        if name != names[kind]:
            cursor.execute(f"ALTER TABLE {TABLE} RENAME CONSTRAINT {name} TO {names[kind]}")
    for definition in indexes:
        cursor.execute(definition)
    for name, definition in foreign_keys:
        cursor.execute(f"ALTER TABLE {TABLE} ADD CONSTRAINT {name} {definition}")
    if partitioned:  # a deleted event frees its id, as with the UNIQUE column (dropped partitions fire nothing)
        cursor.execute(f"""
            CREATE OR REPLACE FUNCTION {IDS}_forget() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              DELETE FROM {IDS} WHERE client_event_id = OLD.client_event_id;
              RETURN NULL;
            END $$""")
        cursor.execute(f"CREATE TRIGGER {IDS}_forget AFTER DELETE ON {TABLE} FOR EACH ROW EXECUTE FUNCTION {IDS}_forget()")
    else:
        cursor.execute(f"DROP FUNCTION IF EXISTS {IDS}_forget()")


def partition(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        _rebuild(schema_editor, partitioned=True)


def unpartition(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        _rebuild(schema_editor, partitioned=False)


class Migration(migrations.Migration):

    dependencies = [
        ('personalization', '0006_event_query_index'),
    ]

    operations = [
        migrations.CreateModel(
            name='EventId',
            fields=[
                ('client_event_id', models.CharField(max_length=100, primary_key=True, serialize=False)),
                ('timestamp', models.DateTimeField(help_text="The event's timestamp (retention forgets ids with their events).")),
            ],
            options={
                'verbose_name': 'stored event id',
                'indexes': [models.Index(fields=['timestamp'], name='pers_eventid_ts')],
            },
        ),
        migrations.RunPython(partition, unpartition, elidable=False),
    ]
