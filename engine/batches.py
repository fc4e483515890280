"""Pass 2 of a run: decide the accepted records in batches and hand each
batch's rows to a sink (store.RunWriter inside the run's transaction, or
a dry run's spool), keeping only counts, hashes and the top offboard
candidates (Tally).

Each batch of BATCH records: the memory of earlier runs is fetched for the
batch's customer ids only (store.load_memories), each customer is decided
against the population statistics of pass 1, and the decision rows and
new strike rows are built. With workers > 1 the batches are decided in
that many processes (multiprocessing, spawn): each compiles the policy
text once and opens the database read-only for its batches' memory. The
writer's transaction is open then, so a worker (a WAL reader) sees the
database as it was when the run took the write lock: the memory the run
was checked against. The main process writes the batches in source
order, so the stored run is the same whatever the number of workers."""

from __future__ import annotations

import datetime as dt
import hashlib
import heapq
import multiprocessing
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from . import jsontext
from .decide import SEVERITY_RANK
from .facts import Record
from .ledger import Memory
from .policy import Policy

BATCH = 2000
TOP = 10
# Below this many accepted records, the default is one process: starting
# workers (each compiles the policy) costs more than it saves.
PARALLEL_FROM = 50_000
_MOD = 1 << 256


@dataclass
class Batch:
    """One decided batch: rows ready for the decisions table (JSON columns
    as text, without run_id), new strike rows (customer_id, rule,
    recorded_on, expires_on), and the customer ids of the offboard
    decisions whose customer's case was approved going into the run."""

    rows: list[dict[str, Any]]
    strikes: list[dict[str, Any]]
    approved: set[str] = field(default_factory=set)


def decide_batch(policy: Policy, records: list[Record], as_of: dt.date,
                 stats: dict[str, Any], memories: dict[str, Memory],
                 provenance: bool = False) -> Batch:
    """Decide one batch of records with engine.partition.decide_partition
    (the code Dask runs too). stats: the population statistics of the whole
    run (Population.stats' shape); memories: the batch's customers' memory
    by customer id; provenance: store each record's provenance (several
    sources)."""
    from .partition import decide_partition

    part = decide_partition(policy, records, as_of, stats, memories)
    if provenance:
        for row, r in zip(part.decisions, records, strict=True):
            row["provenance"] = jsontext.dumps(r.provenance)
    approved = {row["customer_id"] for row in part.decisions if row["outcome"] == "offboard"
                and _approved(memories.get(row["customer_id"]))}
    return Batch(part.decisions, part.strikes, approved)


def _approved(memory: Memory | None) -> bool:
    case = memory.case if memory is not None else None
    return case is not None and case.state == "approved"


class Tally:
    """What a run keeps of its decisions while they stream past: counts per
    outcome, new strikes, the order-independent hashes of the facts and of
    the memory (runs.facts_sha256 and the identity: the sum modulo 2**256
    of sha256(customer id TAB facts JSON) over the customers, likewise with
    the memory JSON; a sum, so batches may arrive in any order), the
    offboard decisions awaiting review and the TOP offboard candidates."""

    def __init__(self) -> None:
        self.customers = 0
        self.counts: Counter[str] = Counter()
        self.new_strikes = 0
        self.facts_sum = 0
        self.memory_sum = 0
        self.offboard = 0
        self.waiting = 0
        self._top: list[tuple] = []  # a min-heap of the best TOP, by inverted rank

    def add(self, batch: Batch) -> None:
        self.new_strikes += len(batch.strikes)
        for row in batch.rows:
            cid = row["customer_id"]
            self.customers += 1
            self.counts[row["outcome"]] += 1
            self.facts_sum += _digest(f"{cid}\t{row['facts']}")
            self.memory_sum += _digest(f"{cid}\t{row['memory']}")
            if row["outcome"] == "offboard":
                self.offboard += 1
                self.waiting += cid not in batch.approved
                self._keep(row)
        self.facts_sum %= _MOD
        self.memory_sum %= _MOD

    def _keep(self, row: dict[str, Any]) -> None:
        fired = jsontext.loads(row["fired"])
        rank = (SEVERITY_RANK.get(row["severity"] or "low", 0), row["strikes"], len(fired))
        # Ties on rank: the lower customer id first; in the min-heap the
        # worst kept entry is at the top, so the id is compared inverted.
        key = (rank, _Reverse(row["customer_id"]))
        entry = (key, {"customer_id": row["customer_id"], "severity": row["severity"],
                       "effective_date": row["effective_date"],
                       "timing_basis": row["timing_basis"],
                       "fired": [(f["rule"], f.get("explanation")) for f in fired]})
        if len(self._top) < TOP:
            heapq.heappush(self._top, entry)
        elif key > self._top[0][0]:
            heapq.heapreplace(self._top, entry)

    def top(self) -> list[dict[str, Any]]:
        """The TOP offboard candidates, most severe first (severity, then
        strikes, then rules fired, then customer id)."""
        return [e[1] for e in sorted(self._top, key=lambda e: e[0], reverse=True)]

    @property
    def facts_sha256(self) -> str:
        return f"{self.facts_sum:064x}"

    @property
    def memory_sha256(self) -> str:
        return f"{self.memory_sum:064x}"


