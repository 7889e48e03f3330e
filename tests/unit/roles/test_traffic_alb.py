# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The traffic role's AWS ALB driver, run for real by ansible-playbook against moto's server on 127.0.0.1.

Each test builds a VPC, two subnets, an application load balancer, a production and a canary target
group and a listener whose rule forwards to production, with boto3; then runs the traffic role
(traffic_lb_type: alb) and reads the rule's weights back with boto3 after every run. Throttling and
access denied, which moto does not answer, come from a small proxy on 127.0.0.1 in front of it that
answers one API call with AWS's error document and forwards every other one.

The moves 0 -> 5 -> 25 -> 0, check mode and the refusals of an unknown listener, rule or target group
are the traffic scenario's (molecule/traffic/alb.yml, the same table as nginx and HAProxy); these are
the cases it does not run.
"""

from __future__ import annotations

import http.client
import http.server
import json
import logging
import os
import pathlib
import re
import subprocess
import sys
import threading
import urllib.parse

import pytest
from ansible_collections.hyperbun.canary.tests.tools import alb_moto
from moto.server import ThreadedMotoServer

ROOT = pathlib.Path(__file__).resolve().parents[3]
REGION = alb_moto.REGION
ACCESS_KEY = "AKIAHYPERBUNTESTKEY0"
# Never printed by a run, whatever its verbosity (checked on every run).
SECRET_KEY = "hyperbun-test-secret-0f8e6c2d"
PLAYBOOK = """
- hosts: lb
  gather_facts: false
  roles:
    - role: hyperbun.canary.traffic
"""


@pytest.fixture(scope="module", name="moto_url")
def fixture_moto_url():
    # moto's server logs every request; its answers are what the tests look at.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


class FaultProxy:
    """Forwards the AWS query API to moto, except the calls named in `faults`, which it answers with
    AWS's error document (each such answer counted in `answered`)."""

    def __init__(self, upstream):
        self.upstream = urllib.parse.urlsplit(upstream)
        self.faults = {}
        self.answered = {}
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                action = urllib.parse.parse_qs(body.decode()).get("Action", [""])[0]
                if action in proxy.faults:
                    status, code, message = proxy.faults[action]
                    proxy.answered[action] = proxy.answered.get(action, 0) + 1
                    payload = (
                        '<ErrorResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/">'
                        f"<Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>"
                        "<RequestId>00000000-0000-4000-8000-000000000000</RequestId></ErrorResponse>"
                    ).encode()
                    self.send_response(status)
                    self.send_header("Content-Type", "text/xml")
                else:
                    connection = http.client.HTTPConnection(proxy.upstream.hostname, proxy.upstream.port, timeout=30)
                    headers = {name: value for name, value in self.headers.items() if name.lower() != "host"}
                    connection.request("POST", self.path, body=body, headers=headers)
                    answer = connection.getresponse()
                    payload = answer.read()
                    self.send_response(answer.status)
                    self.send_header("Content-Type", answer.getheader("Content-Type", "text/xml"))
                    connection.close()
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(name="proxy")
def fixture_proxy(moto_url):
    instance = FaultProxy(moto_url)
    yield instance
    instance.close()


class Alb(alb_moto.Alb):
    """One load balancer in moto, with the test's credentials, and the traffic role's settings for it."""

    def __init__(self, endpoint, name):
        super().__init__(endpoint, name, aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY)

    def settings(self, **extra):
        return dict({"traffic_lb_type": "alb", "traffic_alb_listener_arn": self.listener,
                     "traffic_alb_rule_arn": self.rule, "traffic_alb_production_target_group_arn": self.production,
                     "traffic_alb_canary_target_group_arn": self.canary, "traffic_alb_region": REGION}, **extra)


_names = iter(range(1, 1000))


@pytest.fixture(name="alb")
def fixture_alb(moto_url):
    return Alb(moto_url, f"hb{os.getpid()}-{next(_names)}")


class Run:
    def __init__(self, done):
        self.rc = done.returncode
        self.output = done.stdout + done.stderr
        recap = re.search(r"^lb1\s*:\s*ok=(\d+)\s+changed=(\d+)", self.output, re.MULTILINE)
        self.changed = int(recap.group(2)) if recap else None

    def __repr__(self):
        return f"rc={self.rc} changed={self.changed}\n{self.output}"


