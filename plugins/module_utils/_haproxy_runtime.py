# Copyright: Hyper-Bun Operations Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This module_utils is PRIVATE to the hyperbun.canary collection. It may change or go away without
# notice; do not use it from outside the collection.

"""A small client for HAProxy's runtime API (the stats socket), standard library only."""

from __future__ import annotations

import csv
import io
import os
import socket
import stat

# srv_admin_state bit set by `set server ... state drain` (SRV_ADMF_FDRAIN in HAProxy's server.h).
ADMIN_FORCED_DRAIN = 0x08
ADMIN_FORCED_MAINT = 0x01


class HAProxyRuntimeError(Exception):
    pass


class UnknownBackendError(HAProxyRuntimeError):
    pass


class HAProxyRuntime:
    def __init__(self, path, timeout=10.0):
        self.path = path
        self.timeout = timeout

    def command(self, line):
        try:
            mode = os.stat(self.path).st_mode
        except FileNotFoundError as exc:
            raise HAProxyRuntimeError(
                f"HAProxy admin socket {self.path} does not exist: is a `stats socket {self.path} level admin`"
                " line in the global section and HAProxy running?"
            ) from exc
        if not stat.S_ISSOCK(mode):
            raise HAProxyRuntimeError(f"{self.path} is not a UNIX socket")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.path)
            sock.sendall(line.encode() + b"\n")
            chunks = []
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        except OSError as exc:
            raise HAProxyRuntimeError(f"HAProxy admin socket {self.path}: {exc}") from exc
        finally:
            sock.close()
        return b"".join(chunks).decode("utf-8", "replace")

    def require_admin(self):
        level = self.command("show cli level").strip()
        if level != "admin":
            raise HAProxyRuntimeError(
                f"HAProxy socket {self.path} is at level {level or 'unknown'!r}, weights need level admin"
                " (`stats socket ... level admin`)"
            )

    def servers_state(self, backend):
        """Servers of one backend as {name: {'admin_state': int, 'uweight': int, 'iweight': int}}."""
        text = self.command(f"show servers state {backend}")
        lines = text.splitlines()
        if not lines or not lines[0].strip().isdigit():
            message = text.strip() or "no answer"
            raise UnknownBackendError(f"HAProxy does not know backend {backend!r}: {message}")
        return parse_servers_state(text, backend)

    def sessions(self, backend):
        """Current sessions per server of a backend, from `show stat`."""
        text = self.command("show stat").lstrip("# ")
        rows = csv.DictReader(io.StringIO(text))
        return {
            row["svname"]: int(row["scur"] or 0)
            for row in rows
            if row.get("pxname") == backend and row.get("svname") not in ("FRONTEND", "BACKEND")
        }

    def set_weight(self, backend, server, weight):
        self._expect_silence(f"set weight {backend}/{server} {int(weight)}")

    def set_state(self, backend, server, state):
        self._expect_silence(f"set server {backend}/{server} state {state}")

    def _expect_silence(self, line):
        answer = self.command(line).strip()
        if answer:
            raise HAProxyRuntimeError(f"HAProxy refused `{line}`: {answer}")


def parse_servers_state(text, backend=None):
    """Parse `show servers state` output (the server-state-file format, version 1)."""
    header = None
    servers = {}
    for line in text.splitlines():
        if line.startswith("#"):
            header = line.lstrip("# ").split()
            continue
        fields = line.split()
        if header is None or len(fields) < len(header) - 1:
            continue
        row = dict(zip(header, fields, strict=False))
        if backend is not None and row.get("be_name") != backend:
            continue
        servers[row["srv_name"]] = {
            "admin_state": int(row["srv_admin_state"]),
            "uweight": int(row["srv_uweight"]),
            "iweight": int(row["srv_iweight"]),
            # How the server was declared (name or address) and where it resolved to, with its port.
            "addresses": sorted(
                {
                    f"{row[key]}:{row.get('srv_port', '')}"
                    for key in ("srv_fqdn", "srv_addr")
                    if row.get(key, "-") != "-"
                }
            ),
        }
    return servers