class _Reverse:
    """A string ordered backwards (heap ties: the lower id ranks higher)."""

    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text

    def __lt__(self, other: _Reverse) -> bool:
        return self.text > other.text

    def __gt__(self, other: _Reverse) -> bool:
        return self.text < other.text

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Reverse) and self.text == other.text


def digests(rows: Iterable[dict[str, Any]]) -> tuple[str, str]:
    """runs.facts_sha256 and the memory digest of the run identity over a
    run's decision rows (customer_id, facts and memory JSON text), in any
    order: what Tally computes as the rows stream past (engine.partition
    uses it to write a run decided in parts)."""
    tally = Tally()
    for row in rows:
        tally.facts_sum += _digest(f"{row['customer_id']}\t{row['facts']}")
        tally.memory_sum += _digest(f"{row['customer_id']}\t{row['memory']}")
    return f"{tally.facts_sum % _MOD:064x}", f"{tally.memory_sum % _MOD:064x}"


def _digest(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest(), "big")


def batched(records: Iterable[Record], size: int = BATCH) -> Iterator[list[Record]]:
    batch: list[Record] = []
    for r in records:
        batch.append(r)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def default_workers(records: int) -> int:
    """The number of processes to decide records with when --workers is not
    given: the machine's cores from PARALLEL_FROM accepted records on, else 1."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else \
        (os.cpu_count() or 1)
    return max(1, cores) if records >= PARALLEL_FROM else 1


MemoryFetch = Callable[[list[str]], dict[str, Memory]]


def decide_all(policy: Policy, batches: Iterable[list[Record]], as_of: dt.date,
               stats: dict[str, Any], fetch: MemoryFetch, db_file: str | None,
               workers: int = 1, provenance: bool = False) -> Iterator[Batch]:
    """Decide every batch, yielding the decided batches in the order given.
    fetch(ids): the memory of those customers (in-process); with workers >
    1 each worker fetches its own from db_file (None: no memory)."""
    if workers <= 1:
        for records in batches:
            ids = [r.facts["customer_id"] for r in records]
            yield decide_batch(policy, records, as_of, stats, fetch(ids), provenance)
        return
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(workers, _start, (policy.text, policy.file, as_of, stats, db_file,
                                    provenance)) as pool:
        # imap keeps the order; a bounded look-ahead keeps memory flat.
        yield from _ordered_map(pool, batches, workers * 2)


def decide_remembered(policy: Policy, batches: Iterable[tuple[list[Record], dict[str, Memory]]],
                      as_of: dt.date, stats: dict[str, Any], workers: int = 1) \
        -> Iterator[Batch]:
    """decide_all for batches that bring their own memory (a replay: each
    decision's stored memory), in the order given."""
    if workers <= 1:
        for records, memories in batches:
            yield decide_batch(policy, records, as_of, stats, memories)
        return
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(workers, _start, (policy.text, policy.file, as_of, stats, None,
                                    False)) as pool:
        yield from _ordered_map(pool, batches, workers * 2)


def _ordered_map(pool: Any, batches: Iterable[Any], ahead: int) -> Iterator[Batch]:
    pending: list[Any] = []
    for item in batches:
        pending.append(pool.apply_async(_work, (item,)))
        if len(pending) >= ahead:
            yield pending.pop(0).get()
    while pending:
        yield pending.pop(0).get()


_WORKER: dict[str, Any] = {}


def _start(text: str, file: str, as_of: dt.date, stats: dict[str, Any],
           db_file: str | None, provenance: bool) -> None:
    """A worker's set-up: the policy compiled from its text with the
    installed plugins' functions, the database opened read-only."""
    from .plugins import registry
    from .policy import compile_policy
    from .store import open_db_readonly

    policy = compile_policy(text, file, registry().functions)
    db = open_db_readonly(db_file) if db_file else None
    _WORKER.update(policy=policy, as_of=as_of, stats=stats, db=db, provenance=provenance)


def _work(item: list[Record] | tuple[list[Record], dict[str, Memory]]) -> Batch:
    from .store import load_memories

    w = _WORKER
    if isinstance(item, tuple):  # records with their own memory
        return decide_batch(w["policy"], item[0], w["as_of"], w["stats"], item[1])
    records = item
    ids = [r.facts["customer_id"] for r in records]
    memories = {}
    if w["db"] is not None:
        w["db"].conn.execute("BEGIN")
        try:
            memories = load_memories(w["db"], w["as_of"], ids)
        finally:
            w["db"].conn.execute("COMMIT")
    return decide_batch(w["policy"], records, w["as_of"], w["stats"], memories,
                        w["provenance"])
