"""The run-time faults file (HYPERBUN_FAULTS_FILE): watched by stat, read only when it changed."""

import os
import time
from dataclasses import dataclass, field

from .faults import FaultError, parse_fault_spec

# A fault that only acts while the service starts cannot be set from a file read at run time.
START_ONLY_FAULTS = ("crash_at_start",)
MAX_BYTES = 4096
# File timestamps are coarse (a kernel tick): a second write within that tick, of the same size, leaves
# the stat unchanged, so a file modified this recently is read again and compared by content.
_RACY_NS = 1_000_000_000


@dataclass
class Reading:
    """What the faults file says now: absent, invalid (error), or faults to put over the base faults."""

    present: bool
    clear: bool = False
    override: dict = field(default_factory=dict)
    ignored: list = field(default_factory=list)
    error: str = ""


def parse_file_text(data, breaker_names):
    """Interpret the bytes of the faults file; never raises."""
    if len(data) > MAX_BYTES:
        return Reading(present=True, error=f"larger than {MAX_BYTES} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Reading(present=True, error=f"not UTF-8 text: {exc.reason}")
    # One fault a line reads as well as a comma-separated spec.
    spec = ",".join(text.splitlines()).strip()
    if spec.strip(", ").lower() == "none":
        return Reading(present=True, clear=True)
    try:
        override = parse_fault_spec(spec, breaker_names)
    except FaultError as exc:
        return Reading(present=True, error=str(exc))
    ignored = sorted(name for name in override if name in START_ONLY_FAULTS)
    for name in ignored:
        del override[name]
    return Reading(present=True, override=override, ignored=ignored)


class FaultsFile:
    """Polled by one thread; poll() answers a Reading when the file changed since the last poll, else None."""

    def __init__(self, path, breaker_names, wall_clock_ns=time.time_ns):
        self.path = path
        self.breaker_names = breaker_names
        self.wall_clock_ns = wall_clock_ns
        self._stat_key = None
        # None while the file is absent, else the bytes (or error text) last interpreted.
        self._content = None

    def poll(self):
        try:
            stat = os.stat(self.path)
        except (FileNotFoundError, NotADirectoryError):
            if self._content is None:
                return None
            self._stat_key = None
            self._content = None
            return Reading(present=False)
        except OSError as exc:
            return self._changed(("stat", exc.strerror or str(exc)))
        key = (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)
        racy = self.wall_clock_ns() - stat.st_mtime_ns < _RACY_NS
        if key == self._stat_key and not racy:
            return None
        self._stat_key = key
        try:
            with open(self.path, "rb") as handle:
                data = handle.read(MAX_BYTES + 1)
        except FileNotFoundError:
            return None
        except OSError as exc:
            return self._changed(("read", exc.strerror or str(exc)))
        return self._changed(data)

    def _changed(self, content):
        if content == self._content:
            return None
        self._content = content
        if isinstance(content, tuple):
            self._stat_key = None
            return Reading(present=True, error=f"cannot {content[0]}: {content[1]}")
        return parse_file_text(content, self.breaker_names)
