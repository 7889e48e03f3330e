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
    """Retains memory at a steady rate; stops growing once the memory limit is reached.

    The rate can change while the service runs: growth then goes on from what is retained at that
    moment, at the new rate. What is retained stays retained (a leak is not undone without a restart).
    """

    def __init__(self, mb_per_min, ceiling_bytes, tick=0.2, clock=time.monotonic):
        self.ceiling_bytes = ceiling_bytes
        self.tick = tick
        self.clock = clock
        self.retained = []
        self.retained_bytes = 0
        self.bytes_per_second = 0.0
        self._since = clock()
        self._retained_since = 0
        self._started = False
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="memory-growth", daemon=True)
        self.set_rate(mb_per_min)

    def set_rate(self, mb_per_min):
        with self._lock:
            self.bytes_per_second = mb_per_min * 1024 * 1024 / 60.0
            self._since = self.clock()
            self._retained_since = self.retained_bytes
            self._start_thread_if_needed()

    def start(self):
        with self._lock:
            self._started = True
            self._since = self.clock()
            self._retained_since = self.retained_bytes
            self._start_thread_if_needed()

    def _start_thread_if_needed(self):
        if self._started and self.bytes_per_second > 0 and not self._thread.is_alive() and not self._stop.is_set():
            self._thread.start()

    def stop(self):
        self._stop.set()

    def _run(self):
        while not self._stop.wait(self.tick):
            with self._lock:
                rate, since, retained_since = self.bytes_per_second, self._since, self._retained_since
            if rate <= 0:
                continue
            target = retained_since + int((self.clock() - since) * rate)
            missing = target - self.retained_bytes
            if missing <= 0:
                continue
            if resident_bytes() + missing > self.ceiling_bytes:
                continue
            # Written, not zero-filled: untouched pages would not count in the resident set.
            self.retained.append(b"\xa5" * missing)
            self.retained_bytes += missing
