#!/usr/bin/python
# Copyright: Hyper-Bun Operations Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: alb_weights
short_description: Weights of the production and canary target groups in an AWS ALB listener rule's forward action
version_added: 0.1.0
description:
  - Sets the weights of two target groups, production and canary, in the forward action of one rule of an
    Application Load Balancer listener (or of the listener's default action), keeping the rule's other
    actions, its conditions and the forward action's stickiness as they are. Reads the weights back through
    the API after every change and fails when they are not the ones it set.
  - Optionally registers the canary's targets in the canary target group first.
  - Refuses, with a message naming the ARN and the API call and before changing anything, a listener or rule
    that does not exist, a rule of another listener, a target group that does not exist, a rule without a
    forward action or one that also forwards to a third target group with a weight, and an answer of the API
    that denies access. Throttling is retried with a jittered exponential backoff, then reported the same way.
  - A third target group at weight 0 in the forward action is kept there, at weight 0; only the production and
    canary groups' weights change.
  - Written because M(amazon.aws.elb_application_lb) manages a whole load balancer (its subnets, security
    groups and every listener and rule, found by the load balancer's name), so that changing one rule's
    weights means restating all of it; it has no diff mode either. M(community.aws.elb_target) registers
    targets without check mode.
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
  listener_arn:
    description: ARN of the ALB listener.
    type: str
    required: true
  rule_arn:
    description: ARN of the listener's rule whose forward action carries the weights, or V(default) for the
      listener's default action.
    type: str
    default: default
  production_target_group_arn:
    description: ARN of the production target group.
    type: str
    required: true
  canary_target_group_arn:
    description: ARN of the canary target group.
    type: str
    required: true
  production_weight:
    description:
      - Weight of the production target group, 0 to 999. Required unless O(drain=true).
    type: int
  canary_weight:
    description:
      - Weight of the canary target group, 0 to 999. Required unless O(drain=true).
    type: int
  drain:
    description:
      - Give the canary target group weight 0 now and keep the production group's weight (1 when it was 0
        or absent). O(production_weight), O(canary_weight) and O(canary_targets) are then ignored.
    type: bool
    default: false
  canary_targets:
    description: Targets to register in the canary target group before the weights change (none by default).
    type: list
    elements: dict
    default: []
    suboptions:
      id:
        description: The target's ID (an instance ID or an IP address, as the target group's type says).
        type: str
        required: true
      port:
        description: The target's port; the target group's port when omitted.
        type: int
      availability_zone:
        description: The target's Availability Zone (C(all) for an IP address outside the VPC).
        type: str
  api_retries:
    description: How many times a throttled call is retried before the module gives up.
    type: int
    default: 8
  api_retry_delay:
    description: Seconds before the first retry of a throttled call; each retry doubles it (at most 30 s), with jitter.
    type: float
    default: 1.0
