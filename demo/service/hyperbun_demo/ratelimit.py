"""Token bucket rate limiter."""

import threading
import time


class TokenBucket:
    def __init__(self, rate, burst, clock=time.monotonic):
        self.rate = float(rate)
        self.burst = float(burst)
        self.clock = clock
        self._tokens = float(burst)
        self._updated = clock()
        self._lock = threading.Lock()

    def allow(self):
        with self._lock:
            now = self.clock()
            self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
            self._updated = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True
            return False


class EvenShare:
    """Selects a given share of events, spread evenly (every 1/share-th event), so rates are exact."""

    def __init__(self, share):
        self.share = float(share)
        self._acc = 0.0
        self._lock = threading.Lock()

    def hit(self):
        if self.share <= 0.0:
            return False
        with self._lock:
            self._acc += self.share
            if self._acc >= 1.0 - 1e-9:
                self._acc -= 1.0
                return True
            return False
