"""Per-integration series written straight into prometheus-client's multiprocess files.

At 10,000 integrations a worker holds some 110,000 samples of the check metrics (a
duration histogram of nine samples, a result counter and the up gauge per
integration). prometheus-client keeps, per series, a child metric object and, per
sample, a value object, its JSON key and its offset in a dict: about 900 bytes a
sample, 100 MB a worker (docs/benchmarks.md, issue 27 item 5). Here a series is
only the offsets of its samples in the file (one int64 array); the key is written
into the file and dropped.

The files keep prometheus-client's format (`prometheus_client/mmap_dict.py`: the
bytes used, then entries of a key length, the UTF-8 JSON key padded to 8 bytes, a
value and a timestamp, each key as `mmap_key` makes it) and a name its collector
reads as usual (`{type}_{mode_}{process}-series.db`): `intmon metrics` sums them
with every other process's, and a series reads exactly as the same prometheus-client
metric would (tests/test_series_file.py). They are this module's own files, apart
from prometheus-client's, so the two never append to one file. Only the per-
integration check metrics use this, only in multiprocess mode (`checks.metrics`).
"""

from __future__ import annotations

import mmap
import os
import struct
import threading
import time
from array import array
from collections.abc import Sequence

from prometheus_client.mmap_dict import _read_all_values, mmap_key
from prometheus_client.utils import floatToGoString

from core.metrics import MULTIPROC_ENV, process_identifier

INITIAL_SIZE = 1 << 16
_TWO_DOUBLES = struct.Struct("dd")
_INTEGER = struct.Struct("i")
# One lock for every file, as prometheus-client has: writes are a few microseconds
# and the batch threads of one process seldom meet here.
_lock = threading.Lock()


class SeriesFile:
    """One append-only multiprocess file of this process; not thread safe (callers lock)."""

    def __init__(self, path: str) -> None:
        self._file = open(path, "a+b")  # noqa: SIM115  (kept open for the mmap)
        size = os.fstat(self._file.fileno()).st_size
        if size == 0:
            self._file.truncate(INITIAL_SIZE)
            size = INITIAL_SIZE
        self._map = mmap.mmap(self._file.fileno(), size)
        self._used = _INTEGER.unpack_from(self._map, 0)[0]
        # Entries an earlier process with the same identifier left: found again by
        # key, never appended twice (the collector would add both).
        self._earlier: dict[str, int] = {}
        if self._used == 0:
            self._set_used(8)
        else:
            self._earlier = {key: pos for key, _, _, pos in _read_all_values(self._map, self._used)}

    def offset(self, key: str) -> int:
        """The offset of the value of `key`, appending the entry (value 0) if new."""
        known = self._earlier.get(key)
        if known is not None:
            return known
        encoded = key.encode()
        padded = encoded + b" " * (8 - (len(encoded) + 4) % 8)
        entry = _INTEGER.pack(len(encoded)) + padded + _TWO_DOUBLES.pack(0.0, 0.0)
        while self._used + len(entry) > len(self._map):
            self._file.truncate(2 * len(self._map))
            self._map = mmap.mmap(self._file.fileno(), 2 * len(self._map))
        self._map[self._used : self._used + len(entry)] = entry
        self._set_used(self._used + len(entry))
        return self._used - 16

    def add(self, offset: int, amount: float) -> None:
        value = _TWO_DOUBLES.unpack_from(self._map, offset)[0]
        # Slice assignment, not pack_into: a reader never sees a half-written value.
        self._map[offset : offset + 16] = _TWO_DOUBLES.pack(value + amount, 0.0)

    def set(self, offset: int, value: float, timestamp: float) -> None:
        self._map[offset : offset + 16] = _TWO_DOUBLES.pack(value, timestamp)

    def value(self, offset: int) -> float:
        return float(_TWO_DOUBLES.unpack_from(self._map, offset)[0])

    def _set_used(self, used: int) -> None:
        self._used = used
        self._map[0:4] = _INTEGER.pack(used)

    def close(self) -> None:
        self._map.close()
        self._file.close()