notes:
  - Credentials come from the usual AWS environment variables, shared credentials and config files (O(profile)), or
    an instance or task role; the module never returns them.
  - Needs boto3 and botocore on the host that runs it (the controller, for the traffic role's ALB driver).
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Give the canary target group 5 % of a rule's traffic
  hyperbun.canary.alb_weights:
    listener_arn: arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/web/50dc6c49/f2f7dc8e
    rule_arn: arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener-rule/app/web/50dc6c49/f2f7dc8e/9683b2d0
    production_target_group_arn: arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/production/73e2d6bc
    canary_target_group_arn: arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/canary/2453ed02
    production_weight: 19
    canary_weight: 1
    canary_targets:
      - {id: 10.0.1.15, port: 3001}
    region: eu-west-1
  delegate_to: localhost

- name: Send the canary no traffic now (the listener's default action)
  hyperbun.canary.alb_weights:
    listener_arn: arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/web/50dc6c49/f2f7dc8e
    production_target_group_arn: arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/production/73e2d6bc
    canary_target_group_arn: arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/canary/2453ed02
    drain: true
  delegate_to: localhost
"""

RETURN = r"""
weights:
  description: The weights in force after the module ran, read back through the API (the ones found, in check mode).
  returned: success
  type: dict
  contains:
    production:
      description: Weight of the production target group (0 when it is not in the forward action).
      type: int
    canary:
      description: Weight of the canary target group (0 when it is not in the forward action).
      type: int
  sample: {"production": 19, "canary": 1}
previous_weights:
  description: The weights found before the change.
  returned: success
  type: dict
  sample: {"production": 1, "canary": 0}
registered_targets:
  description: The canary targets that were registered (that would be, in check mode), as C(id:port).
  returned: success
  type: list
  elements: str
  sample: ["10.0.1.15:3001"]
rule_arn:
  description: The rule whose forward action carries the weights, V(default) for the listener's default action.
  returned: success
  type: str
listener_arn:
  description: The listener.
  returned: success
  type: str
"""

import copy

try:
    import botocore
except ImportError:
    pass  # AnsibleAWSModule reports a missing botocore

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

MAX_WEIGHT = 999
THROTTLING = ("Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException")
ACCESS_DENIED = ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthFailure",
                 "InvalidClientTokenId", "UnrecognizedClientException", "SignatureDoesNotMatch",
                 "ExpiredToken", "ExpiredTokenException")
NOT_FOUND = {
    "ListenerNotFound": "the listener",
    "RuleNotFound": "the rule",
    "TargetGroupNotFound": "the target group",
    "LoadBalancerNotFound": "the load balancer of",
}


class AlbWeights:
    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.changes_sent = []
        self.default = self.params["rule_arn"] == "default"
        # AWSRetry counts attempts: the first call and its retries.
        retry = AWSRetry.jittered_backoff(retries=self.params["api_retries"] + 1, delay=self.params["api_retry_delay"],
                                          max_delay=30)
        # One retry loop, this one: botocore's own retries would multiply the attempts and hide their count.
        self.client = module.client("elbv2", retry_decorator=retry, config={"retries": {"total_max_attempts": 1}})

    def fail(self, msg, **kwargs):
        if self.changes_sent:
            msg += "; already changed: " + ", ".join(self.changes_sent)
        else:
            msg += "; nothing was changed"
        self.module.fail_json(msg=msg, **kwargs)

    def call(self, operation, arn, what=None, **kwargs):
        """One API call through the retrying client; any error ends the module with a message naming it."""
        try:
            return getattr(self.client, _snake(operation))(aws_retry=True, **kwargs)
        except botocore.exceptions.ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            message = error.response.get("Error", {}).get("Message", "")
            if code in NOT_FOUND:
                self.fail(f"{what or NOT_FOUND[code]} {arn} does not exist ({operation}: {code}: {message})",
                          api_call=operation, error_code=code)
            if code in THROTTLING:
                self.fail(f"AWS throttled {operation} on {arn} and went on throttling it through"
                          f" {self.params['api_retries']} retries with backoff ({code}: {message})",
                          api_call=operation, error_code=code)
            if code in ACCESS_DENIED:
                self.fail(f"access denied to {operation} on {arn}: the credentials in use may not call"
                          f" elasticloadbalancing:{operation} on it ({code}: {message})", api_call=operation,
                          error_code=code)
            self.fail(f"{operation} on {arn} failed ({code}: {message})", api_call=operation, error_code=code)
        except botocore.exceptions.BotoCoreError as error:
            # No credentials, no region, an endpoint that does not answer: botocore's sentence says which.
            self.fail(f"{operation} on {arn} failed: {error}", api_call=operation)

    # Reading

    def actions(self):
        """The actions that carry the weights: the rule's, or the listener's default actions."""
        listener_arn, rule_arn = self.params["listener_arn"], self.params["rule_arn"]
        listeners = self.call("DescribeListeners", listener_arn, ListenerArns=[listener_arn])["Listeners"]
        if not listeners:
            self.fail(f"the listener {listener_arn} does not exist (DescribeListeners)", api_call="DescribeListeners")
        if rule_arn == "default":
            return listeners[0].get("DefaultActions", [])
        rules = self.call("DescribeRules", rule_arn, RuleArns=[rule_arn])["Rules"]
        if not rules:
            self.fail(f"the rule {rule_arn} does not exist (DescribeRules)", api_call="DescribeRules")
        if rules[0].get("IsDefault"):
            # The default rule's actions are the listener's default actions, changed through ModifyListener.
            self.default = True
            return listeners[0].get("DefaultActions", [])
        return rules[0].get("Actions", [])

    def check_target_groups(self):
        for role in ("production", "canary"):
            arn = self.params[f"{role}_target_group_arn"]
            groups = self.call("DescribeTargetGroups", arn, what=f"the {role} target group",
                               TargetGroupArns=[arn])["TargetGroups"]
            if not groups:
                self.fail(f"the {role} target group {arn} does not exist (DescribeTargetGroups)",
                          api_call="DescribeTargetGroups")

    def where(self):
        rule_arn = self.params["rule_arn"]
        if self.default:
            return f"the default action of listener {self.params['listener_arn']}"
        return f"rule {rule_arn}"

    def forward_action(self, actions):
        forwards = [index for index, action in enumerate(actions) if action.get("Type") == "forward"]
        if len(forwards) != 1:
            kinds = ", ".join(action.get("Type", "?") for action in actions) or "none"
            self.fail(f"{self.where()} has no forward action to weigh (its actions: {kinds})")
        return forwards[0]

    def weights_of(self, action):
        """{target group ARN: weight} of a forward action."""
        groups = action.get("ForwardConfig", {}).get("TargetGroups", [])
        if groups:
            return {group["TargetGroupArn"]: int(group.get("Weight", 1)) for group in groups}
        if action.get("TargetGroupArn"):
            return {action["TargetGroupArn"]: 1}
        return {}

    def ours(self, by_arn):
        return {"production": by_arn.get(self.params["production_target_group_arn"], 0),
                "canary": by_arn.get(self.params["canary_target_group_arn"], 0)}

    # Changing

    def new_actions(self, actions, index, production, canary, others):
        """The actions with the forward action's weights set; `others`, target groups at weight 0, stay at 0."""
        actions = copy.deepcopy(actions)
        action = actions[index]
        forward = action.get("ForwardConfig", {})
        new_forward = {"TargetGroups": [
            {"TargetGroupArn": self.params["production_target_group_arn"], "Weight": production},
            {"TargetGroupArn": self.params["canary_target_group_arn"], "Weight": canary},
        ] + [{"TargetGroupArn": arn, "Weight": 0} for arn in others]}
        if "TargetGroupStickinessConfig" in forward:
            new_forward["TargetGroupStickinessConfig"] = forward["TargetGroupStickinessConfig"]
        action.pop("TargetGroupArn", None)
        action["ForwardConfig"] = new_forward
        for other in actions:
            # The API does not return an OIDC client secret; sending the action back keeps the one it has.
            oidc = other.get("AuthenticateOidcConfig")
            if oidc is not None and "ClientSecret" not in oidc:
                oidc["UseExistingClientSecret"] = True
        return actions

    def write(self, actions):
        if self.default:
            self.call("ModifyListener", self.params["listener_arn"], ListenerArn=self.params["listener_arn"],
                      DefaultActions=actions)
        else:
            self.call("ModifyRule", self.params["rule_arn"], RuleArn=self.params["rule_arn"], Actions=actions)

    def missing_targets(self):
        wanted = self.params["canary_targets"]
        if not wanted:
            return []
        arn = self.params["canary_target_group_arn"]
        found = self.call("DescribeTargetHealth", arn, TargetGroupArn=arn)["TargetHealthDescriptions"]
        registered = {(item["Target"]["Id"], item["Target"].get("Port")) for item in found}
        registered_ids = {target_id for target_id, _port in registered}
        missing = []
        for target in wanted:
            key = (target["id"], target["port"])
            if (target["port"] is None and target["id"] not in registered_ids) or (
                    target["port"] is not None and key not in registered):
                missing.append(target)
        return missing

    def register(self, targets):
        arn = self.params["canary_target_group_arn"]
        entries = []
        for target in targets:
            entry = {"Id": target["id"]}
            if target["port"] is not None:
                entry["Port"] = target["port"]
            if target["availability_zone"]:
                entry["AvailabilityZone"] = target["availability_zone"]
            entries.append(entry)
        self.call("RegisterTargets", arn, TargetGroupArn=arn, Targets=entries)
        self.changes_sent.append(f"{len(entries)} target(s) registered in {arn}")

    def run(self):
        params = self.params
        actions = self.actions()
        self.check_target_groups()
        index = self.forward_action(actions)
        by_arn = self.weights_of(actions[index])
        ours = {params["production_target_group_arn"], params["canary_target_group_arn"]}
        weighted = {arn: weight for arn, weight in by_arn.items() if arn not in ours and weight > 0}
        if weighted:
            listed = ", ".join(f"{arn} (weight {weight})" for arn, weight in sorted(weighted.items()))
            self.fail(f"{self.where()} also forwards to target group(s) {listed}, neither production nor canary;"
                      " this module changes only those two groups' weights and will not shift the traffic of"
                      " another group")
        # Other groups at weight 0 are kept, at weight 0, in the actions written back.
        others = [arn for arn in by_arn if arn not in ours]
        before = self.ours(by_arn)
        if params["drain"]:
            wanted = {"production": before["production"] or 1, "canary": 0}
            targets = []
        else:
            wanted = {"production": params["production_weight"], "canary": params["canary_weight"]}
            targets = self.missing_targets()
        # Both groups listed with their weights, and other groups only at weight 0: the form this module writes.
        in_form = ours <= set(by_arn) and "ForwardConfig" in actions[index]
        weights_change = before != wanted or not in_form
        result = {"changed": bool(targets) or weights_change, "listener_arn": params["listener_arn"],
                  "rule_arn": params["rule_arn"], "previous_weights": before, "weights": before,
                  "registered_targets": [_target_name(target) for target in targets]}
        if self.module._diff:
            result["diff"] = {
                "before": {"weights": before},
                "after": {"weights": wanted},
                "before_header": self.where(),
                "after_header": self.where(),
            }
            if targets:
                result["diff"]["before"]["canary_targets_to_register"] = []
                result["diff"]["after"]["canary_targets_to_register"] = result["registered_targets"]
        if self.module.check_mode or not result["changed"]:
            if self.module.check_mode and result["changed"]:
                result["weights"] = wanted
                result["msg"] = f"would set {self.where()} to weights {wanted} (now {before})"
            self.module.exit_json(**result)
        if targets:
            self.register(targets)
        if weights_change:
            self.write(self.new_actions(actions, index, wanted["production"], wanted["canary"], others))
            self.changes_sent.append(f"weights {wanted} sent to {self.where()}")
        # Read back through the API what is in force now.
        after_actions = self.actions()
        after_by_arn = self.weights_of(after_actions[self.forward_action(after_actions)])
        after = self.ours(after_by_arn)
        if after != wanted:
            self.fail(f"{self.where()} holds the weights {after} after the change, not {wanted}", weights=after)
        after_others = {arn: weight for arn, weight in after_by_arn.items() if arn not in ours}
        if after_others != dict.fromkeys(others, 0):
            self.fail(f"{self.where()} holds the other target groups {after_others} after the change, not"
                      f" {dict.fromkeys(others, 0)}", weights=after)
        result["weights"] = after
        self.module.exit_json(**result)


def _snake(operation):
    return "".join("_" + char.lower() if char.isupper() else char for char in operation).lstrip("_")


def _target_name(target):
    return target["id"] if target["port"] is None else f"{target['id']}:{target['port']}"


def main():
    argument_spec = dict(
        listener_arn=dict(type="str", required=True),
        rule_arn=dict(type="str", default="default"),
        production_target_group_arn=dict(type="str", required=True),
        canary_target_group_arn=dict(type="str", required=True),
        production_weight=dict(type="int"),
        canary_weight=dict(type="int"),
        drain=dict(type="bool", default=False),
        canary_targets=dict(type="list", elements="dict", default=[], options=dict(
            id=dict(type="str", required=True),
            port=dict(type="int"),
            availability_zone=dict(type="str"),
        )),
        api_retries=dict(type="int", default=8),
        api_retry_delay=dict(type="float", default=1.0),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    problems = []
    if ":listener/app/" not in params["listener_arn"]:
        problems.append(f"listener_arn must be the ARN of an application load balancer's listener,"
                        f" got {params['listener_arn']!r}")
    if params["rule_arn"] != "default" and ":listener-rule/app/" not in params["rule_arn"]:
        problems.append(f"rule_arn must be default or the ARN of a listener rule, got {params['rule_arn']!r}")
    elif params["rule_arn"] != "default" and ":listener/app/" in params["listener_arn"]:
        # A rule's ARN is its listener's, as listener-rule, followed by the rule's own ID.
        rule_listener = params["rule_arn"].replace(":listener-rule/", ":listener/", 1).rsplit("/", 1)[0]
        if rule_listener != params["listener_arn"]:
            problems.append(f"the rule {params['rule_arn']} is not a rule of the listener {params['listener_arn']}"
                            f" (it belongs to the listener {rule_listener})")
    for role in ("production", "canary"):
        if ":targetgroup/" not in params[f"{role}_target_group_arn"]:
            problems.append(f"{role}_target_group_arn must be the ARN of a target group,"
                            f" got {params[role + '_target_group_arn']!r}")
    if params["production_target_group_arn"] == params["canary_target_group_arn"]:
        problems.append("production_target_group_arn and canary_target_group_arn must be two target groups")
    if not params["drain"]:
        weights = [params["production_weight"], params["canary_weight"]]
        if None in weights:
            problems.append("production_weight and canary_weight are required unless drain=true")
        elif not all(0 <= weight <= MAX_WEIGHT for weight in weights):
            problems.append(f"weights must be from 0 to {MAX_WEIGHT}, got {weights}")
        elif sum(weights) == 0:
            problems.append("production_weight and canary_weight cannot both be 0")
    if params["api_retries"] < 0 or params["api_retry_delay"] < 0:
        problems.append("api_retries and api_retry_delay cannot be negative")
    if problems:
        module.fail_json(msg="; ".join(problems) + "; nothing was changed")
    AlbWeights(module).run()


if __name__ == "__main__":
    main()
