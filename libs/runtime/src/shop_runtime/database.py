"""Async SQLAlchemy engine and the unit of work: one transaction, its outgoing messages, its inbox claim and the
jobs it schedules."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextvars import ContextVar
from types import TracebackType
from typing import Any, Self

import sqlalchemy as sa
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind
from sqlalchemy import event
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session, SessionTransaction
from sqlalchemy.util import await_

from shop_contracts import Envelope, Message
from shop_runtime.scheduling import ScheduledJobs, SqlScheduledJobs
from shop_runtime.settings import ServiceSettings
from shop_runtime.telemetry import spans_exported, spans_recorded, trace_sql

tracer = trace.get_tracer("shop_runtime.outbox")

OUTBOX_CHANNEL = "shop_outbox"
"""PostgreSQL NOTIFY channel that wakes the relay when a transaction wrote outbox rows."""


def create_engine(settings: ServiceSettings) -> AsyncEngine:
    # No overflow: a burst waits for one of the pool's connections instead of opening and closing extra
    # ones (a connection costs a PostgreSQL backend start; under load that churn cost more than the work).
    # So a task never holds two connections at once: it ends one unit of work before it opens another.
    engine = create_async_engine(
        settings.database_url,
        pool_size=settings.database_pool_size,
        max_overflow=0,
        pool_pre_ping=settings.database_pool_pre_ping,
    )
    if settings.database_pool_pre_ping:
        ping_by_beginning(engine)
    if settings.trace_sql and spans_exported(
        otlp_endpoint=settings.otlp_endpoint, span_file=settings.span_file
    ):
        trace_sql(engine)
    return engine


_checking_out_for_one_statement: ContextVar[bool] = ContextVar(
    "checking_out_for_one_statement", default=False
)
"""Set while ``UnitOfWork.execute_last`` checks a connection out for a statement that is its own transaction."""


def ping_by_beginning(engine: AsyncEngine) -> None:
    """Make the pool's pre-ping the BEGIN of the transaction the connection is checked out for.

    SQLAlchemy's asyncpg ping costs three round trips (BEGIN, an empty query, ROLLBACK) before each unit of
    work, and the unit of work then sends its own BEGIN. Beginning at checkout tests the connection the same
    way (a dead one fails, the pool is renewed and the checkout tried again) and the first statement then
    finds the transaction begun: one round trip instead of four. A connection set to autocommit after checkout
    rolls the early BEGIN back when its isolation level is set; nothing here sets ``readonly`` or
    ``deferrable`` after checkout, which a transaction begun early would not honour.

    A connection checked out for a single statement in autocommit (``UnitOfWork.execute_last``) begins nothing:
    it is tested without a round trip, by asking asyncpg whether it saw the server close it (a connection the
    database ended while it sat in the pool, after a restart say, is then replaced as before). One that died
    unseen fails its statement instead, as any statement fails when the database goes away under it.
    """
    dialect = engine.sync_engine.dialect
    plain_ping = dialect.do_ping

    def do_ping(dbapi_connection: DBAPIConnection) -> bool:
        if _checking_out_for_one_statement.get():
            return not dbapi_connection._connection.is_closed()
        # SQLAlchemy's asyncpg adapter begins its transaction lazily, at the first statement: begin it now.
        idle = getattr(dbapi_connection, "_transaction", True) is None
        if idle and getattr(dbapi_connection, "isolation_level", None) != "autocommit":
            await_(dbapi_connection._start_transaction())
            return True
        return plain_ping(dbapi_connection)

    dialect.do_ping = do_ping  # type: ignore[method-assign]


class UnitOfWork:
    """One database transaction. Handlers write through ``session``, ``publish`` and ``jobs``; only ``commit``
    commits.

    Messages given to ``publish`` are written to the outbox in the same transaction, with the current trace
    context, and the message being handled (if any) becomes their causation. Jobs scheduled, moved or
    cancelled through ``jobs`` are written to the service's schedule in the same transaction too.

    A handler whose last write is one statement can give it to ``execute_last``: the outbox rows travel in that
    statement, and when it is the unit of work's only statement it is its own transaction (no BEGIN, no COMMIT).

    A consumer whose message may change nothing can ask first through ``probe``: a look in autocommit before
    the transaction begins, after which the unit of work ends with nothing written, or goes on.

    A ``shared`` unit of work holds several messages' handlers (the consumer's batch): the consumer sets
    ``causation`` to each message before its handler runs, a handler's ``commit`` leaves the transaction open
    for the next one and ``commit_shared`` commits them all, with every outbox row in one write.
    """

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        *,
        outbox: sa.Table,
        inbox: sa.Table,
        causation: Envelope | None = None,
        schedule: sa.Table | None = None,
        shared: bool = False,
    ) -> None:
        self._session_factory = session_factory
        self._outbox = outbox
        self._inbox = inbox
        self._schedule = schedule
        self._shared = shared
        self.causation = causation
        self._outgoing: list[dict[str, object]] = []
        self._after_commit: list[Callable[[], None]] = []
        self._session: AsyncSession | None = None
        self._last_executed = False

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            raise RuntimeError("the unit of work is used outside 'async with'")
        if self._last_executed:
            raise RuntimeError("the unit of work's last statement ran (execute_last): nothing may follow it")
        return self._session

    @property
    def jobs(self) -> ScheduledJobs:
        """The service's schedule (``shop_runtime.scheduling``) in this transaction."""
        if self._schedule is None:
            raise RuntimeError("this service has no schedule table (scheduling.add_schedule_table)")
        return SqlScheduledJobs(self.session, self._schedule)

    async def __aenter__(self) -> Self:
        self._session = self._session_factory()
        await self._session.begin()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        session = self._session
        if session is None:
            raise RuntimeError("the unit of work is used outside 'async with'")
        self._session = None
        self._last_executed = False
        self._outgoing.clear()
        self._after_commit.clear()
        if session.in_transaction():
            await session.rollback()
        await session.close()

    def publish(self, message: Message, *, subject: str, correlation_id: str | None = None) -> Envelope:
        """Queue ``message`` for the outbox; it is written when the unit of work commits (or by ``execute_last``)."""
        if self._last_executed:
            raise RuntimeError("the unit of work's last statement ran (execute_last): publish before it")
        if correlation_id is None:
            correlation_id = self.causation.correlation_id if self.causation else subject
        envelope = Envelope.wrap(
            message,
            subject=subject,
            correlation_id=correlation_id,
            causation_id=str(self.causation.id) if self.causation else None,
        )
        headers: dict[str, str] = {}
        if not spans_recorded():
            # No producer span to make: the trace context being handled travels on as it is.
            propagate.inject(headers)
        else:
            self._producer_span(envelope, message, correlation_id, headers)
        headers["correlation_id"] = correlation_id
        self._outgoing.append(
            {
                "message_id": envelope.id,
                "message_type": envelope.type,
                "exchange": message.EXCHANGE,
                "routing_key": message.routing_key(),
                "body": envelope.model_dump_json().encode(),
                "headers": headers,
            }
        )
        return envelope

    @staticmethod
    def _producer_span(
        envelope: Envelope, message: Message, correlation_id: str, headers: dict[str, str]
    ) -> None:
        # The producer span marks where the message was made; it is sent by the relay once this commits.
        # Its context travels in the headers, so the consumer's span continues the same trace under it.
        with tracer.start_as_current_span(
            f"{envelope.type} publish",
            kind=SpanKind.PRODUCER,
            attributes={
                "messaging.system": "rabbitmq",
                "messaging.operation.type": "create",
                "messaging.destination.name": message.EXCHANGE,
                "messaging.rabbitmq.destination.routing_key": message.routing_key(),
                "messaging.message.id": str(envelope.id),
                "shop.correlation_id": correlation_id,
            },
        ):
            propagate.inject(headers)

    async def probe(self, look: Callable[[AsyncSession], Awaitable[bool]]) -> bool:
        """Run ``look`` (reads only) before the unit of work's first statement and return its answer: False says
        the unit of work has nothing to do (its caller ends it), True that it goes on.

        When nothing ran in this unit of work yet, ``look`` runs on a connection in autocommit, as a statement
        of ``execute_last`` does: each of its statements is its own transaction, with no BEGIN and no COMMIT, so a
        one-statement look that answers False is the unit of work's whole cost (one round trip). On True the
        unit of work gives that connection back and goes on as a transaction of its own, begun at its next
        statement: what ``look`` read is not in that transaction's snapshot, so whatever it decided on must
        not change in between (or must be read again). In a ``shared`` unit of work, or after a statement ran,
        ``look`` runs in the transaction already open."""
        session = self.session
        if self._shared or getattr(session.sync_session, "connected", True):
            return await look(session)
        token = _checking_out_for_one_statement.set(True)
        try:
            await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        finally:
            _checking_out_for_one_statement.reset(token)
        if not await look(session):
            return False
        # The autocommit connection goes back to the pool (it has no transaction to end: no round trip); the
        # transaction begins on the connection the next statement checks out.
        self._session = self._session_factory()
        await session.close()
        await self._session.begin()
        return True

    async def claim_inbox(self, message_id: uuid.UUID, *, consumer: str, message_type: str) -> bool:
        """Record that ``consumer`` handles ``message_id``; False when it already did (a duplicate)."""
        result = await self.session.execute(
            _claim(self._inbox),
            {"consumer": consumer, "message_id": message_id, "message_type": message_type},
        )
        return result.first() is not None

    async def claim_inbox_many(self, envelopes: Sequence[Envelope], *, consumer: str) -> set[uuid.UUID]:
        """Record that ``consumer`` handles each of ``envelopes`` in one statement; return the ids that were new
        (the others are duplicates). Ids are claimed in sorted order, so two transactions claiming some of the
        same ids take them in the same order; one claimed by a transaction not yet ended waits for its end."""
        claimed = sorted({envelope.id: envelope.type for envelope in envelopes}.items())
        result = await self.session.execute(
            _claim_many(self._inbox),
            {
                "consumer": consumer,
                "message_ids": [message_id for message_id, _ in claimed],
                "message_types": [message_type for _, message_type in claimed],
            },
        )
        return set(result.scalars())

    async def execute_last(self, statement: sa.Executable, parameters: Mapping[str, Any]) -> None:
        """Run the handler's last write, ``statement`` (an INSERT, UPDATE or DELETE, with any CTEs), with the
        outbox rows of every message published so far written by the same statement, and the relay woken by it.

        When nothing ran in this unit of work before it, the statement is the whole transaction: it runs on a
        connection in autocommit, with no BEGIN and no COMMIT of its own (a single statement commits all of its
        CTEs or none), so it is one round trip. Otherwise it runs in the transaction already open, which
        ``commit`` commits. Either way it is last: the session and ``publish`` raise after it, and ``commit``
        still ends the unit of work (it runs what waits for the commit). Its errors are the statement's own (a
        unique key taken by a concurrent transaction is an ``IntegrityError``, and nothing was written), after
        which the unit of work can only end; the rows it returns, if any, are not returned.

        In a ``shared`` unit of work it runs in the shared transaction, carrying every handler's rows so far,
        and the next handler goes on."""
        session = self.session
        alone = not self._shared and not getattr(session.sync_session, "connected", True)
        if alone:
            token = _checking_out_for_one_statement.set(True)
            try:
                await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
            finally:
                _checking_out_for_one_statement.reset(token)
        if self._outgoing:
            statement = _carrying_outbox(statement, self._outbox)
            parameters = {**parameters, **_outbox_parameters(self._outgoing)}
        try:
            await session.execute(statement, parameters)
        finally:
            # Last even when it failed: after a failed statement in autocommit, another would be a transaction of
            # its own (in a transaction, PostgreSQL refuses it anyway); the unit of work can only end.
            self._last_executed = not self._shared
        self._outgoing.clear()

    def after_commit(self, action: Callable[[], None]) -> None:
        """Run ``action`` once this unit of work has committed, whoever commits it (a business metric counts
        only what took effect); a rollback drops it."""
        self._after_commit.append(action)

    async def commit(self) -> None:
        """Commit what the handler did (and its outbox rows); a second call has nothing left to commit.

        In a shared unit of work this commits nothing: the consumer commits once, after the last handler."""
        if self._shared:
            return
        await self._commit()

    async def commit_shared(self) -> None:
        """Commit a shared unit of work: every handler's changes and outbox rows together."""
        await self._commit()

    async def _commit(self) -> None:
        session = self._session
        if session is None:
            raise RuntimeError("the unit of work is used outside 'async with'")
        if not session.in_transaction():
            return
        if self._outgoing:
            # One round trip writes the rows and wakes the relay (PostgreSQL delivers one NOTIFY at commit).
            await session.execute(_write_and_notify(self._outbox), self._outgoing)
            self._outgoing.clear()
        await session.commit()
        actions, self._after_commit = self._after_commit, []
        for action in actions:
            action()

    async def rollback(self) -> None:
        if self._shared:
            # It would undo the other messages' handlers too; failing makes the consumer handle each alone.
            raise RuntimeError("a handler cannot roll back a unit of work it shares with other messages")
        self._outgoing.clear()
        self._after_commit.clear()
        if self._session is None:
            raise RuntimeError("the unit of work is used outside 'async with'")
        await self._session.rollback()


