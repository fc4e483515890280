"""Mergeable population accumulators: a policy's population statistics
(percentile, mean, share) computed one customer at a time, in pieces that
merge, without holding the customers.

    acc = accumulators(policy, as_of)
    for record in records:          # or several accumulators, one per
        acc.add(record)             # partition, then a.merge(b)
    stats = acc.stats()             # exactly Population.stats

`stats()` has today's shape (engine.population.Population.stats:
{key: {"kind", "name", "n", "p", "value"}} for a percentile, {"kind",
"name", "n", "value"} for a mean, {"value", "n", "kind"} for a share, and
{"value": None, "n": 0, "kind", "name", "problem"} when a figure cannot be
computed exactly), so runs.population, explain and the run identity do not
change. The values are exact: equal to engine.population's percentile()
and mean() over the same values in the same order.

Memory per value: a percentile keeps an 8-byte float image per value
(array('d'); float(x) is correctly rounded, so a < b implies
float(a) <= float(b)) and the exact value as text in a spill buffer that
moves to an anonymous temporary file past SPILL_BYTES; the ranks are found
by a radix select over the float images and resolved exactly among the few
values whose float image ties. A mean keeps an exact sum and a count; a
share two counts. Several percentiles of one fact share one value store.

Ties among equal values (1.0, 1.00 and 1 are equal) are broken by the order
values were added (merge appends the other accumulator's values after this
one's), exactly as the stable sort of the in-memory computation does, so a
percentile shows the same digits when partitions are merged in source
order; in any other order the figure is numerically equal.

A population call whose fact is a derived value that itself uses a
population figure (`percentile(d, 90)` where d uses `mean(x)`) needs the
inner figure first: such calls are accumulated in a later pass.
`Accumulators.complete` says whether this pass computes every call;
`next_pass()` gives the accumulators for the next one, fed with the same
records again. The shipped policies need one pass.
"""

from __future__ import annotations

import ast
import datetime as dt
import decimal
import tempfile
from array import array
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import replace
from decimal import Decimal
from typing import IO, Any

from . import decimals
from .expr import UNKNOWN, Context, PopulationCall
from .facts import Record
from .functions import POPULATION_FUNCTIONS

SPILL_BYTES = 1 << 20  # exact values kept in memory before moving to a temporary file
CHECKPOINT = 1024      # lines between checkpoints into the exact values
_OFFSET = 1 << 63
_EXACT = decimal.Context(prec=decimals.MAX_DIGITS * 8, traps=[decimal.Inexact,
                                                              decimal.InvalidOperation])


class StatsPopulation:
    """A population whose figures come from a stats dict (Population.stats
    shape), for deciding one customer without the others: `value(key)`
    returns the figure (UNKNOWN for None); a key not in the dict raises
    KeyError (a partition must be given every figure its policy uses)."""

    def __init__(self, calls: dict[str, PopulationCall], stats: dict[str, dict[str, Any]]):
        self.calls = calls
        self.stats = stats

    def value(self, key: str) -> Any:
        value = self.stats[key]["value"]
        return UNKNOWN if value is None else value

    def describe(self, key: str) -> str:
        from .population import Population
        return Population(self.calls, stored=self.stats).describe(key)


def dependencies(policy: Any) -> dict[str, list[str]]:
    """For each population call key of the policy, the keys of the
    population calls its fact, derived value or condition rests on
    (directly or through derived values), in the order evaluation meets
    them."""
    calls: dict[str, PopulationCall] = policy.population_calls
    derive = policy.derive

    def keys_of(node: ast.AST, seen: set[str], out: list[str]) -> None:
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id in POPULATION_FUNCTIONS:
            key = ast.unparse(node)
            if key in calls and key not in out:
                out.append(key)
            return
        if isinstance(node, ast.Name) and node.id in derive and node.id not in seen:
            seen.add(node.id)
            keys_of(derive[node.id].tree, seen, out)
            return
        for child in ast.iter_child_nodes(node):
            keys_of(child, seen, out)

    deps = {}
    for key, call in calls.items():
        out: list[str] = []
        if call.kind == "share":
            tree = ast.parse(key, mode="eval").body
            for arg in getattr(tree, "args", []):
                keys_of(arg, set(), out)
        elif call.name in derive:
            keys_of(ast.Name(call.name), set(), out)
        deps[key] = [k for k in out if k != key]
    return deps


