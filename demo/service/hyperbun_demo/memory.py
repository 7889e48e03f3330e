"""Resident memory of this process, and the memory growth fault."""

import os
import threading
import time

_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def resident_bytes():
    """Resident set size from /proc/self/statm."""
    try:
        with open("/proc/self/statm", encoding="ascii") as handle:
            return int(handle.read().split()[1]) * _PAGE_SIZE
    except (OSError, ValueError, IndexError):
        return 0


class MemoryGrowth:
    """Retains memory at a steady rate; stops growing once the memory limit is reached."""

    def __init__(self, mb_per_min, ceiling_bytes, tick=0.2):
        self.bytes_per_second = mb_per_min * 1024 * 1024 / 60.0
        self.ceiling_bytes = ceiling_bytes
        self.tick = tick
        self.retained = []
        self.retained_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="memory-growth", daemon=True)

    def start(self):
        if self.bytes_per_second > 0:
            self._thread.start()

    def stop(self):
        self._stop.set()

    def _run(self):
        started = time.monotonic()
        while not self._stop.wait(self.tick):
            target = int((time.monotonic() - started) * self.bytes_per_second)
            missing = target - self.retained_bytes
            if missing <= 0:
                continue
            if resident_bytes() + missing > self.ceiling_bytes:
                continue
            # Written, not zero-filled: untouched pages would not count in the resident set.
            self.retained.append(b"\xa5" * missing)
            self.retained_bytes += missing
