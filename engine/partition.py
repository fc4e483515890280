"""Deciding a customer base in partitions: a public API for running adieu
on several processes or machines (Dask, docs/scale.md; `--workers`).

Every step takes and returns plain, picklable values, so a scheduler can
ship them; a compiled Policy holds closures and does not pickle, so each
worker loads it (`load`, cached per process).

    policy = load("policy.yaml")                                 # once per worker
    records, rejects = coerce_partition(policy, raw_records)     # per partition
    ids = id_rows(records)                                       # per partition
    later = cross_duplicates([ids, ...])                         # once, in order
    records, rejects = drop_duplicates(records, rejects, later[i])
    acc = partial_statistics(policy, records, as_of)             # per partition
    stats = combine([acc, ...])                                  # once
    part = decide_partition(policy, records, as_of, stats, memories)
    run_id = store_partitions("adieu.db", policy, source, as_of, [part, ...],
                              stats, rejects=[...], recalled=recalled)

The decisions equal a single-process `adieu evaluate` customer by customer
(tests/test_dask.py), and store_partitions writes them as one run: same
runs row shape, population figures, identity and audit entries.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from typing import Any

from . import __version__, jsontext
from .decide import decide
from .errors import InputError
from .expr import Context
from .facts import Record
from .intake import Reject, read_records
from .ledger import Memory
from .mapping import IDENTITY, Mapping, load_mapping
from .memory_check import Recalled, read_memory
from .plugin_record import used_plugins
from .plugins import registry
from .policy import MARKERS, OUTCOMES, Policy, canonical_facts, load_policy
from .popstats import Accumulators, StatsPopulation, accumulators, population_stats
from .run import used_memory
from .sources import SourceRecord
from .store import RunWriter, decision_row, now, open_db, reserve_run_id

__all__ = ["Partition", "combine", "coerce_partition", "cross_duplicates", "decide_partition",
           "drop_duplicates", "id_rows", "load", "merge_partials", "partial_statistics",
           "source_mapping", "store_partitions"]


@lru_cache(maxsize=8)
def load(policy_file: str) -> Policy:
    """The compiled policy of policy_file (with the installed plugins'
    functions), compiled once per process. PolicyErrors if it is invalid."""
    return load_policy(policy_file, registry().functions)


def source_mapping(policy: Policy, kind: str = "csv", mapping_file: str | None = None) \
        -> Mapping:
    """The mapping `adieu evaluate --source KIND:...` applies: mapping_file,
    else the kind's own (the csv kind's maps nothing away)."""
    path = mapping_file or registry().sources[kind].mapping
    return load_mapping(path, {**canonical_facts(), **policy.facts}) if path else IDENTITY


def coerce_partition(policy: Policy, raw_records: Iterable[SourceRecord],
                     mapping: Mapping | None = None) -> tuple[list[Record], list[Reject]]:
    """Map and coerce one partition's raw records (engine.sources
    SourceRecord, e.g. from engine.csvsplit.read_part) as `adieu evaluate`
    does: the accepted Records, in order, and the Rejects (bad cells,
    unreadable rows, duplicates within the partition). Duplicates across
    partitions: id_rows, cross_duplicates, drop_duplicates. mapping: None is
    the csv kind's (source_mapping)."""
    mapping = source_mapping(policy) if mapping is None else mapping
    intake = read_records(raw_records, policy.facts, mapping)
    return intake.records, intake.rejects


def id_rows(records: Sequence[Record]) -> list[tuple[str, int | None]]:
    """(customer_id, source row) of each record, in order: what
    cross_duplicates needs of a partition."""
    return [(r.facts["customer_id"], r.row) for r in records]


def cross_duplicates(partitions: Sequence[Sequence[tuple[str, int | None]]]) \
        -> list[dict[int, int | None]]:
    """For each partition (in source order), {index of a record in it:
    the row where its customer_id was first seen} for the records whose id
    an earlier partition already had: a single run rejects those as
    duplicates. Holds every id once (a set), on the caller's machine."""
    first: dict[str, int | None] = {}
    out = []
    for ids in partitions:
        later = {}
        for i, (cid, _row) in enumerate(ids):
            if cid in first:
                later[i] = first[cid]
        for cid, row in ids:
            first.setdefault(cid, row)
        out.append(later)
    return out


