"""Sticky canaries of the traffic role: the split (hyperbun.canary.sticky_split), the nginx upstream file and
the HAProxy rules rendered from the role's own templates by ansible-playbook, read back with the filters the
role's read-back uses (hyperbun.canary.nginx_split_share, nginx_upstream_weights), and the refusals of the
role. nginx and haproxy themselves check what the role writes before it is used (`nginx -t`, `haproxy -c`),
which the traffic Molecule scenario runs for real, sticky canaries included, under load."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.hyperbun.canary.plugins.filter.nginx_split_share import nginx_split_share
from ansible_collections.hyperbun.canary.plugins.filter.nginx_upstream_weights import nginx_upstream_weights
from ansible_collections.hyperbun.canary.plugins.filter.split_weights import split_weights
from ansible_collections.hyperbun.canary.plugins.filter.sticky_split import sticky_split
from hypothesis import given
from hypothesis import strategies as st

ROOT = pathlib.Path(__file__).resolve().parents[3]
TEMPLATES = ROOT / "roles" / "traffic" / "templates"
PRODUCTION = ["app1:3000", "app2:3000", "app3:3000"]
CANARY = ["app1:3001", "app2:3001"]


# The split


@pytest.mark.parametrize(
    ("share", "buckets"), [(0, 0), (5, 500), (25, 2500), (33.33, 3333), (0.01, 1), (99.99, 9999), (100, 10000)]
)
def test_the_share_is_the_lowest_buckets_of_10000(share, buckets):
    split = sticky_split(PRODUCTION, CANARY, share, lb_type="haproxy")
    assert split["buckets"] == buckets
    assert split["achieved"] == pytest.approx(share)
    assert split["exact"]
    assert split["sticky"] is True


def test_a_share_finer_than_a_bucket_is_rounded_and_reports_its_error():
    split = sticky_split(PRODUCTION, CANARY, 12.3449, lb_type="nginx")
    assert split["buckets"] == 1234
    assert split["error"] == pytest.approx(0.0049)
    assert not split["exact"]


@given(st.floats(min_value=0, max_value=100), st.floats(min_value=0, max_value=100))
def test_a_larger_share_keeps_every_bucket_of_a_smaller_one(first, second):
    low, high = sorted((first, second))
    assert sticky_split(PRODUCTION, CANARY, low, lb_type="nginx")["buckets"] <= sticky_split(
        PRODUCTION, CANARY, high, lb_type="nginx"
    )["buckets"]


def test_nginx_weights_take_the_canary_upstream_down_at_the_share_0_only():
    assert sticky_split(PRODUCTION, CANARY, 0, lb_type="nginx")["weights"] == {
        **dict.fromkeys(PRODUCTION, 1), **dict.fromkeys(CANARY, 0)}
    for share in (0.01, 5, 100):
        weights = sticky_split(PRODUCTION, CANARY, share, lb_type="nginx")["weights"]
        assert weights == dict.fromkeys(PRODUCTION + CANARY, 1)


@pytest.mark.parametrize("share", [0, 5, 100])
def test_haproxy_canary_servers_never_take_users_from_the_balance_algorithm(share):
    assert sticky_split(PRODUCTION, CANARY, share, lb_type="haproxy")["weights"] == {
        **dict.fromkeys(PRODUCTION, 1), **dict.fromkeys(CANARY, 0)}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((PRODUCTION, CANARY, 5, "alb"), "lb_type must be nginx or haproxy"),
        ((PRODUCTION, CANARY, 101, "nginx"), "from 0 to 100"),
        ((PRODUCTION, CANARY, -1, "nginx"), "from 0 to 100"),
        ((PRODUCTION, CANARY, True, "nginx"), "from 0 to 100"),
        ((PRODUCTION, CANARY, "five", "nginx"), "from 0 to 100"),
        ((PRODUCTION, [], 5, "nginx"), "at least one canary server"),
        (([], CANARY, 50, "nginx"), "at least one production server"),
        ((PRODUCTION, "app1:3001", 5, "nginx"), "list of host:port"),
    ],
)
def test_bad_input_is_refused(args, message):
    with pytest.raises(AnsibleFilterError, match=message):
        sticky_split(*args[:3], lb_type=args[3])


# nginx_split_share

SPLIT = """
# configuration file /etc/nginx/conf.d/hyperbun-upstream.conf:
# split_clients "$x" $hyperbun_upstream { 50% decoy; }
split_clients "${hyperbun_canary_key}" $hyperbun_upstream {
    12.5% hyperbun_canary;
    * hyperbun;
}
split_clients "$remote_addr" $other { 30% a; 20% "b"; * c; }
"""


@pytest.mark.parametrize(
    ("variable", "value", "share"),
    [("hyperbun_upstream", "hyperbun_canary", 12.5), ("$hyperbun_upstream", "hyperbun", 87.5),
     ("other", "a", 30.0), ("other", "b", 20.0), ("other", "c", 50.0), ("other", "nobody", 0.0)],
)
def test_split_share_reads_the_percentages_and_the_rest(variable, value, share):
    assert nginx_split_share(SPLIT, variable, value) == share


@pytest.mark.parametrize(
    ("config", "message"),
    [(SPLIT.replace("$hyperbun_upstream {", "$elsewhere {"), "no split_clients block sets"),
     (SPLIT + SPLIT, "set by 2 split_clients blocks"),
     (SPLIT.replace("12.5%", "many%"), "bad percentage"),
     (None, "expected the text")],
)
def test_split_share_refuses_what_it_cannot_read(config, message):
    with pytest.raises(AnsibleFilterError, match=message):
        nginx_split_share(config, "hyperbun_upstream", "hyperbun_canary")


# The role's templates, rendered by ansible-playbook

RENDER = """\
- name: Render the traffic role's templates
  hosts: localhost
  gather_facts: false
  vars_files: [cases.json]
  tasks:
    - name: The nginx upstream file
      ansible.builtin.template:
        src: {templates}/nginx-upstream.conf.j2
        dest: "{{{{ out }}}}/nginx-{{{{ item.name }}}}.conf"
        mode: "0644"
      vars:
        traffic_upstream_name: hyperbun
        traffic_nginx_upstream_directives: [keepalive 16]
        traffic_sticky_cookie: "{{{{ item.cookie }}}}"
        traffic_production_servers: "{{{{ production }}}}"
        traffic_canary_servers: "{{{{ canary }}}}"
        _traffic_servers: "{{{{ production + canary }}}}"
        _traffic_nginx_canary_upstream: hyperbun_canary
        _traffic_nginx_sticky_variable: hyperbun_upstream
        _traffic_nginx_sticky_key: hyperbun_canary_key
        _traffic_split: >-
          {{{{ production | hyperbun.canary.sticky_split(canary, item.share, lb_type='nginx') if item.sticky
             else production | hyperbun.canary.split_weights(canary, item.share) }}}}
      loop: "{{{{ cases }}}}"

    - name: The HAProxy rules
      ansible.builtin.copy:
        content: "{{{{ lookup('ansible.builtin.template', '{templates}/haproxy-sticky.cfg.j2') }}}}"
        dest: "{{{{ out }}}}/haproxy-{{{{ item.name }}}}.cfg"
        mode: "0644"
      vars:
        traffic_upstream_name: hyperbun
        traffic_sticky_cookie: "{{{{ item.cookie }}}}"
        traffic_canary_servers: "{{{{ canary }}}}"
        traffic_haproxy_sticky_map: /etc/haproxy/hyperbun-canary.map
        _traffic_haproxy_sticky_names:
          names: "{{{{ {{'app1:3001': 'app1-canary', 'app2:3001': 'app2-canary'}} }}}}"
      loop: "{{{{ cases | selectattr('sticky') }}}}"
