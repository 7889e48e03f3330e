"""Send N GET requests to a load balancer on 127.0.0.1 and count the answers per backend instance."""

import http.client
import json
import sys
from collections import Counter

port, total = int(sys.argv[1]), int(sys.argv[2])
counts = Counter()
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
for _ in range(total):
    conn.request("GET", "/")
    response = conn.getresponse()
    response.read()
    counts[response.getheader("X-Instance") if response.status == 200 else f"status {response.status}"] += 1
conn.close()
print(json.dumps(counts))