def drop_duplicates(records: list[Record], rejects: list[Reject],
                    later: dict[int, int | None], id_field: str = "customer_id") \
        -> tuple[list[Record], list[Reject]]:
    """records without those cross_duplicates found, which become Rejects
    (as a single run words them: "duplicate customer_id, first seen at row
    N"; id_field is the source column of the id)."""
    if not later:
        return records, rejects
    kept, more = [], []
    first: dict[str, int | None] = {}
    for i, r in enumerate(records):
        if i in later:
            cid = r.facts["customer_id"]
            first[cid] = later[i]
            more.append(Reject(r.file, r.row, r.line, cid, id_field, cid,
                               f"duplicate customer_id, first seen at row {later[i]}"))
        else:
            kept.append(r)
    for j in rejects:  # a second copy in this part: first seen in an earlier part too
        if j.customer_id in first and j.reason.startswith("duplicate customer_id"):
            j = replace(j, reason=f"duplicate customer_id, first seen at row "
                                  f"{first[j.customer_id]}")
        more.append(j)
    more.sort(key=lambda j: (j.row is None, j.row or 0))
    return kept, more


def partial_statistics(policy: Policy, records: Iterable[Record], as_of: dt.date,
                       known: dict[str, dict[str, Any]] | None = None) -> Accumulators:
    """The population accumulators of one partition (engine.popstats),
    picklable; known: the figures of earlier passes (a policy whose
    population figure rests on another needs two: see combine)."""
    acc = accumulators(policy, as_of, known)
    for r in records:
        acc.add(r)
    return acc


def merge_partials(partials: Iterable[Accumulators]) -> Accumulators:
    """partial_statistics results merged in the order given (source order),
    into the first (the others are used up): an Accumulators again, so it
    can be a step of a tree reduction."""
    total = None
    for part in partials:
        total = part if total is None else total.merge(part)
    if total is None:
        raise ValueError("no partial statistics to merge")
    return total


def combine(partials: Sequence[Accumulators]) -> dict[str, dict[str, Any]]:
    """The population statistics (Population.stats shape: runs.population)
    of partial_statistics results in source order. ValueError if the policy
    needs another pass (Accumulators.complete is False): run
    partial_statistics again with known=combine(...) of this pass; or use
    popstats.population_stats on one machine."""
    total = merge_partials(partials)
    if not total.complete:
        raise ValueError("this policy's population figures need another pass: call "
                         "partial_statistics(..., known=<these stats>) and combine again")
    return total.stats()


@dataclass
class Partition:
    """One partition decided: decision rows (engine.store.decision_row, with
    "memory" JSON text or None), strike rows (customer_id, rule,
    recorded_on, expires_on; ISO dates) and counts per outcome."""

    decisions: list[dict[str, Any]] = field(default_factory=list)
    strikes: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


def decide_partition(policy: Policy, records: Iterable[Record], as_of: dt.date,
                     stats: dict[str, dict[str, Any]],
                     memories: dict[str, Memory] | None = None) -> Partition:
    """Decide every record with engine.decide.decide, the population
    figures taken from stats (combine's result; every figure the policy
    uses, else ValueError) and each customer's memory of earlier runs
    (memories by customer id; only this partition's are needed)."""
    missing = [k for k in policy.population_calls if k not in stats]
    if missing:
        raise ValueError("population statistics lack " + ", ".join(missing))
    population = StatsPopulation(policy.population_calls, stats)
    derive_fns = policy.derive_fns
    memories = memories or {}
    window = dt.timedelta(days=policy.strikes.window_days)
    out = Partition()
    counts: Counter[str] = Counter()
    for r in records:
        ctx = Context(r.facts, as_of, population, derive_fns)
        memory = memories.get(r.facts["customer_id"])
        d = decide(policy, ctx, as_of, memory)
        # jsontext writes a date as its ISO text, as to_json_value would.
        row = decision_row(d, r.facts, r.file, r.row)
        used = used_memory(memory, d, as_of)
        row["memory"] = jsontext.dumps(used.to_json()) if used else None
        out.decisions.append(row)
        counts[d.outcome] += 1
        for rule in d.new_strikes:
            out.strikes.append({"customer_id": d.customer_id, "rule": rule,
                                "recorded_on": as_of.isoformat(),
                                "expires_on": (as_of + window).isoformat()})
    out.counts = dict(counts)
    return out


