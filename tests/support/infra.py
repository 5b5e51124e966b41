"""Test access to the real PostgreSQL and RabbitMQ: isolated databases and a vhost of their own."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable
from typing import Any, TypeVar

import asyncpg
from sqlalchemy.engine import make_url

from shop_runtime.migrations import migrate
from shop_runtime.service import ServiceDefinition
from shop_runtime.settings import ServiceSettings
from tests.support import servers

_servers = servers.SessionServers.configured(os.environ)
POSTGRES = _servers.postgres
RABBITMQ = _servers.rabbitmq
"""The servers' URLs (no database, no vhost): SHOP_TEST_POSTGRES and SHOP_TEST_RABBITMQ, else loopback, until
``use_servers`` points them at the session's (tests/support/servers.py decides)."""
TEST_VHOST = os.environ.get("SHOP_TEST_VHOST", "shop_test")
RUN_SUFFIX = os.environ.get("SHOP_TEST_RUN", "")
"""Set SHOP_TEST_RUN (and SHOP_TEST_VHOST, SHOP_TEST_PORT_BASE) to run two test sessions side by side."""
PORT_BASE = int(os.environ.get("SHOP_TEST_PORT_BASE", "18000"))

SettingsT = TypeVar("SettingsT", bound=ServiceSettings)


def amqp_url(vhost: str = TEST_VHOST) -> str:
    return f"{RABBITMQ}/{vhost}"


def database_url(service: str, suffix: str = "") -> str:
    return f"{POSTGRES}/shop_test_{service}{RUN_SUFFIX}{suffix}"


def use_servers(session: servers.SessionServers) -> None:
    """Point the URLs and ``run_rabbitmqctl`` at the session's servers, before any test reads them."""
    global POSTGRES, RABBITMQ, _servers
    POSTGRES, RABBITMQ, _servers = session.postgres, session.rabbitmq, session


def rabbitmqctl() -> str:
    """The machine's rabbitmqctl (the chaos suite's shared servers); tests use ``run_rabbitmqctl``."""
    return servers.local_rabbitmqctl()


def run_rabbitmqctl(*arguments: str, check: bool = True) -> str:
    """rabbitmqctl on the session's RabbitMQ node: the machine's, or the same command in its container."""
    return _servers.rabbitmqctl(*arguments, check=check)


