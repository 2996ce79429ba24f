"""django-celery-beat's tables as its migrations make them (the columns schedsync reads
or writes), for SQLAlchemy Core: the adapter and its digests share them."""

from __future__ import annotations

import sqlalchemy as sa

from schedsync.engine.adapters.celery_common import CRON_FIELDS

metadata = sa.MetaData()
DT = sa.DateTime(timezone=True)
crontab = sa.Table(
    "django_celery_beat_crontabschedule", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    *(sa.Column(f, sa.String(240), nullable=False) for f in CRON_FIELDS),
    sa.Column("timezone", sa.String(63), nullable=False),
)
interval = sa.Table(
    "django_celery_beat_intervalschedule", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("every", sa.Integer, nullable=False),
    sa.Column("period", sa.String(24), nullable=False),
)
solar = sa.Table(
    "django_celery_beat_solarschedule", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("event", sa.String(24), nullable=False),
    sa.Column("latitude", sa.Numeric(9, 6, asdecimal=False), nullable=False),
    sa.Column("longitude", sa.Numeric(9, 6, asdecimal=False), nullable=False),
)
clocked = sa.Table(
    "django_celery_beat_clockedschedule", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("clocked_time", DT, nullable=False),
)
task = sa.Table(
    "django_celery_beat_periodictask", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("task", sa.String(200), nullable=False),
    sa.Column("args", sa.Text, nullable=False),
    sa.Column("kwargs", sa.Text, nullable=False),
    sa.Column("queue", sa.String(200)),
    sa.Column("exchange", sa.String(200)),
    sa.Column("routing_key", sa.String(200)),
    sa.Column("headers", sa.Text, nullable=False),
    sa.Column("priority", sa.Integer),
    sa.Column("expires", DT),
    sa.Column("expire_seconds", sa.Integer),
    sa.Column("one_off", sa.Boolean, nullable=False),
    sa.Column("start_time", DT),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("last_run_at", DT),
    sa.Column("total_run_count", sa.Integer, nullable=False),
    sa.Column("date_changed", DT, nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("crontab_id", sa.Integer, sa.ForeignKey(crontab.c.id)),
    sa.Column("interval_id", sa.Integer, sa.ForeignKey(interval.c.id)),
    sa.Column("solar_id", sa.Integer, sa.ForeignKey(solar.c.id)),
    sa.Column("clocked_id", sa.Integer, sa.ForeignKey(clocked.c.id)),
)
changes = sa.Table(
    "django_celery_beat_periodictasks", metadata,
    sa.Column("ident", sa.SmallInteger, primary_key=True),
    sa.Column("last_update", DT, nullable=False),
)