@functools.cache
def _write_and_notify(outbox: sa.Table) -> sa.Select[tuple[object]]:
    """Insert one outbox row and NOTIFY the relay; run with a list of rows, it is one pipelined executemany.

    The statement is the same whatever the number of rows, so it is compiled once (a multi-row VALUES is not).
    """
    columns = ("message_id", "message_type", "exchange", "routing_key", "body", "headers")
    written = (
        sa.insert(outbox)
        .values({name: sa.bindparam(name, type_=outbox.c[name].type) for name in columns})
        .returning(outbox.c.id)
        .cte("written")
    )
    return sa.select(sa.func.pg_notify(OUTBOX_CHANNEL, "")).select_from(written)


_OUTBOX_COLUMNS = ("message_id", "message_type", "exchange", "routing_key", "body", "headers")


@functools.lru_cache(maxsize=256)
def _carrying_outbox(statement: sa.Executable, outbox: sa.Table) -> sa.Select[tuple[object]]:
    """``statement`` as a CTE beside the outbox rows' INSERT (from one array parameter per column, so the same
    text for any number of rows), and a SELECT that wakes the relay once if rows were written. PostgreSQL runs
    every data-modifying CTE to completion, referenced or not, in the statement's one snapshot.

    Cached per statement object: a handler's statement built once is wrapped once."""
    last = statement.cte("last_write")  # type: ignore[attr-defined]
    outgoing = (
        sa.func.unnest(
            *(
                sa.bindparam(f"outbox_{name}", type_=postgresql.ARRAY(outbox.c[name].type))
                for name in _OUTBOX_COLUMNS
            )
        )
        .table_valued(*_OUTBOX_COLUMNS)
        .render_derived(name="outgoing")
    )
    written = (
        sa.insert(outbox)
        .from_select(_OUTBOX_COLUMNS, sa.select(*(outgoing.c[name] for name in _OUTBOX_COLUMNS)))
        .returning(outbox.c.id)
        .cte("outbox_written")
    )
    return sa.select(sa.func.pg_notify(OUTBOX_CHANNEL, "")).select_from(written).limit(1).add_cte(last)


