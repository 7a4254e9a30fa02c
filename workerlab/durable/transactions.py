"""``storage.transaction(fn)`` and ``transactionSync(fn)``: all of fn's storage calls, or none.

The outermost transaction of an object takes the write lock (``BEGIN IMMEDIATE``); one inside
it is a savepoint. While an async transaction is under way the object's input gate is closed,
and storage calls made from outside it (another event already running) wait for it to end, so
nothing slips into it that its rollback would take away (the synchronous ``sql.exec`` and
``storage.kv`` cannot wait: made from outside, they join it). Alarm changes made inside reach
the alarm index when the outermost transaction commits.
"""

from __future__ import annotations

import contextvars
import sqlite3
from typing import Any

from ..errors import StorageError
from .store import ObjectStore

#: The innermost transaction whose fn is running in this context.
current_transaction: contextvars.ContextVar[Transaction | None] = contextvars.ContextVar(
    "workerlab_durable_transaction", default=None
)

#: No alarm change was made in a transaction.
UNCHANGED: Any = object()


class Transaction:
    """The SQL side of one transaction level (see :class:`~.storage.TransactionStorage` for
    the ``txn`` object fn receives)."""

    __slots__ = ("alarm", "level", "parent", "rolled_back", "store", "under_way")

    def __init__(self, store: ObjectStore, parent: Transaction | None) -> None:
        self.store = store
        self.parent = parent
        self.level: int = 0 if parent is None else parent.level + 1
        self.under_way = False
        self.rolled_back = False
        #: The alarm this transaction sets (epoch ms), None when it deletes it, else UNCHANGED.
        self.alarm: Any = UNCHANGED

    @property
    def root(self) -> Transaction:
        txn = self
        while txn.parent is not None:
            txn = txn.parent
        return txn

    def begin(self, conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN IMMEDIATE" if self.parent is None else f"SAVEPOINT _cf_txn{self.level}")
        self.under_way = True

    def end(self, *, commit: bool) -> None:
        """Commit (or roll back) this level; its alarm change passes to the level above."""
        self.under_way = False
        if self.rolled_back:
            return
        conn = self.store.file.conn
        try:
            if not commit:
                self._undo(conn)
            elif self.parent is None:
                conn.execute("COMMIT")
            else:
                conn.execute(f"RELEASE _cf_txn{self.level}")
                if self.alarm is not UNCHANGED:
                    self.parent.alarm = self.alarm
        except sqlite3.Error as error:
            if self.parent is None and conn.in_transaction:
                conn.execute("ROLLBACK")
            raise StorageError(f"the transaction could not be committed: {error}") from None

    def rollback(self) -> None:
        """Undo this level now; later calls on it raise."""
        if not self.under_way:
            raise StorageError("rollback(): this transaction has already ended")
        if not self.rolled_back:
            self._undo(self.store.file.conn)
            self.rolled_back = True

    def _undo(self, conn: sqlite3.Connection) -> None:
        self.alarm = UNCHANGED
        if self.parent is None:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
        else:
            conn.execute(f"ROLLBACK TO _cf_txn{self.level}")
            conn.execute(f"RELEASE _cf_txn{self.level}")

    def check(self, operation: str) -> None:
        """Raise unless ``operation`` may still go through this transaction."""
        if self.rolled_back:
            raise StorageError(f"Cannot {operation} on rolled back transaction (txn.rollback() was called)")
        if not self.under_way:
            raise StorageError(f"Cannot {operation} on a transaction that has ended (its closure returned)")

    def pending_alarm(self) -> Any:
        """The alarm change made by this level or one above it (UNCHANGED when none)."""
        txn: Transaction | None = self
        while txn is not None:
            if txn.alarm is not UNCHANGED:
                return txn.alarm
            txn = txn.parent
        return UNCHANGED
