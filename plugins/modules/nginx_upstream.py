#!/usr/bin/python
# Copyright: Hyper-Bun Operations Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: nginx_upstream
short_description: Write an nginx upstream file, check it, reload nginx gracefully and read the weights in force
version_added: 0.2.0
description:
  - Writes O(content) to O(path) (atomically, through a temporary file in the same directory) when it differs,
    checks the whole configuration with C(nginx -t), and reloads nginx gracefully (C(systemctl reload)), so that
    no connection is dropped.
  - When nginx rejects the new file, or the reload fails, the previous file is put back (or the new one removed
    when there was none) and the module fails with nginx's own words; nginx keeps its running configuration.
  - Then, changed or not, reads the configuration in force back with C(nginx -T), which also tests it, and
    returns the weights of the servers of each upstream of O(upstreams) and, for O(split), the share of a
    C(split_clients) block.
  - Written because the same work with M(ansible.builtin.template), M(ansible.builtin.command) and
    M(ansible.builtin.systemd_service) takes six module runs on the load balancer, where a rollback's drain must
    take as few round trips as it can.
author: Hyper-Bun Operations Team (@hyperbun)
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Returns details on what has changed (or possibly needs changing in check mode), when in diff mode.
    support: full
  idempotent:
    description: When run twice in a row outside check mode, with the same arguments, the second invocation
      indicates no change.
    support: full
options:
  path:
    description: The upstream file, included by nginx's configuration; its directory must exist.
    type: path
    required: true
  content:
    description: What the file holds, as text (render the template with the C(ansible.builtin.template) lookup).
    type: str
    required: true
  mode:
    description: Its mode, as M(ansible.builtin.file) takes it.
    type: raw
    default: "0644"
  owner:
    description: Its owner; unchanged when not given.
    type: str
  group:
    description: Its group; unchanged when not given.
    type: str
  service:
    description: The systemd unit reloaded after a change.
    type: str
    default: nginx
  upstreams:
    description: Upstreams whose servers' weights are read back from the configuration in force.
    type: list
    elements: str
    default: []
  split:
    description:
      - A C(split_clients) block to read back from the configuration in force, by the variable it sets.
    type: dict
    suboptions:
      variable:
        description: The variable the block sets, without its C($).
        type: str
        required: true
      value:
        description: The value whose share of the hash space is returned.
        type: str
        required: true
seealso:
  - module: ansible.builtin.template
  - module: hyperbun.canary.haproxy_weight
"""

EXAMPLES = r"""
- name: Give the canary 5 % of the upstream hyperbun
  hyperbun.canary.nginx_upstream:
    path: /etc/nginx/conf.d/hyperbun-upstream.conf
    content: "{{ lookup('ansible.builtin.template', 'nginx-upstream.conf.j2') }}"
    owner: root
    group: root
    upstreams: [hyperbun]
  register: upstream

- name: The weights in force
  ansible.builtin.debug:
    msg: "{{ upstream.weights.hyperbun }}"
  # {'app1:3000': 19, 'app1:3001': 1}