def run_role(tmp_path, endpoint, settings, *options):
    """ansible-playbook with the traffic role on one load-balancer host, the AWS API at `endpoint`."""
    playbook = tmp_path / "traffic.yml"
    playbook.write_text(PLAYBOOK)
    inventory = tmp_path / "hosts.ini"
    # The load balancer host is never contacted: the ALB driver runs on the controller.
    inventory.write_text("[lb]\nlb1 ansible_host=192.0.2.10 ansible_connection=ssh\n")
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    env.update(ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
               ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default", ANSIBLE_CALLBACK_RESULT_FORMAT="yaml",
               AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY, AWS_ENDPOINT_URL=endpoint,
               AWS_CONFIG_FILE=str(tmp_path / "no-aws-config"),
               AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-aws-credentials"),
               # Nothing asks an instance metadata service for credentials or a region.
               AWS_EC2_METADATA_DISABLED="true")
    # Retries quick enough for a test; the role's defaults are 8 retries from 1 s on.
    settings = dict({"traffic_alb_api_retries": 2, "traffic_alb_api_retry_delay": 0.05}, **settings)
    playbook_command = pathlib.Path(sys.executable).parent / "ansible-playbook"
    done = subprocess.run([str(playbook_command), "-i", str(inventory), str(playbook), "-e", json.dumps(settings),
                           *options], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    run = Run(done)
    assert "Traceback" not in run.output, run
    assert SECRET_KEY not in run.output, "the secret key was printed"
    return run


EXPECTED = {0: {"production": 1, "canary": 0}, 5: {"production": 19, "canary": 1}, 25: {"production": 3, "canary": 1}}


def test_check_mode_changes_nothing_and_a_drain_puts_the_canary_at_0(tmp_path, moto_url, alb):
    run = run_role(tmp_path, moto_url, alb.settings(traffic_percentage=25))
    assert run.rc == 0 and run.changed == 1, run
    assert alb.weights() == EXPECTED[25]

    # Check mode and diff: reports the change, changes nothing.
    run = run_role(tmp_path, moto_url, alb.settings(traffic_percentage=50), "--check", "--diff")
    assert run.rc == 0 and run.changed == 1, run
    assert alb.weights() == EXPECTED[25]
    assert f"--- before: rule {alb.rule}" in run.output, run
    assert re.search(r'^-\s+"?production"?: 3$', run.output, re.MULTILINE), run
    assert re.search(r'^\+\s+"?production"?: 1$', run.output, re.MULTILINE), run

    # The drain verb (the rollback's): the canary at 0 now, production keeps its weight.
    run = run_role(tmp_path, moto_url, alb.settings(traffic_action="drain", traffic_percentage=25))
    assert run.rc == 0 and run.changed == 1, run
    assert alb.weights() == {"production": 3, "canary": 0}
    run = run_role(tmp_path, moto_url, alb.settings(traffic_action="drain"))
    assert run.rc == 0 and run.changed == 0, run


def test_the_listener_default_action_carries_the_share(tmp_path, moto_url, alb):
    alb.elbv2.modify_listener(ListenerArn=alb.listener,
                              DefaultActions=[{"Type": "forward", "TargetGroupArn": alb.production}])
    run = run_role(tmp_path, moto_url, alb.settings(traffic_percentage=5, traffic_alb_rule_arn="default"))
    assert run.rc == 0 and run.changed == 1, run
    assert alb.weights("default") == {"production": 19, "canary": 1}
    # The rule was not touched.
    assert alb.weights() == {"production": 1, "canary": 0}


def test_throttling_is_retried_with_backoff_then_refused_changing_nothing(tmp_path, proxy, alb):
    proxy.faults["ModifyRule"] = (400, "Throttling", "Rate exceeded")
    run = run_role(tmp_path, proxy.url, alb.settings(traffic_percentage=25))
    assert run.rc != 0, run
    assert f"AWS throttled ModifyRule on {alb.rule} and went on throttling it through 2 retries" in run.output, run
    assert "nothing was changed" in run.output
    # The first call and two retries.
    assert proxy.answered == {"ModifyRule": 3}
    assert alb.weights() == {"production": 1, "canary": 0}

    # Throttled twice, then answered: the change goes through.
    proxy.answered.clear()
    faults = proxy.faults

    class TwiceOnly(dict):
        def __contains__(self, action):
            return action == "ModifyRule" and proxy.answered.get("ModifyRule", 0) < 2

    proxy.faults = TwiceOnly(faults)
    run = run_role(tmp_path, proxy.url, alb.settings(traffic_percentage=25))
    assert run.rc == 0 and run.changed == 1, run
    assert proxy.answered == {"ModifyRule": 2}
    assert alb.weights() == {"production": 3, "canary": 1}


def test_access_denied_is_refused_naming_the_call_and_the_arn_changing_nothing(tmp_path, proxy, alb):
    proxy.faults["ModifyRule"] = (403, "AccessDenied",
                                  "User: arn:aws:iam::123456789012:user/ci is not authorized to perform:"
                                  " elasticloadbalancing:ModifyRule")
    # At -vvv too, no credential shows (run_role checks every run's output for the secret key).
    run = run_role(tmp_path, proxy.url, alb.settings(traffic_percentage=5), "-vvv")
    assert run.rc != 0, run
    assert f"access denied to ModifyRule on {alb.rule}" in run.output, run
    assert "nothing was changed" in run.output
    assert proxy.answered == {"ModifyRule": 1}
    assert alb.weights() == {"production": 1, "canary": 0}


def _actions(alb, rule=None):
    """A rule's actions as the API describes them."""
    return alb.elbv2.describe_rules(RuleArns=[rule or alb.rule])["Rules"][0]["Actions"]


def _third_group(alb):
    """A third target group in the load balancer's VPC, neither production nor canary."""
    vpc = alb.elbv2.describe_target_groups(TargetGroupArns=[alb.production])["TargetGroups"][0]["VpcId"]
    name = alb.elbv2.describe_load_balancers(LoadBalancerArns=[alb.lb])["LoadBalancers"][0]["LoadBalancerName"]
    return alb.elbv2.create_target_group(Name=f"{name}-third", Protocol="HTTP", Port=3000, VpcId=vpc,
                                         TargetType="ip")["TargetGroups"][0]["TargetGroupArn"]


def _forward_to(groups):
    return [{"Type": "forward", "ForwardConfig": {"TargetGroups": [
        {"TargetGroupArn": arn, "Weight": weight} for arn, weight in groups]}}]


def test_a_rule_of_another_listener_is_refused_changing_nothing(tmp_path, moto_url, alb):
    other_listener = alb.elbv2.create_listener(
        LoadBalancerArn=alb.lb, Protocol="HTTP", Port=8080,
        DefaultActions=[{"Type": "fixed-response",
                         "FixedResponseConfig": {"StatusCode": "404", "ContentType": "text/plain"}}],
    )["Listeners"][0]["ListenerArn"]
    other_rule = alb.elbv2.create_rule(
        ListenerArn=other_listener, Priority=10, Conditions=[{"Field": "path-pattern", "Values": ["/*"]}],
        Actions=[{"Type": "forward", "TargetGroupArn": alb.production}],
    )["Rules"][0]["RuleArn"]
    before = {rule: _actions(alb, rule) for rule in (alb.rule, other_rule)}
    run = run_role(tmp_path, moto_url, alb.settings(traffic_percentage=25, traffic_alb_rule_arn=other_rule))
    assert run.rc != 0, run
    assert (f"the rule {other_rule} is not a rule of the listener {alb.listener}"
            f" (it belongs to the listener {other_listener}); nothing was changed") in run.output, run
    assert {rule: _actions(alb, rule) for rule in (alb.rule, other_rule)} == before


NOT_FORWARDING = {
    "fixed-response": {"Type": "fixed-response",
                       "FixedResponseConfig": {"StatusCode": "503", "ContentType": "text/plain",
                                               "MessageBody": "maintenance"}},
    "redirect": {"Type": "redirect",
                 "RedirectConfig": {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"}},
}


@pytest.mark.parametrize("kind", sorted(NOT_FORWARDING))
def test_a_rule_without_a_forward_action_is_refused_changing_nothing(tmp_path, moto_url, alb, kind):
    alb.elbv2.modify_rule(RuleArn=alb.rule, Actions=[NOT_FORWARDING[kind]])
    before = _actions(alb)
    run = run_role(tmp_path, moto_url, alb.settings(traffic_percentage=25))
    assert run.rc != 0, run
    assert (f"rule {alb.rule} has no forward action to weigh (its actions: {kind}); nothing was changed"
            in run.output), run
    assert _actions(alb) == before


def test_a_third_target_group_with_a_weight_is_refused_changing_nothing(tmp_path, moto_url, alb):
    third = _third_group(alb)
    alb.elbv2.modify_rule(RuleArn=alb.rule, Actions=_forward_to([(alb.production, 3), (third, 1)]))
    before = _actions(alb)
    for settings in (alb.settings(traffic_percentage=25), alb.settings(traffic_action="drain")):
        run = run_role(tmp_path, moto_url, settings)
        assert run.rc != 0, run
        assert (f"rule {alb.rule} also forwards to target group(s) {third} (weight 1), neither production nor"
                " canary; this module changes only those two groups' weights and will not shift the traffic of"
                " another group; nothing was changed") in run.output, run
        assert _actions(alb) == before


def test_a_third_target_group_at_weight_0_is_kept_at_0(tmp_path, moto_url, alb):
    third = _third_group(alb)
    alb.elbv2.modify_rule(RuleArn=alb.rule, Actions=_forward_to([(alb.production, 1), (third, 0)]))

    def groups():
        forward = next(action for action in _actions(alb) if action["Type"] == "forward")
        return {group["TargetGroupArn"]: group["Weight"] for group in forward["ForwardConfig"]["TargetGroups"]}

    assert groups() == {alb.production: 1, third: 0}
    run = run_role(tmp_path, moto_url, alb.settings(traffic_percentage=25))
    assert run.rc == 0 and run.changed == 1, run
    assert groups() == {alb.production: 3, alb.canary: 1, third: 0}
    # The same share again changes nothing: the third group at 0 is the form the module writes.
    run = run_role(tmp_path, moto_url, alb.settings(traffic_percentage=25))
    assert run.rc == 0 and run.changed == 0, run
    run = run_role(tmp_path, moto_url, alb.settings(traffic_action="drain"))
    assert run.rc == 0 and run.changed == 1, run
    assert groups() == {alb.production: 3, alb.canary: 0, third: 0}
