"""An application load balancer in moto's server, as the ALB driver's tests need it.

`Alb(endpoint, name)` builds, through the AWS API at `endpoint` (moto on 127.0.0.1), a VPC with two
subnets, an internal application load balancer, a production and a canary target group (production's
with two targets), and an HTTP listener whose rule forwards everything to production; its `weights()`
reads the rule's forward action back through the API.

As a program, for the Molecule scenarios (credentials from the usual AWS environment variables):
    alb_moto.py build ENDPOINT NAME          prints the ARNs and the region as JSON
    alb_moto.py weights ENDPOINT ARNS_JSON   prints {"production": w, "canary": w} of the rule
    alb_moto.py state ENDPOINT ARNS_JSON     prints the listener's default actions and rules, and both groups' targets
"""

from __future__ import annotations

import json
import sys

import boto3

REGION = "eu-west-1"


class Alb:
    """One load balancer in moto, with the ARNs the traffic role needs."""

    def __init__(self, endpoint, name=None, arns=None, **credentials):
        kwargs = dict(endpoint_url=endpoint, region_name=REGION, **credentials)
        self.elbv2 = boto3.client("elbv2", **kwargs)
        if arns:
            self.lb, self.listener, self.rule = arns["lb"], arns["listener"], arns["rule"]
            self.production, self.canary = arns["production"], arns["canary"]
            return
        ec2 = boto3.client("ec2", **kwargs)
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{index}.0/24",
                                     AvailabilityZone=f"{REGION}{zone}")["Subnet"]["SubnetId"]
                   for index, zone in ((1, "a"), (2, "b"))]
        self.lb = self.elbv2.create_load_balancer(Name=name, Subnets=subnets, Type="application",
                                                  Scheme="internal")["LoadBalancers"][0]["LoadBalancerArn"]
        self.production, self.canary = (
            self.elbv2.create_target_group(Name=f"{name}-{role}", Protocol="HTTP", Port=3000, VpcId=vpc,
                                           TargetType="ip")["TargetGroups"][0]["TargetGroupArn"]
            for role in ("production", "canary"))
        self.elbv2.register_targets(TargetGroupArn=self.production,
                                    Targets=[{"Id": "10.0.1.10", "Port": 3000}, {"Id": "10.0.2.10", "Port": 3000}])
        self.listener = self.elbv2.create_listener(
            LoadBalancerArn=self.lb, Protocol="HTTP", Port=80,
            DefaultActions=[{"Type": "fixed-response",
                             "FixedResponseConfig": {"StatusCode": "404", "ContentType": "text/plain"}}],
        )["Listeners"][0]["ListenerArn"]
        # Before any canary: the rule forwards everything to production.
        self.rule = self.elbv2.create_rule(
            ListenerArn=self.listener, Priority=10, Conditions=[{"Field": "path-pattern", "Values": ["/*"]}],
            Actions=[{"Type": "forward", "TargetGroupArn": self.production}],
        )["Rules"][0]["RuleArn"]

    def arns(self):
        return {"lb": self.lb, "listener": self.listener, "rule": self.rule, "production": self.production,
                "canary": self.canary, "region": REGION}

    def weights(self, rule=None):
        """The rule's (or the listener's default action's) weights, read through the API: {production, canary}."""
        if rule == "default":
            actions = self.elbv2.describe_listeners(ListenerArns=[self.listener])["Listeners"][0]["DefaultActions"]
        else:
            actions = self.elbv2.describe_rules(RuleArns=[rule or self.rule])["Rules"][0]["Actions"]
        forward = next(action for action in actions if action["Type"] == "forward")
        groups = forward.get("ForwardConfig", {}).get("TargetGroups") or [
            {"TargetGroupArn": forward["TargetGroupArn"], "Weight": 1}]
        by_arn = {group["TargetGroupArn"]: group.get("Weight", 1) for group in groups}
        return {"production": by_arn.get(self.production, 0), "canary": by_arn.get(self.canary, 0)}

    def canary_targets(self):
        return self.targets(self.canary)

    def targets(self, group):
        found = self.elbv2.describe_target_health(TargetGroupArn=group)["TargetHealthDescriptions"]
        return sorted(f"{item['Target']['Id']}:{item['Target']['Port']}" for item in found)

    def state(self):
        """What the traffic role could change, as the API describes it: the listener's default actions, its rules,
        and the targets of both groups."""
        listener = self.elbv2.describe_listeners(ListenerArns=[self.listener])["Listeners"][0]
        rules = self.elbv2.describe_rules(ListenerArn=self.listener)["Rules"]
        return {"default_actions": listener["DefaultActions"],
                "rules": [{key: rule.get(key) for key in ("RuleArn", "Priority", "Conditions", "Actions")}
                          for rule in rules],
                "targets": {"production": self.targets(self.production), "canary": self.targets(self.canary)}}


def main(argv):
    if len(argv) == 3 and argv[0] == "build":
        print(json.dumps(Alb(argv[1], argv[2]).arns()))
    elif len(argv) == 3 and argv[0] == "weights":
        alb = Alb(argv[1], arns=json.loads(argv[2]))
        print(json.dumps(dict(alb.weights(), canary_targets=alb.canary_targets())))
    elif len(argv) == 3 and argv[0] == "state":
        print(json.dumps(Alb(argv[1], arns=json.loads(argv[2])).state()))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