def reset_vhost(vhost: str = TEST_VHOST) -> None:
    """Start from an empty vhost: no queues or messages left by an earlier run."""
    run_rabbitmqctl("-q", "delete_vhost", vhost, check=False)
    run_rabbitmqctl("-q", "add_vhost", vhost)
    run_rabbitmqctl("-q", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")


def delete_vhost(vhost: str = TEST_VHOST) -> None:
    run_rabbitmqctl("-q", "delete_vhost", vhost, check=False)


async def drop_database(url: str) -> None:
    """Drop the database. PostgreSQL checkpoints the whole server for every drop (a second or more on a busy
    machine): tests reset their service databases with ``fresh_database`` instead, and drop them at the end."""
    _copies.pop(url, None)
    await _admin_execute(url, f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')


async def drop_databases(urls: Iterable[str]) -> None:
    """Drop several databases at once: concurrent drops share PostgreSQL's checkpoints, serial ones wait for one
    each."""
    urls = list(urls)
    slots = asyncio.Semaphore(8)  # the server's connections are shared with other sessions' shops

    async def drop(url: str) -> None:
        async with slots:
            await drop_database(url)

    await asyncio.gather(*(drop(url) for url in urls))


def service_settings(definition: ServiceDefinition, *, suffix: str = "", **overrides: Any) -> ServiceSettings:
    """Settings for a service under test: its own test database, the test vhost, quick retries."""
    values: dict[str, Any] = {
        "database_url": database_url(definition.name, suffix),
        "amqp_url": amqp_url(),
        "retry_delays_ms": [50, 100, 200],
        "relay_idle_poll_seconds": 0.2,
        "shutdown_grace_seconds": 5,
    }
    values.update(overrides)
    return definition.settings_class(**values)


async def fresh_database(definition: ServiceDefinition, settings: ServiceSettings) -> None:
    """Give the service's test database the state of a newly migrated one.

    Alembic migrates a template of each service once a session (``migrated_template``); a test database is made
    as a copy of it, and later emptied in place (every row deleted, every sequence restarted): a newly migrated
    database holds no rows but its Alembic version. Running every migration and dropping a database
    (a checkpoint of the whole server) per test took seconds each. A database whose schema or version no longer
    matches its template's (a test changed it) is dropped and copied again. ``drop_session_databases`` drops
    them all at the session's end.
    """
    template = await migrated_template(definition, settings)
    url = settings.database_url
    if _copies.get(url) == template and await _emptied_if_unchanged(url, _fingerprints[template]):
        return
    await drop_database(url)
    await _admin_execute(
        url, f'CREATE DATABASE "{make_url(url).database}" TEMPLATE "{make_url(template).database}"'
    )
    _copies[url] = template


_templates: dict[tuple[str, str], str] = {}
"""The URL of this session's migrated template of each (server, migrations folder)."""
_fingerprints: dict[str, str] = {}
"""Each template's schema and Alembic version (``_SCHEMA``), by its URL."""
_copies: dict[str, str] = {}
"""Databases ``fresh_database`` copied this session, and the URL of the template of each."""

_SCHEMA = """
SELECT md5(concat_ws('|',
    (SELECT string_agg(version_num, ',' ORDER BY version_num) FROM alembic_version),
    (SELECT string_agg(c.relname || ':' || c.relkind::text, ',' ORDER BY c.relname)
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'),
    (SELECT string_agg(c.relname || '.' || a.attname || ':' || format_type(a.atttypid, a.atttypmod) || ':'
            || a.attnotnull::text || ':' || coalesce(pg_get_expr(d.adbin, d.adrelid), ''), ',' ORDER BY c.relname, a.attnum)
        FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE n.nspname = 'public' AND a.attnum > 0 AND NOT a.attisdropped),
    (SELECT string_agg(c.relname || '.' || k.conname || ':' || pg_get_constraintdef(k.oid), ','
            ORDER BY c.relname, k.conname)
        FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public'),
    (SELECT string_agg(pg_get_indexdef(i.indexrelid), ',' ORDER BY pg_get_indexdef(i.indexrelid))
        FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public'),
    (SELECT string_agg(c.relname || '.' || t.tgname || ':' || pg_get_triggerdef(t.oid), ','
            ORDER BY c.relname, t.tgname)
        FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND NOT t.tgisinternal),
    (SELECT string_agg(p.proname || ':' || md5(pg_get_functiondef(p.oid)), ',' ORDER BY p.proname)
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public' AND p.prokind = 'f'),
    (SELECT string_agg(t.typname, ',' ORDER BY t.typname)
        FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = 'public' AND t.typtype = 'e')
))
"""


async def migrated_template(definition: ServiceDefinition, settings: ServiceSettings) -> str:
    """The URL of a database migrated to head from the service's migrations: migrated anew on first use in a
    session (the migrations may have changed since the last)."""
    url = make_url(settings.database_url)
    key = (
        url.set(database="postgres").render_as_string(hide_password=False),
        str(definition.migrations_path),
    )
    if key not in _templates:
        template = url.set(database=f"shop_test_{definition.name}{RUN_SUFFIX}_template")
        template_url = template.render_as_string(hide_password=False)
        await drop_database(template_url)
        await asyncio.to_thread(
            migrate, settings.model_copy(update={"database_url": template_url}), definition.migrations_path
        )
        connection = await asyncpg.connect(
            template.set(drivername="postgresql").render_as_string(hide_password=False)
        )
        try:
            _fingerprints[template_url] = await connection.fetchval(_SCHEMA)
        finally:
            await connection.close()
        _templates[key] = template_url
    return _templates[key]


async def drop_session_databases() -> None:
    """Drop every database ``fresh_database`` made this session, and the templates (at the session's end)."""
    urls = [*_copies, *_templates.values()]
    _templates.clear()
    await drop_databases(urls)


async def _emptied_if_unchanged(url: str, fingerprint: str) -> bool:
    """Empty the database as its template was, unless its schema differs from the template's: then False."""
    try:
        connection = await asyncpg.connect(
            make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        )
    except asyncpg.InvalidCatalogNameError:
        return False
    try:
        # What DROP DATABASE ... WITH (FORCE) did: whatever a test left connected goes.
        await connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        if await connection.fetchval(_SCHEMA) != fingerprint:
            return False
        tables = await connection.fetch(
            "SELECT format('%I', tablename) AS name FROM pg_tables"
            " WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
        )
        async with connection.transaction():
            # DELETE rather than TRUNCATE: a truncated table gets new files, which its commit must sync to disk
            # (a second on a busy machine, for the two or three rows a test leaves). No foreign key is checked
            # or trigger fired (replica role): every table ends empty either way.
            await connection.execute("SET LOCAL session_replication_role = replica")
            if tables:
                await connection.execute("; ".join(f"DELETE FROM {row['name']}" for row in tables))
            await connection.execute(
                "SELECT setval(format('%I', sequencename), start_value, false) FROM pg_sequences"
                " WHERE schemaname = 'public'"
            )
        return True
    finally:
        await connection.close()


async def _admin_execute(url: str, statement: str) -> None:
    admin = (
        make_url(url).set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    )
    connection = await asyncpg.connect(admin)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()
