"""JSON-lines log in <log_dir>/hyper-bun-YYYY-MM-DD.log (UTC date), filtered by LOG_LEVEL."""

import json
import os
import sys
import threading
from datetime import UTC, datetime

LEVEL_ORDER = {"DEBUG": 10, "INFO": 20, "WARN": 30, "ERROR": 40, "FATAL": 50}


class JsonLog:
    def __init__(self, log_dir, level, version, instance, on_error=None):
        self.log_dir = log_dir
        self.threshold = LEVEL_ORDER[level]
        self.version = version
        self.instance = instance
        # Called for every ERROR or FATAL line, so that the error counter matches the log exactly.
        self.on_error = on_error
        self._lock = threading.Lock()
        self._handle = None
        self._day = None
        os.makedirs(log_dir, exist_ok=True)
        probe = self.path_for(datetime.now(UTC))
        with open(probe, "a", encoding="utf-8"):
            pass

    def path_for(self, now):
        return os.path.join(self.log_dir, "hyper-bun-{}.log".format(now.strftime("%Y-%m-%d")))

    def log(self, level, code, msg, **fields):
        if LEVEL_ORDER[level] < self.threshold:
            return
        now = datetime.now(UTC)
        record = {
            "ts": now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": level,
            "code": code,
            "msg": msg,
            "version": self.version,
            "instance": self.instance,
        }
        record.update(fields)
        line = json.dumps(record, separators=(",", ":"), sort_keys=False) + "\n"
        with self._lock:
            day = now.date()
            if day != self._day or self._handle is None:
                if self._handle is not None:
                    self._handle.close()
                self._handle = open(self.path_for(now), "a", encoding="utf-8")
                self._day = day
            self._handle.write(line)
            self._handle.flush()
        if LEVEL_ORDER[level] >= LEVEL_ORDER["ERROR"] and self.on_error is not None:
            self.on_error(code)

    def debug(self, code, msg, **fields):
        self.log("DEBUG", code, msg, **fields)

    def info(self, code, msg, **fields):
        self.log("INFO", code, msg, **fields)

    def warn(self, code, msg, **fields):
        self.log("WARN", code, msg, **fields)

    def error(self, code, msg, **fields):
        self.log("ERROR", code, msg, **fields)

    def fatal(self, code, msg, **fields):
        self.log("FATAL", code, msg, **fields)

    def close(self):
        with self._lock:
            if self._handle is not None:
                self._handle.close()
                self._handle = None


def console(message):
    """A short line on stderr, which journald keeps."""
    sys.stderr.write(f"hyperbun-demo: {message}\n")
    sys.stderr.flush()