def _outbox_parameters(outgoing: list[dict[str, object]]) -> dict[str, list[object]]:
    return {f"outbox_{name}": [row[name] for row in outgoing] for name in _OUTBOX_COLUMNS}


@functools.cache
def _claim(inbox: sa.Table) -> sa.Insert:
    """Record a message id for a consumer unless it is there; RETURNING says whether it was new. Built once per
    table, so a message pays neither the statement's construction nor its cache key."""
    columns = ("consumer", "message_id", "message_type")
    return (
        insert(inbox)
        .values({name: sa.bindparam(name, type_=inbox.c[name].type) for name in columns})
        .on_conflict_do_nothing()
        .returning(inbox.c.message_id)
    )


@functools.cache
def _claim_many(inbox: sa.Table) -> sa.Insert:
    """``_claim`` for a list of message ids (and their types, in the same order) in one statement."""
    claimed = (
        sa.func.unnest(
            sa.bindparam("message_ids", type_=postgresql.ARRAY(inbox.c.message_id.type)),
            sa.bindparam("message_types", type_=postgresql.ARRAY(inbox.c.message_type.type)),
        )
        .table_valued("message_id", "message_type")
        .render_derived(name="claimed")
    )
    rows = sa.select(
        sa.bindparam("consumer", type_=inbox.c.consumer.type), claimed.c.message_id, claimed.c.message_type
    )
    return (
        insert(inbox)
        .from_select(["consumer", "message_id", "message_type"], rows)
        .on_conflict_do_nothing()
        .returning(inbox.c.message_id)
    )