class _Files:
    """This process's series files by type, opened lazily, new ones after a fork."""

    def __init__(self) -> None:
        self.owner = ""
        self.files: dict[str, SeriesFile] = {}
        self.generation = 0

    def get(self, prefix: str) -> SeriesFile:
        if self.owner != process_identifier():
            # A fork: the parent's files are not ours to write; every series
            # finds its offsets again in this process's own files.
            self.files = {}
            self.owner = process_identifier()
            self.generation += 1
        file = self.files.get(prefix)
        if file is None:
            directory = os.environ[MULTIPROC_ENV]
            path = os.path.join(directory, f"{prefix}_{self.owner}-series.db")
            file = self.files[prefix] = SeriesFile(path)
        return file


_files = _Files()


def key(name: str, sample: str, names: Sequence[str], values: Sequence[str], doc: str) -> str:
    """The entry key prometheus-client writes for one sample (`mmap_key`)."""
    return mmap_key(name, sample, list(names), list(values), doc)


class _Family:
    """A labelled metric: label values → the offsets of the series' samples."""

    typ = ""
    prefix = ""

    def __init__(self, name: str, documentation: str, labelnames: Sequence[str]) -> None:
        self.name = name
        self.documentation = documentation
        self.labelnames = tuple(labelnames)
        self._offsets: dict[tuple[str, ...], array[int]] = {}
        self._generation = -1

    def _samples(
        self, labels: tuple[str, ...]
    ) -> list[tuple[str, tuple[str, ...], tuple[str, ...]]]:
        """(sample name, label names, label values) of one series, in offset order."""
        raise NotImplementedError

    def _series(self, labels: tuple[str, ...]) -> tuple[SeriesFile, array[int]]:
        """Caller holds the lock."""
        file = _files.get(self.prefix)
        if self._generation != _files.generation:
            self._offsets = {}
            self._generation = _files.generation
        offsets = self._offsets.get(labels)
        if offsets is None:
            offsets = self._offsets[labels] = array(
                "q",
                (
                    file.offset(key(self.name, sample, names, values, self.documentation))
                    for sample, names, values in self._samples(labels)
                ),
            )
        return file, offsets


class CounterSeries(_Family):
    typ = prefix = "counter"

    def _samples(
        self, labels: tuple[str, ...]
    ) -> list[tuple[str, tuple[str, ...], tuple[str, ...]]]:
        return [(self.name + "_total", self.labelnames, labels)]

    def inc(self, labels: tuple[str, ...], amount: float) -> None:
        with _lock:
            file, offsets = self._series(labels)
            file.add(offsets[0], amount)


class MostRecentGaugeSeries(_Family):
    """A gauge in prometheus-client's `mostrecent` mode: the last value set in any process."""

    typ = "gauge"
    prefix = "gauge_mostrecent"

    def _samples(
        self, labels: tuple[str, ...]
    ) -> list[tuple[str, tuple[str, ...], tuple[str, ...]]]:
        return [(self.name, self.labelnames, labels)]

    def set(self, labels: tuple[str, ...], value: float) -> None:
        with _lock:
            file, offsets = self._series(labels)
            file.set(offsets[0], float(value), time.time())


class HistogramSeries(_Family):
    """Buckets first (not cumulative, as prometheus-client stores them), then the sum."""

    typ = prefix = "histogram"

    def __init__(
        self, name: str, documentation: str, labelnames: Sequence[str], bounds: Sequence[float]
    ) -> None:
        super().__init__(name, documentation, labelnames)
        self.bounds = tuple(float(b) for b in bounds)
        if self.bounds[-1] != float("inf"):
            self.bounds += (float("inf"),)

    def _samples(
        self, labels: tuple[str, ...]
    ) -> list[tuple[str, tuple[str, ...], tuple[str, ...]]]:
        with_le = (*self.labelnames, "le")
        buckets = [
            (self.name + "_bucket", with_le, (*labels, floatToGoString(b))) for b in self.bounds
        ]
        return [*buckets, (self.name + "_sum", self.labelnames, labels)]

    def add(self, labels: tuple[str, ...], hits: Sequence[int], total: float) -> None:
        """Count `hits[i]` observations in bucket i and add `total` to the sum."""
        with _lock:
            file, offsets = self._series(labels)
            for index, count in enumerate(hits):
                if count:
                    file.add(offsets[index], count)
            file.add(offsets[-1], total)
