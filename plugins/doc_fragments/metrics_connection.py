# -*- coding: utf-8 -*-
# Copyright: Hyper-Bun Operations Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # HTTP options shared by the modules that scrape /metrics endpoints or call the Prometheus API.
    DOCUMENTATION = r"""
options:
  validate_certs:
    description:
      - Verify the TLS certificate of HTTPS endpoints.
      - Set to V(false) only for a test endpoint with a self-signed certificate; prefer O(ca_path).
    type: bool
    default: true
  ca_path:
    description:
      - PEM file of the certificate authorities to trust for HTTPS endpoints.
    type: path
  timeout:
    description:
      - Seconds one HTTP request may take, from the connection to the last byte of its body; a server
        that trickles its answer is cut off then. Each retry has as long again.
    type: float
    default: 10
  retries:
    description:
      - How many times a request is tried again after a network error, HTTP 429 or HTTP 5xx.
      - A request that still fails ends the criteria that depend on it in C(error), never in C(pass).
    type: int
    default: 2
  retry_delay:
    description:
      - Seconds between two tries of a request.
    type: float
    default: 1
  max_bytes:
    description:
      - Largest response body read from an endpoint, in bytes.
      - A larger response is not read further and ends in C(error), so that a runaway exposition
        cannot exhaust the memory of the host running the module.
    type: int
    default: 67108864
"""

    # Credentials for the Prometheus server; never sent to the scraped /metrics endpoints.
    PROMETHEUS_AUTH = r"""
options:
  bearer_token:
    description:
      - Bearer token sent in the C(Authorization) header to the Prometheus server.
      - Mutually exclusive with O(url_username).
    type: str
  url_username:
    description:
      - User name for HTTP basic authentication to the Prometheus server.
    type: str
  url_password:
    description:
      - Password for HTTP basic authentication to the Prometheus server.
    type: str
"""