UnitOfWorkFactory = Callable[..., UnitOfWork]


class _UnitOfWorkSession(Session):
    """A unit of work's session, which knows whether its transaction has taken a connection yet (a statement
    ran): ``UnitOfWork.execute_last`` runs a statement that is the first alone, in autocommit."""

    connected = False


@event.listens_for(_UnitOfWorkSession, "after_begin")
def _connected(session: Session, _transaction: SessionTransaction, _connection: object) -> None:
    session.connected = True  # type: ignore[attr-defined]


class Database:
    """The engine of one service and how to open units of work on it."""

    def __init__(
        self, engine: AsyncEngine, *, outbox: sa.Table, inbox: sa.Table, schedule: sa.Table | None = None
    ) -> None:
        self.engine = engine
        self.outbox = outbox
        self.inbox = inbox
        self.schedule = schedule
        """The service's ``scheduled_jobs`` table, when it has one: what ``UnitOfWork.jobs`` writes to."""
        self.session_factory = async_sessionmaker(
            engine, expire_on_commit=False, autobegin=False, sync_session_class=_UnitOfWorkSession
        )

    def unit_of_work(self, causation: Envelope | None = None, *, shared: bool = False) -> UnitOfWork:
        """A unit of work; ``shared`` for one that several messages' handlers run in (see ``UnitOfWork``)."""
        return UnitOfWork(
            self.session_factory,
            outbox=self.outbox,
            inbox=self.inbox,
            causation=causation,
            schedule=self.schedule,
            shared=shared,
        )

    async def ping(self) -> None:
        async with self.engine.connect() as connection:
            await connection.execute(sa.text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()