"""

RETURN = r"""
weights:
  description: Weight per server address of each upstream of O(upstreams), in force after the module ran (as
    P(hyperbun.canary.nginx_upstream_weights#filter) reads them; C(down) is 0).
  returned: success
  type: dict
  sample: {"hyperbun": {"app1:3000": 19, "app1:3001": 1}}
split_share:
  description: Percentage of the hash space that gives the O(split) variable its value, in force.
  returned: when O(split) is given
  type: float
  sample: 5.0
split_proxied:
  description: Whether a C(proxy_pass) of the configuration in force sends requests to the O(split) variable.
  returned: when O(split) is given
  type: bool
  sample: true
reloaded:
  description: Whether nginx was reloaded.
  returned: success
  type: bool
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_text
from ansible_collections.hyperbun.canary.plugins.module_utils import _nginx_config
from ansible_collections.hyperbun.canary.plugins.module_utils._files import read_bytes, write_atomic


def put_back(module, path, previous):
    """The file as it was before the module wrote it: its previous content, or no file."""
    if previous is None:
        os.unlink(path)
    else:
        write_atomic(module, path, previous)


def change(module, path, new, previous, nginx):
    """Writes the file, has nginx check it and reloads nginx; puts the previous file back and fails when
    either refuses."""
    params = module.params
    # A file on a read-only mount can be neither replaced nor written over (atomic_move would fail on its own).
    if not os.access(path if previous is not None else os.path.dirname(path), os.W_OK):
        module.fail_json(msg=f"{path} cannot be written (read-only or not writable), nginx was not reloaded")
    try:
        write_atomic(module, path, new)
    except OSError as exc:
        module.fail_json(msg=f"{path} could not be written, nginx was not reloaded: {exc}")
    module.set_fs_attributes_if_different(module.load_file_common_arguments(params), True, expand=False)
    rc, out, err = module.run_command([nginx, "-t"])
    if rc != 0:
        put_back(module, path, previous)
        module.fail_json(
            msg=f"nginx rejected the new {path}; the previous file is back and nginx was not reloaded: "
            f"{(err or out).strip()}",
            rc=rc,
        )
    rc, out, err = module.run_command(["systemctl", "reload", params["service"]])
    if rc != 0:
        put_back(module, path, previous)
        module.fail_json(
            msg=f"systemctl reload {params['service']} failed, the previous {path} is back: {(err or out).strip()}",
            rc=rc,
        )


def read_back(module, nginx):
    """The weights (and split) of the configuration in force, from nginx -T."""
    params = module.params
    rc, out, err = module.run_command([nginx, "-T"])
    if rc != 0:
        module.fail_json(
            msg=f"nginx -T rejects the configuration, the weights in force cannot be read back: {(err or out).strip()}",
            rc=rc,
        )
    result = {}
    try:
        result["weights"] = {name: _nginx_config.upstream_weights(out, name) for name in params["upstreams"]}
        if params["split"]:
            variable, value = params["split"]["variable"], params["split"]["value"]
            result["split_share"] = _nginx_config.split_share(out, variable, value)
            result["split_proxied"] = _nginx_config.proxies_to(out, variable)
    except ValueError as exc:
        module.fail_json(msg=f"the configuration nginx has in force cannot be read back: {exc}")
    return result


def main():
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "content": {"type": "str", "required": True},
            "mode": {"type": "raw", "default": "0644"},
            "owner": {"type": "str"},
            "group": {"type": "str"},
            "service": {"type": "str", "default": "nginx"},
            "upstreams": {"type": "list", "elements": "str", "default": []},
            "split": {
                "type": "dict",
                "options": {"variable": {"type": "str", "required": True}, "value": {"type": "str", "required": True}},
            },
        },
        supports_check_mode=True,
    )
    path = module.params["path"]
    nginx = module.get_bin_path("nginx", required=True)
    if not os.path.isdir(os.path.dirname(path)):
        module.fail_json(msg=f"the directory of {path} does not exist")
    new = to_bytes(module.params["content"], errors="surrogate_or_strict")
    previous = read_bytes(path)
    rewrite = previous != new
    if rewrite and not module.check_mode:
        change(module, path, new, previous, nginx)
    # A new file gets its attributes as it is written; in check mode an existing one's are only compared.
    retouched = not rewrite and module.set_fs_attributes_if_different(
        module.load_file_common_arguments(module.params), False, expand=False
    )
    result = {"changed": rewrite or retouched, "reloaded": rewrite and not module.check_mode}
    if module._diff and rewrite:
        result["diff"] = {
            "before_header": path,
            "after_header": path,
            "before": to_text(previous or b""),
            "after": to_text(new),
        }
    result.update(read_back(module, nginx))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
