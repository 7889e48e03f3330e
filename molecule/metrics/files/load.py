"""Bounded load for the metrics scenario: GETs to the API of the given base URLs on 127.0.0.1 only.

usage: load.py [--pause-ms MS] SECONDS MAX_REQUESTS URL [URL ...]

Eight threads send requests one after the other; with --pause-ms each waits MS milliseconds after each
answer, a steady load (as the demo's wrk script) rather than as many requests as the machine can answer.
"""

import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

PATHS = ("/api/query?q=btc", "/api/graph", "/api/markets", "/api/query?q=eth")


def main():
    args = sys.argv[1:]
    pause = 0.0
    if args[:1] == ["--pause-ms"]:
        pause, args = float(args[1]) / 1000, args[2:]
    seconds, limit, urls = float(args[0]), int(args[1]), args[2:]
    for url in urls:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme != "http" or parts.hostname not in ("127.0.0.1", "localhost"):
            sys.exit(f"load.py sends load to http://127.0.0.1 only, not {url}")
    deadline = time.monotonic() + seconds
    lock = threading.Lock()
    sent = [0]

    def worker(offset):
        n = offset
        while time.monotonic() < deadline:
            with lock:
                if sent[0] >= limit:
                    return
                sent[0] += 1
            url = urls[n % len(urls)] + PATHS[(n // len(urls)) % len(PATHS)]
            try:
                with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 scheme and host checked above
                    response.read()
            except (urllib.error.URLError, OSError):
                # An instance not (yet) listening refuses at once: no spinning on it.
                time.sleep(0.1)
            time.sleep(pause)
            n += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(sent[0])


if __name__ == "__main__":
    main()
