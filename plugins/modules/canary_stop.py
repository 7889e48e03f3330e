#!/usr/bin/python
# Copyright: Hyper-Bun Operations Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: canary_stop
short_description: Stop a canary that is rolled back, keeping its evidence, and record the rollback
version_added: 0.2.0
description:
  - For the rollback, on a canary host and in one module run, in this order, takes a snapshot of the canary's
    metrics (O(metrics_url)) while it still answers; stops and disables the canary's unit (O(service)), which may
    not exist; reads the last lines and the error counts of its logs (O(log_paths)), as
    M(hyperbun.canary.canary_log_analysis) does; and records the phase C(rolled_back) in the canary's state (the
    local fact of M(hyperbun.canary.canary_state)), with O(event), O(values), the weight 0 and the time it was
    stopped.
  - A canary already recorded as rolled back whose unit was neither running nor enabled has nothing new to tell, so
    nothing is recorded and RV(evidence) is null; a rollback run twice writes one incident report.
  - A snapshot or logs that cannot be read are evidence too (RV(evidence.metrics_error), RV(evidence.logs_error));
    the canary is stopped and the rollback recorded all the same.
  - Written because the same work with M(hyperbun.canary.canary_state), M(ansible.builtin.uri),
    M(ansible.builtin.systemd_service) and M(hyperbun.canary.canary_log_analysis) takes five round trips to the
    host, where a rollback must take as few as it can. The unit is stopped and disabled with C(systemctl disable --now).
author: Hyper-Bun Operations Team (@hyperbun)
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying target.
    support: full
    details: In check mode the evidence is read, and nothing is stopped nor recorded.
  diff_mode:
    description: Returns details on what has changed (or possibly needs changing in check mode), when in diff mode.
    support: none
  idempotent:
    description: When run twice in a row outside check mode, with the same arguments, the second invocation
      indicates no change.
    support: full
options:
  app:
    description: Name of the application; its state is the local fact C(<app>_canary).
    type: str
    default: hyperbun
  fact_dir:
    description: Directory of Ansible local facts.
    type: path
    default: /etc/ansible/facts.d
  service:
    description: The canary's systemd unit.
    type: str
    required: true
  metrics_url:
    description: The canary's metrics endpoint, as the host reaches it; no snapshot when not given.
    type: str
  metrics_timeout:
    description: Seconds to wait for the snapshot, its whole body included.
    type: int
    default: 5
  metrics_max_bytes:
    description: The most of the snapshot that is read; the canary under test wrote it, and a longer one is not
      kept (RV(evidence.metrics_error) says so).
    type: int
    default: 4194304
  validate_certs:
    description: Verify the TLS certificate of an C(https) O(metrics_url).
    type: bool
    default: true
  log_paths:
    description: The canary's log files or glob patterns; a pattern that matches nothing counts nothing.
    type: list
    elements: path
    default: []
  log_lines:
    description: How many of the last log lines to keep.
    type: int
    default: 50
  event:
    description: The line for the state's timeline.
    type: str
    required: true
  values:
    description: Other keys merged into the state (a key set to null is removed), such as the C(verdict).
    type: dict
    default: {}
seealso:
  - module: hyperbun.canary.canary_state
  - module: hyperbun.canary.canary_log_analysis