def _order(deps: dict[str, list[str]]) -> list[str]:
    """The order Population.compute_all fills its stats: each call after
    the calls it rests on, otherwise in the policy's order."""
    out: list[str] = []

    def visit(key: str, path: tuple[str, ...]) -> None:
        if key in out or key in path:
            return
        for dep in deps.get(key, []):
            visit(dep, (*path, key))
        out.append(key)

    for key in deps:
        visit(key, ())
    return out


class _Values:
    """The numbers of one fact, in the order added: float images in an
    array('d') and the exact values as lines of text ("i12" for an int,
    "d12.50" for a Decimal) in a buffer that spills to a temporary file."""

    def __init__(self) -> None:
        self.floats = array("d")
        self.buffer = bytearray()
        self.file: IO[bytes] | None = None
        self.size = 0                     # bytes of text, file and buffer
        self.mark_lines = array("q")      # checkpoints: a line index ...
        self.mark_offsets = array("q")    # ... and the byte offset of its line

    def __len__(self) -> int:
        return len(self.floats)

    def add(self, value: int | Decimal) -> None:
        n = len(self.floats)
        if not n % CHECKPOINT:
            self.mark_lines.append(n)
            self.mark_offsets.append(self.size)
        self.floats.append(float(value) + 0.0)  # + 0.0: -0.0 ties with 0.0
        line = (b"i" if type(value) is int else b"d") + str(value).encode() + b"\n"
        self.buffer += line
        self.size += len(line)
        if len(self.buffer) >= SPILL_BYTES:
            self._spill()

    def _spill(self) -> None:
        if self.file is None:
            self.file = tempfile.TemporaryFile()
        end = self.buffer.rfind(b"\n") + 1  # whole lines only: lines() reads the file alone
        self.file.seek(0, 2)
        self.file.write(self.buffer[:end])
        del self.buffer[:end]

    def chunks(self) -> Iterable[bytes]:
        """The exact-value text, in order, in pieces of at most SPILL_BYTES."""
        if self.file is not None:
            self.file.seek(0)
            while True:
                piece = self.file.read(SPILL_BYTES)
                if not piece:
                    break
                yield piece
        yield bytes(self.buffer)

    def lines(self) -> Iterable[bytes]:
        if self.file is not None:
            self.file.flush()
            self.file.seek(0)
            for line in self.file:  # noqa: UP028 (yield from would close the file)
                yield line
        yield from bytes(self.buffer).splitlines(keepends=True)

    def merge(self, other: _Values) -> None:
        n = len(self.floats)
        self.mark_lines.extend(array("q", (i + n for i in other.mark_lines)))
        self.mark_offsets.extend(array("q", (o + self.size for o in other.mark_offsets)))
        self.size += other.size
        self.floats.extend(other.floats)
        for piece in other.chunks():
            self.buffer += piece
            if len(self.buffer) >= SPILL_BYTES:
                self._spill()

    def __getstate__(self) -> dict[str, Any]:
        return {"floats": self.floats.tobytes(), "text": b"".join(self.chunks()),
                "marks": (self.mark_lines.tobytes(), self.mark_offsets.tobytes())}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__()
        self.floats.frombytes(state["floats"])
        self.buffer = bytearray(state["text"])
        self.size = len(self.buffer)
        self.mark_lines.frombytes(state["marks"][0])
        self.mark_offsets.frombytes(state["marks"][1])
        if len(self.buffer) >= SPILL_BYTES:
            self._spill()

    def __del__(self) -> None:
        if getattr(self, "file", None) is not None:
            self.file.close()

    # -- selection ----------------------------------------------------------
    def select(self, ranks: list[int]) -> list[int | Decimal]:
        """The values at these 0-based ranks of the stable ascending order
        (by value, then by the order added)."""
        keys = memoryview(self.floats).cast("B").cast("q")  # IEEE bits
        out: dict[int, int | Decimal] = {}
        groups: list[tuple[int, int, int, list[int]]] = []  # key, below, ties, ranks
        for rank in ranks:
            group = next((g for g in groups if g[1] <= rank < g[1] + g[2]), None)
            if group is None:
                groups.append((*_kth_key(keys, rank), [rank]))
            else:
                group[3].append(rank)
        for key, below, ties, wanted in groups:
            raw = key - _OFFSET if key >= _OFFSET else -key - 1
            out.update(self._exact(raw, ties, [r - below for r in wanted], wanted))
        return [out[r] for r in ranks]

    def _exact(self, raw: int, ties: int, positions: list[int], ranks: list[int]) \
            -> dict[int, int | Decimal]:
        """Among the `ties` values whose float image has bits raw, the
        values at these positions of their stable order (by rank)."""
        if ties <= 4096:  # find them in the float bytes, read their exact lines
            pattern = array("q", [raw]).tobytes()
            found = []
            step = 1 << 16
            for start in range(0, len(self.floats), step):
                chunk = self.floats[start:start + step].tobytes()
                at = chunk.find(pattern)
                while at >= 0:
                    if at % 8 == 0:
                        found.append(start + at // 8)
                    at = chunk.find(pattern, at + 1)
            exact = [(value, i) for i, value in zip(found, self._lines_at(found), strict=True)]
            exact.sort(key=lambda pair: (pair[0], pair[1]))
            return {rank: exact[pos][0] for rank, pos in zip(ranks, positions, strict=True)}
        keys = memoryview(self.floats).cast("B").cast("q")
        counts: Counter[int | Decimal] = Counter()
        for b, line in zip(keys, self.lines(), strict=True):
            if b == raw:
                counts[_parse(line)] += 1
        targets: dict[int | Decimal, list[tuple[int, int]]] = {}  # value -> [(nth, rank)]
        ordered = sorted(counts)
        for rank, pos in zip(ranks, positions, strict=True):
            done = 0
            for value in ordered:
                if pos < done + counts[value]:
                    targets.setdefault(value, []).append((pos - done, rank))
                    break
                done += counts[value]
        out: dict[int, int | Decimal] = {}
        seen: Counter[int | Decimal] = Counter()
        for b, line in zip(keys, self.lines(), strict=True):
            if b != raw:
                continue
            value = _parse(line)
            wanted = targets.get(value)
            if wanted is None:
                continue
            for nth, rank in wanted:
                if nth == seen[value]:
                    out[rank] = value
            seen[value] += 1
        return out

    def _lines_at(self, indexes: list[int]) -> list[int | Decimal]:
        """The exact values at these (ascending) indexes, read from the
        nearest checkpoint (a line index and its byte offset, at least one
        per CHECKPOINT lines)."""
        out = []
        for i in indexes:
            c = bisect_right(self.mark_lines, i) - 1
            lines = self._lines_from(self.mark_offsets[c])
            for _ in range(i - self.mark_lines[c]):
                next(lines)
            out.append(_parse(next(lines)))
        return out

    def _lines_from(self, offset: int) -> Iterator[bytes]:
        size = 0
        if self.file is not None:
            self.file.seek(0, 2)
            size = self.file.tell()
            if offset < size:
                self.file.seek(offset)
                for line in self.file:  # noqa: UP028 (yield from would close the file)
                    yield line
                offset = size
        yield from bytes(self.buffer[offset - size:]).splitlines(keepends=True)


def _parse(line: bytes) -> int | Decimal:
    text = line[1:].rstrip(b"\n").decode()
    return int(text) if line[:1] == b"i" else Decimal(text)


def _kth_key(keys: memoryview, k: int) -> tuple[int, int, int]:
    """The order key (IEEE bits mapped to unsigned, ascending like the
    floats) of the k-th smallest float, how many floats are below it and
    how many equal it: a radix select, 16 bits a pass, ending with a sort
    once a bucket holds few."""
    rank = k
    prefix, shift = 0, 64
    while shift > 0:
        shift -= 16
        hist = [0] * 65536
        top = shift + 16
        if top == 64:
            for b in keys:
                hist[(b + _OFFSET if b >= 0 else -b - 1) >> shift] += 1
        else:
            for b in keys:
                u = b + _OFFSET if b >= 0 else -b - 1
                if u >> top == prefix:
                    hist[(u >> shift) & 0xFFFF] += 1
        digit = 0
        while k >= hist[digit]:
            k -= hist[digit]
            digit += 1
        prefix = (prefix << 16) | digit
        if hist[digit] <= 4096 and shift > 0:  # few left: sort them
            found = sorted(u for u in (b + _OFFSET if b >= 0 else -b - 1 for b in keys)
                           if u >> shift == prefix)
            key = found[k]
            first = bisect_left(found, key)
            return key, rank - k + first, bisect_right(found, key) - first
    return prefix, rank - k, hist[digit]


class _Call:
    """One population call's running figures."""

    def __init__(self, call: PopulationCall):
        self.call = call
        self.n = 0
        self.true = 0                  # share: conditions true
        self.total: int | Decimal = 0  # mean: exact sum
        self.problem: str | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "call": replace(self.call, condition=None)}

    def merge(self, other: _Call) -> None:
        self.n += other.n
        self.true += other.true
        self.total = _EXACT.add(self.total, other.total) \
            if type(self.total) is not int or type(other.total) is not int \
            else self.total + other.total
        self.problem = self.problem or other.problem