"""

CASES = [
    {"name": "weighted", "sticky": False, "share": 5, "cookie": ""},
    {"name": "s0", "sticky": True, "share": 0, "cookie": "hyperbun_user"},
    {"name": "s5", "sticky": True, "share": 5, "cookie": "hyperbun_user"},
    {"name": "s33", "sticky": True, "share": 33.33, "cookie": ""},
    {"name": "s100", "sticky": True, "share": 100, "cookie": "hyperbun_user"},
]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    out = tmp_path_factory.mktemp("rendered")
    (out / "render.yml").write_text(RENDER.format(templates=TEMPLATES))
    (out / "cases.json").write_text(json.dumps({"cases": CASES, "out": str(out), "production": PRODUCTION,
                                                "canary": CANARY}))
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    playbook = pathlib.Path(sys.executable).parent / "ansible-playbook"
    done = subprocess.run([str(playbook), "-i", "localhost,", "-c", "local", "-e",
                           f"ansible_python_interpreter={sys.executable}", str(out / "render.yml")], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return out


def test_the_weighted_split_renders_as_before_sticky_canaries_existed(rendered):
    text = (rendered / "nginx-weighted.conf").read_text()
    assert "split_clients" not in text and "map " not in text and "hyperbun_canary" not in text
    assert nginx_upstream_weights(text, "hyperbun") == split_weights(PRODUCTION, CANARY, 5)["weights"]


@pytest.mark.parametrize("case", [c for c in CASES if c["sticky"]], ids=lambda c: c["name"])
def test_the_sticky_upstream_file_reads_back_as_the_split(rendered, case):
    text = (rendered / f"nginx-{case['name']}.conf").read_text()
    split = sticky_split(PRODUCTION, CANARY, case["share"], lb_type="nginx")
    assert nginx_split_share(text, "hyperbun_upstream", "hyperbun_canary") == pytest.approx(split["achieved"])
    assert nginx_split_share(text, "hyperbun_upstream", "hyperbun") == pytest.approx(100 - split["achieved"])
    weights = nginx_upstream_weights(text, "hyperbun") | nginx_upstream_weights(text, "hyperbun_canary")
    assert weights == split["weights"]
    assert list(nginx_upstream_weights(text, "hyperbun")) == PRODUCTION
    assert "keepalive 16;" in text


def test_the_key_is_the_cookie_or_the_address(rendered):
    with_cookie = (rendered / "nginx-s5.conf").read_text()
    assert "map $cookie_hyperbun_user $hyperbun_canary_key" in with_cookie
    assert '"" $remote_addr;' in with_cookie
    assert 'split_clients "${hyperbun_canary_key}" $hyperbun_upstream' in with_cookie
    without = (rendered / "nginx-s33.conf").read_text()
    assert "$cookie_" not in without
    assert 'split_clients "${remote_addr}" $hyperbun_upstream' in without


def test_haproxy_rules_send_the_lowest_buckets_to_each_canary_server(rendered):
    lines = [line.strip() for line in (rendered / "haproxy-s5.cfg").read_text().splitlines()]
    assert "http-request set-var(txn.hyperbun_canary_bucket) src,xxh32,mod(10000)" in lines
    assert ("http-request set-var(txn.hyperbun_canary_bucket) req.cook(hyperbun_user),xxh32,mod(10000)"
            " if { req.cook(hyperbun_user) -m len gt 0 }") in lines
    assert ("http-request set-var(txn.hyperbun_canary_share) str(hyperbun),"
            "map_str_int(/etc/haproxy/hyperbun-canary.map,0)") in lines
    assert "acl hyperbun_canary_user var(txn.hyperbun_canary_bucket),sub(txn.hyperbun_canary_share) lt 0" in lines
    use = [line for line in lines if line.startswith("use-server")]
    # Each canary server takes its part of the canary's users, and any of them the rest when one is down.
    assert use == [
        "use-server app1-canary if hyperbun_canary_user { var(txn.hyperbun_canary_bucket),mod(2) eq 0 }",
        "use-server app2-canary if hyperbun_canary_user { var(txn.hyperbun_canary_bucket),mod(2) eq 1 }",
        "use-server app1-canary if hyperbun_canary_user",
        "use-server app2-canary if hyperbun_canary_user",
    ]
    assert not any("req.cook" in line for line in (rendered / "haproxy-s33.cfg").read_text().splitlines())


# The role refuses what it cannot do, before anything changes

PLAYBOOK = """\
- name: Apply the traffic role
  hosts: lb
  gather_facts: false
  roles:
    - role: hyperbun.canary.traffic