class _Same(Exception):
    def __init__(self, run_id: int):
        self.run_id = run_id


def store_partitions(db_file: str, policy: Policy, source: str, as_of: dt.date,
                     partitions: Iterable[Partition], population_stats: dict[str, Any],
                     rejects: Iterable[Reject | dict[str, Any]] = (),
                     recalled: Recalled | None = None, backfill: bool = False,
                     started_at: str | None = None, made_by: str | None = None) -> int:
    """Write the decided partitions as ONE run of db_file (one transaction,
    engine.store.RunWriter) and return its id; partitions are written as
    they come (an iterator may yield them as the workers finish, in any
    order). source: runs.source (e.g. "csv:customers.csv"); rejects: every
    partition's. recalled: the memory the partitions were decided with
    (engine.run.recall); if the store's memory changed since, InputError and
    nothing is written (decide again). A run identical to a stored one
    (same policy, facts, as-of date and memory) is not written again: the
    stored run's id is returned. InputError for an as-of date before the
    latest run's unless backfill. made_by: who made the run (runs.made_by;
    engine.names.made_by gives what `adieu evaluate` records), None: not
    recorded."""
    from .batches import Batch, Tally

    started_at = started_at or now()
    db = open_db(db_file)
    try:
        with db.atomic():
            latest = db.execute("select max(as_of) from runs").fetchone()[0]
            if latest and as_of.isoformat() < latest and not backfill:
                raise InputError(f"as-of date {as_of.isoformat()} is before the latest run's "
                                 f"({latest}); pass backfill=True to evaluate the past")
            if recalled is not None and recalled.sha256 != read_memory(db, as_of).sha256:
                raise InputError("the store's memory changed while the partitions were "
                                 "decided; nothing was stored: decide them again")
            run_id = reserve_run_id(db)
            writer = RunWriter(db, run_id, as_of.isoformat(), started_at)
            counts: Counter[str] = Counter()
            ids: list[str] = []
            sums = Tally()  # the run's digests, as engine.run computes them
            for part in partitions:
                writer.add(part.decisions, part.strikes)
                counts.update(part.counts)
                ids.extend(row["customer_id"] for row in part.decisions)
                sums.add(Batch(part.decisions, part.strikes))
            reject_rows = [asdict(r) if isinstance(r, Reject) else r for r in rejects]
            writer.add_rejects(reject_rows)
            facts_sha, memory_sha = sums.facts_sha256, sums.memory_sha256
            identity = hashlib.sha256(f"{policy.sha256}|{facts_sha}|{as_of.isoformat()}|"
                                      f"{memory_sha}".encode()).hexdigest()
            same = db.execute("select id from runs where identity = ? order by id desc limit 1",
                              [identity]).fetchone()
            if same:
                raise _Same(same[0])  # rolls the batches back
            kinds = [registry().sources[source.split(":", 1)[0]]] \
                if source.split(":", 1)[0] in registry().sources else []
            return writer.finish({
                "policy_name": policy.name, "policy_version": policy.version,
                "policy_sha256": policy.sha256, "policy_file": policy.file,
                "policy_text": policy.text, "source": source, "as_of": as_of.isoformat(),
                "customers": len(ids),
                "rejected": len({(r["file"], r["row"], r["line"]) for r in reject_rows}),
                "counts": jsontext.dumps({o: counts.get(o, 0) for o in (*OUTCOMES, *MARKERS)}),
                "population": jsontext.dumps(population_stats), "adieu_version": __version__,
                "started_at": started_at, "finished_at": now(), "facts_sha256": facts_sha,
                "identity": identity, "backfill": int(backfill),
                "new_strikes": writer.strikes, "missing_facts": jsontext.dumps([]),
                "sources": jsontext.dumps([source]),
                "plugins": jsontext.dumps(used_plugins(policy, kinds, registry())),
                "input_sha256": None, "made_by": made_by,
            })
    except _Same as same:
        return same.run_id
    finally:
        db.close()


def statistics_one_machine(policy: Policy, records: Sequence[Record], as_of: dt.date) \
        -> dict[str, dict[str, Any]]:
    """Population statistics of records held on one machine, every pass
    (popstats.population_stats)."""
    return population_stats(policy, as_of, lambda: records)
