"""A circuit breaker: closed, open after N consecutive failures, half-open after a timeout."""

import threading
import time

CLOSED = "closed"
OPEN = "open"
HALF_OPEN = "half_open"


class BreakerOpenError(RuntimeError):
    """The call was refused because the breaker is open."""


class CircuitBreaker:
    def __init__(self, name, failure_threshold=5, reset_timeout=30.0, clock=time.monotonic, on_change=None):
        self.name = name
        self.failure_threshold = failure_threshold
        self.reset_timeout = reset_timeout
        self.clock = clock
        self.on_change = on_change
        self.trips = 0
        self.forced = False
        self._state = CLOSED
        self._failures = 0
        self._opened_at = None
        self._lock = threading.Lock()

    @property
    def state(self):
        with self._lock:
            self._maybe_half_open()
            return self._state

    @property
    def tripped(self):
        return self.state != CLOSED

    def _maybe_half_open(self):
        if self._state == OPEN and not self.forced and self.clock() - self._opened_at >= self.reset_timeout:
            self._set(HALF_OPEN)

    def _set(self, state):
        previous = self._state
        self._state = state
        if state == OPEN and previous != OPEN:
            self.trips += 1
            self._opened_at = self.clock()
        if state != previous and self.on_change is not None:
            self.on_change(self, previous, state)

    def force_open(self):
        """Trip the breaker and keep it open: no half-open probe ever closes it."""
        with self._lock:
            self.forced = True
            self._set(OPEN)

    def release(self):
        """End a forced trip: the breaker closes, as its dependency is back."""
        with self._lock:
            if not self.forced:
                return
            self.forced = False
            self._failures = 0
            self._set(CLOSED)

    def call(self, func, *args, **kwargs):
        with self._lock:
            self._maybe_half_open()
            if self._state == OPEN:
                raise BreakerOpenError(f"circuit breaker {self.name} is open")
        try:
            result = func(*args, **kwargs)
        except Exception:
            with self._lock:
                self._failures += 1
                if self._state == HALF_OPEN or self._failures >= self.failure_threshold:
                    self._set(OPEN)
            raise
        with self._lock:
            self._failures = 0
            if self._state == HALF_OPEN:
                self._set(CLOSED)
        return result