class Accumulators:
    """The running population figures of one pass (see the module doc).

    calls: the population call keys this pass computes; known: figures of
    earlier passes (Population.stats shape)."""

    def __init__(self, policy: Any, as_of: dt.date | None = None,
                 known: dict[str, dict[str, Any]] | None = None):
        self.policy = policy
        self.as_of = as_of
        self.known = dict(known or {})
        self.deps = dependencies(policy)
        all_calls: dict[str, PopulationCall] = policy.population_calls
        self.calls = [k for k in _order(self.deps) if k not in self.known
                      and all(d in self.known for d in self.deps[k])]
        self._figures = {k: _Call(all_calls[k]) for k in self.calls}
        names = {all_calls[k].name for k in self.calls if all_calls[k].kind == "percentile"}
        self._values = {name: _Values() for name in sorted(names)}
        self._numbers = sorted({all_calls[k].name for k in self.calls
                                if all_calls[k].kind != "share"})
        self._population = StatsPopulation(all_calls, self.known)
        self._facts_only = not any(all_calls[k].kind == "share" for k in self.calls) \
            and not any(name in policy.derive for name in self._numbers)

    @property
    def complete(self) -> bool:
        """True when this pass leaves no population call to compute."""
        return len(self.known) + len(self.calls) >= len(self.deps)

    def next_pass(self) -> Accumulators:
        """Accumulators for the calls that rest on this pass's figures."""
        return Accumulators(self.policy, self.as_of, self.stats())

    def context(self, facts: dict[str, Any]) -> Context:
        """A context for one customer whose population figures are the
        known ones (earlier passes)."""
        if self.as_of is None:
            raise ValueError("accumulators need an as-of date to add facts")
        return Context(facts, self.as_of, self._population, self.policy.derive_fns)

    def add(self, item: Context | Record | dict[str, Any]) -> None:
        """Add one customer: a Context (as decide sees it), a Record or its
        facts dict (a context is made with the as-of date given)."""
        if not self.calls:
            return
        if self.policy is None:
            raise ValueError("unpickled accumulators: attach(policy) before adding")
        if isinstance(item, Context):
            ctx: Any = item
        else:
            facts = item.facts if isinstance(item, Record) else item
            ctx = _Facts(facts) if self._facts_only else self.context(facts)
        numbers: dict[str, Any] = {}
        for name in self._numbers:
            v = ctx.value_of(name)
            if v is not UNKNOWN and decimals.is_number(v):
                numbers[name] = decimals.to_number(v) if type(v) is float else v
                store = self._values.get(name)
                if store is not None:
                    store.add(numbers[name])
        for fig in self._figures.values():
            call = fig.call
            if call.kind == "share":
                v = _condition(call, ctx)
                if v is not UNKNOWN:
                    fig.n += 1
                    if v:
                        fig.true += 1
                continue
            v = numbers.get(call.name)
            if v is None:
                continue
            fig.n += 1
            if call.kind == "mean" and fig.problem is None:
                try:
                    fig.total = fig.total + v if type(v) is int and type(fig.total) is int \
                        else _EXACT.add(fig.total, v)
                except ArithmeticError as exc:
                    fig.problem = decimals.describe(exc)

    def merge(self, other: Accumulators) -> Accumulators:
        """Add other's customers after this one's; returns self."""
        if other.calls != self.calls:
            raise ValueError("accumulators of different passes or policies")
        for key, fig in self._figures.items():
            fig.merge(other._figures[key])
        for name, values in self._values.items():
            values.merge(other._values[name])
        return self

    def stats(self) -> dict[str, dict[str, Any]]:
        """Every figure known so far, in Population.stats shape and order."""
        computed = {key: self._statistic(fig) for key, fig in self._figures.items()}
        out = {}
        for key in _order(self.deps):
            if key in self.known:
                out[key] = self.known[key]
            elif key in computed:
                out[key] = computed[key]
        return out

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without the compiled policy (its closures do not
        pickle): what comes back merges and gives stats(); attach(policy)
        before adding more customers."""
        state = dict(self.__dict__)
        state["policy"] = state["_population"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def attach(self, policy: Any) -> Accumulators:
        """Give unpickled accumulators their compiled policy back (to add)."""
        self.policy = policy
        self._population = StatsPopulation(policy.population_calls, self.known)
        for key, fig in self._figures.items():
            fig.call = policy.population_calls[key]
        return self

    def _statistic(self, fig: _Call) -> dict[str, Any]:
        call = fig.call
        try:
            if fig.problem is not None:
                raise ArithmeticError(fig.problem)
            if call.kind == "share":
                value = decimals.divide(fig.true, fig.n) if fig.n else None
                return {"value": value, "n": fig.n, "kind": "share"}
            stat: dict[str, Any] = {"kind": call.kind, "name": call.name, "n": fig.n}
            if call.kind == "percentile":
                stat["p"] = call.p
                stat["value"] = self._percentile(call) if fig.n else None
            else:
                stat["value"] = _mean(fig.total, fig.n) if fig.n else None
            return stat
        except ArithmeticError as exc:
            return {"value": None, "n": 0, "kind": call.kind, "name": call.name,
                    "problem": fig.problem or decimals.describe(exc)}

    def _percentile(self, call: PopulationCall) -> int | Decimal:
        values = self._values[call.name]
        n = len(values)
        if n == 1:
            return values.select([0])[0]
        rank = decimals.divide(decimals.multiply(n - 1, call.p), 100)
        lo = int(rank)
        hi = min(lo + 1, n - 1)
        a, b = values.select([lo, hi])
        fraction = decimals.subtract(rank, lo)
        if not fraction:
            return a
        return decimals.add(a, decimals.multiply(decimals.subtract(b, a), fraction))


class _Facts:
    """value_of over plain facts, without a whole Context (no derived value
    or condition is needed)."""

    __slots__ = ("facts",)

    def __init__(self, facts: dict[str, Any]):
        self.facts = facts

    def value_of(self, name: str) -> Any:
        value = self.facts.get(name)
        return UNKNOWN if value is None else value


def _mean(total: int | Decimal, n: int) -> Decimal:
    if type(total) is not int:
        total = decimals.ARITHMETIC.plus(total)  # raises if not exact in MAX_DIGITS
    return decimals.divide(total, n)


def _condition(call: PopulationCall, ctx: Context) -> Any:
    saved = ctx.missing, ctx.problems
    ctx.missing, ctx.problems = set(), []
    try:
        return call.condition(ctx)
    finally:
        ctx.missing, ctx.problems = saved


def accumulators(policy: Any, as_of: dt.date | None = None,
                 known: dict[str, dict[str, Any]] | None = None) -> Accumulators:
    """Empty accumulators for the population calls of a compiled policy
    (engine.policy.Policy) that rest on no figure outside known. as_of is
    needed to add facts or Records (derived values may use it)."""
    return Accumulators(policy, as_of, known)


def population_stats(policy: Any, as_of: dt.date, read: Any) -> dict[str, dict[str, Any]]:
    """Every population figure of policy over the customers read() yields
    (facts dicts, Records or Contexts; called once per pass needed)."""
    acc = accumulators(policy, as_of)
    while True:
        for item in read():
            acc.add(item)
        if acc.complete:
            return acc.stats()
        acc = acc.next_pass()
