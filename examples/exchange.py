"""A simulated document exchange service (Directum RX's counterpart) in an SQLite file.

Run: python -m examples.exchange   (posts the seed's three documents: 11 messages)

Counterparties post messages; each message belongs to a document: its `root_id` is the id of the
document's first message, and `seq` numbers the messages of one document in the order they were
sent. A receiver fetches *light* messages (ids and filter data, no content) that it has not
acknowledged yet, and downloads each message's content separately: the slow part. The handlers
record what they handled, so a demo or a test can check order and duplicates afterwards.

The file lives in the folder named by JOBENGINE_EXCHANGE_DIR (a temp folder by default), so the
scheduled receiver and the handlers, in other worker processes, share it.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

EXCHANGE_DIR = "JOBENGINE_EXCHANGE_DIR"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS message (
    id INTEGER PRIMARY KEY, root_id TEXT NOT NULL, seq INTEGER NOT NULL,
    sender TEXT NOT NULL, body TEXT NOT NULL, acknowledged INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS message_waiting ON message (acknowledged, id);
CREATE TABLE IF NOT EXISTS handled (
    n INTEGER PRIMARY KEY, message_id INTEGER NOT NULL, root_id TEXT NOT NULL,
    seq INTEGER NOT NULL, job TEXT NOT NULL, pid INTEGER NOT NULL,
    start_s REAL NOT NULL, end_s REAL NOT NULL);
CREATE INDEX IF NOT EXISTS handled_message ON handled (message_id);
CREATE TABLE IF NOT EXISTS setting (name TEXT PRIMARY KEY, value REAL NOT NULL);
"""


@dataclass(frozen=True)
class LightMessage:
    """What a fetch returns: ids and filter data, no content."""

    id: int
    root_id: str
    seq: int
    sender: str


@dataclass(frozen=True)
class Message:
    """A full message, as a download returns it."""

    id: int
    root_id: str
    seq: int
    sender: str
    body: str


@dataclass(frozen=True)
class Handled:
    """One message a handler processed: which job, in which process, from when to when."""

    message_id: int
    root_id: str
    seq: int
    job: str
    pid: int
    start_s: float
    end_s: float


class Exchange:
    """One exchange service file; open one per process (an SQLite connection is not shared)."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        Path(folder).mkdir(parents=True, exist_ok=True)
        self.path = Path(folder, "exchange.db")
        self._db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # a demo: speed over durability
        self._db.executescript(_SCHEMA)

    @classmethod
    def open(cls, folder: str | None = None) -> Exchange:
        """The exchange in `folder`, else in JOBENGINE_EXCHANGE_DIR, else in a temp folder."""
        where = folder or os.environ.get(EXCHANGE_DIR)
        return cls(where or Path(tempfile.gettempdir(), "jobengine-exchange"))

    def close(self) -> None:
        self._db.close()

    def clear(self) -> None:
        """Forget every message and everything handled (settings stay)."""
        self._db.executescript("DELETE FROM message; DELETE FROM handled;")

    def set_download_time(self, seconds: float) -> None:
        """How long downloading one message's content takes."""
        self._db.execute("INSERT OR REPLACE INTO setting VALUES ('download_s', ?)", (seconds,))

    # -- the counterparties' side -----------------------------------------------------------

    def post(self, messages: Iterable[tuple[str, str]]) -> int:
        """Post messages in this order, each `(root_id, sender)`; numbers them per document.

        Returns:
            How many were posted.
        """
        self._db.execute("BEGIN IMMEDIATE")
        try:
            last = dict(self._db.execute("SELECT root_id, MAX(seq) FROM message GROUP BY root_id"))
            n = 0
            for root_id, sender in messages:
                last[root_id] = seq = last.get(root_id, 0) + 1
                body = f"{sender}: document {root_id}, message {seq}"
                self._db.execute(
                    "INSERT INTO message (root_id, seq, sender, body) VALUES (?, ?, ?, ?)",
                    (root_id, seq, sender, body),
                )
                n += 1
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        return n

    # -- the receiver's side ----------------------------------------------------------------

    def fetch(self, limit: int) -> list[LightMessage]:
        """The oldest `limit` light messages not acknowledged yet, in the order they came.

        A fetch changes nothing: until `acknowledge`, the next fetch returns them again.
        """
        rows = self._db.execute(
            "SELECT id, root_id, seq, sender FROM message WHERE acknowledged = 0 "
            "ORDER BY id LIMIT ?",
            (limit,),
        )
        return [LightMessage(*row) for row in rows]

    def messages(self) -> list[LightMessage]:
        """Every message posted, acknowledged or not, in the order they came."""
        rows = self._db.execute("SELECT id, root_id, seq, sender FROM message ORDER BY id")
        return [LightMessage(*row) for row in rows]

    def acknowledge(self, ids: Sequence[int]) -> None:
        """Mark messages received: fetches no longer return them."""
        self._db.executemany(
            "UPDATE message SET acknowledged = 1 WHERE id = ?", [(i,) for i in ids]
        )

    def download(self, message_id: int) -> Message:
        """The full message, with its content: the slow call."""
        row = self._db.execute("SELECT value FROM setting WHERE name = 'download_s'").fetchone()
        if row and row[0] > 0:
            time.sleep(row[0])
        found = self._db.execute(
            "SELECT id, root_id, seq, sender, body FROM message WHERE id = ?", (message_id,)
        ).fetchone()
        return Message(*found)

    # -- what the handlers did --------------------------------------------------------------

    def is_handled(self, message_id: int) -> bool:
        row = self._db.execute("SELECT 1 FROM handled WHERE message_id = ?", (message_id,))
        return row.fetchone() is not None

    def record(self, handled: Handled) -> None:
        self._db.execute(
            "INSERT INTO handled (message_id, root_id, seq, job, pid, start_s, end_s) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                handled.message_id,
                handled.root_id,
                handled.seq,
                handled.job,
                handled.pid,
                handled.start_s,
                handled.end_s,
            ),
        )

    def handled(self) -> list[Handled]:
        """Everything handled, in the order it was recorded."""
        rows = self._db.execute(
            "SELECT message_id, root_id, seq, job, pid, start_s, end_s FROM handled ORDER BY n"
        )
        return [Handled(*row) for row in rows]

    def count(self) -> int:
        """How many messages were posted."""
        return int(self._db.execute("SELECT COUNT(*) FROM message").fetchone()[0])


SEED_DOCUMENTS = {  # the seed's example: a UPD, a contract and an invoice, as their messages came
    "upd": ["seller title", "date confirmation", "receipt notice", "notice confirmation", "buyer"],
    "contract": ["contract", "countersignature"],
    "invoice": ["invoice", "date confirmation", "receipt notice", "notice confirmation"],
}


def main() -> None:
    exchange = Exchange.open()
    n = exchange.post(
        (root, "Metinvest" if i % 2 else "TechnoService")
        for root, steps in SEED_DOCUMENTS.items()
        for i, _ in enumerate(steps)
    )
    print(f"posted {n} messages to {exchange.path}")


if __name__ == "__main__":
    main()