"""


@pytest.mark.parametrize(
    ("settings", "message"),
    [({"traffic_lb_type": "alb"}, "traffic_sticky is implemented for nginx and haproxy (got alb"),
     ({"traffic_sticky_cookie": "user-id"}, 'traffic_sticky_cookie (got "user-id")'),
     ({"traffic_upstream_name": "hyper-bun"}, 'traffic_upstream_name (got "hyper-bun")')],
)
def test_the_role_refuses_sticky_settings_it_cannot_render(tmp_path, settings, message):
    (tmp_path / "traffic.yml").write_text(PLAYBOOK)
    # The host is never contacted: the role refuses before its first task on it.
    (tmp_path / "hosts.ini").write_text("[lb]\nlb1 ansible_host=192.0.2.10 ansible_connection=ssh\n")
    settings = dict({"traffic_sticky": True, "traffic_production_servers": ["app1:3000"],
                     "traffic_canary_servers": ["app1:3001"]}, **settings)
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    playbook = pathlib.Path(sys.executable).parent / "ansible-playbook"
    done = subprocess.run([str(playbook), "-i", str(tmp_path / "hosts.ini"), str(tmp_path / "traffic.yml"),
                           "-e", json.dumps(settings)], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    assert message in output, output
    assert "UNREACHABLE" not in output, output