"""

EXAMPLES = r"""
- name: Keep the evidence, stop and disable the canary, and record the rollback
  hyperbun.canary.canary_stop:
    service: hyperbun-canary
    metrics_url: http://127.0.0.1:3001/metrics
    log_paths: [/opt/hyperbun/canary/logs/*.log]
    event: "rolled back: error_rate over 1 %"
  register: stopped
"""

RETURN = r"""
evidence:
  description: What the rollback keeps of this canary; null when it was already rolled back and stopped.
  returned: success
  type: dict
  contains:
    metrics:
      description: The metrics snapshot, empty when there is none.
      type: str
    metrics_error:
      description: Why there is no snapshot; empty otherwise.
      type: str
    logs:
      description: What M(hyperbun.canary.canary_log_analysis) returns for O(log_paths) (files, error counts, last
        lines).
      type: dict
    logs_error:
      description: Why the logs could not be read; empty otherwise.
      type: str
    state:
      description: The canary's state as recorded.
      type: dict
    stopped_at:
      description: When the canary was stopped (UTC, ISO 8601).
      type: str
  sample:
    metrics: "# TYPE http_requests_total counter\n..."
    metrics_error: ""
    logs: {files: [/opt/hyperbun/canary/logs/hyper-bun-2026-11-29.log], errors_total: 3}
    logs_error: ""
    state: {phase: rolled_back, weight: 0}
    stopped_at: "2026-11-29T10:00:00+00:00"
previous:
  description: The canary's state before the module ran.
  returned: success
  type: dict
"""

import datetime

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.hyperbun.canary.plugins.module_utils._exposition import SourceError
from ansible_collections.hyperbun.canary.plugins.module_utils._logs import LogError, analyse, expand_paths
from ansible_collections.hyperbun.canary.plugins.module_utils._metrics_http import HttpSettings, http_request
from ansible_collections.hyperbun.canary.plugins.module_utils._state import (
    read_state,
    state_path,
    updated_state,
    write_state,
)


def snapshot(module):
    """The metrics text, or why there is none: one request through the collection's HTTP client, whose
    deadline covers the whole body (a canary that trickles its answer cannot hold the rollback) and which
    reads no more than metrics_max_bytes."""
    params = module.params
    if not params["metrics_url"]:
        return "", "no metrics_url given"
    settings = HttpSettings(validate_certs=params["validate_certs"], timeout=params["metrics_timeout"], retries=0,
                            max_bytes=params["metrics_max_bytes"])
    try:
        return http_request(params["metrics_url"], settings).text(), ""
    except SourceError as exc:
        return "", exc.message


def unit_in_use(module, service):
    """Whether the unit runs or is enabled (a missing unit is neither)."""
    active = module.run_command(["systemctl", "is-active", "--quiet", service])[0] == 0
    enabled = module.run_command(["systemctl", "is-enabled", "--quiet", service])[0] == 0
    return active or enabled


def stop(module, service):
    rc, out, err = module.run_command(["systemctl", "disable", "--now", service])
    if rc != 0 and "does not exist" not in err and "not found" not in err:
        module.fail_json(msg=f"systemctl could not stop and disable {service}: {(err or out).strip()}")


def read_logs(module):
    params = module.params
    files, _unmatched = expand_paths(params["log_paths"])
    try:
        return analyse(files, ("ERROR",), ["QUERY_TIMEOUT"], params["log_lines"]), ""
    except LogError as exc:
        return {"files": files}, str(exc)


def main():
    module = AnsibleModule(
        argument_spec={
            "app": {"type": "str", "default": "hyperbun"},
            "fact_dir": {"type": "path", "default": "/etc/ansible/facts.d"},
            "service": {"type": "str", "required": True},
            "metrics_url": {"type": "str"},
            "metrics_timeout": {"type": "int", "default": 5},
            "metrics_max_bytes": {"type": "int", "default": 4194304},
            "validate_certs": {"type": "bool", "default": True},
            "log_paths": {"type": "list", "elements": "path", "default": []},
            "log_lines": {"type": "int", "default": 50},
            "event": {"type": "str", "required": True},
            "values": {"type": "dict", "default": {}},
        },
        supports_check_mode=True,
    )
    params = module.params
    path = state_path(module, params["fact_dir"], params["app"])
    previous = read_state(module, path)
    if previous.get("phase") == "rolled_back" and not unit_in_use(module, params["service"]):
        module.exit_json(changed=False, evidence=None, previous=previous)

    # A stopped canary has no metrics: the snapshot comes first.
    metrics, metrics_error = snapshot(module)
    if not module.check_mode:
        stop(module, params["service"])
    stopped_at = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    logs, logs_error = read_logs(module)
    values = {"weight": 0, "rolled_back_at": stopped_at, **params["values"]}
    state = updated_state(previous, "rolled_back", values, params["event"])
    if not module.check_mode:
        write_state(module, path, state)
    evidence = {
        "metrics": metrics,
        "metrics_error": metrics_error,
        "logs": logs,
        "logs_error": logs_error,
        "state": state,
        "stopped_at": stopped_at,
    }
    module.exit_json(changed=True, evidence=evidence, previous=previous)


if __name__ == "__main__":
    main()
