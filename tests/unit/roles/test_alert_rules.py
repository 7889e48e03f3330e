# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The alert rules and the criteria count the same things: the error rate's alert reads the series
the error_rate criterion reads (health checks are not requests of users in either)."""

from __future__ import annotations

import pathlib

import jinja2
import yaml
from ansible_collections.hyperbun.canary.plugins.module_utils._criteria import build_criteria

ROLES = pathlib.Path(__file__).resolve().parents[3] / "roles"
ROLE = ROLES / "alerts"


def rules():
    env = jinja2.Environment(autoescape=False)
    # The role's defaults may name the shared values of hyperbun.canary.common (canary_app).
    common = yaml.safe_load((ROLES / "common" / "defaults" / "main.yml").read_text())
    defaults = {
        name: env.from_string(value).render(**common) if isinstance(value, str) else value
        for name, value in yaml.safe_load((ROLE / "defaults" / "main.yml").read_text()).items()
    }
    template = env.from_string((ROLE / "templates" / "rules.yml.j2").read_text())
    rendered = yaml.safe_load(template.render(ansible_managed="managed", **defaults))
    return defaults, {rule["alert"]: rule for group in rendered["groups"] for rule in group["rules"]}


def in_alert(selector, alerts_selector):
    """How the rule writes a criterion's selector: the canary's matchers first, then the criterion's."""
    own = [f'{label}{operator}"{value}"' for label, operator, value, _compiled in selector.matchers]
    matchers = [alerts_selector, *own]
    return f"{selector.name}{{{','.join(matchers)}}}"


def test_the_error_rate_alert_reads_what_the_error_rate_criterion_reads():
    defaults, alerts = rules()
    error_rate = {c.name: c for c in build_criteria()}["error_rate"].measures
    expression = alerts["CanaryHighErrorRate"]["expr"]
    numerator, denominator = expression.split(" / ", 1)
    for selector in error_rate.numerator:
        assert in_alert(selector, defaults["alerts_selector"]) in numerator
    for selector in error_rate.denominator:
        assert in_alert(selector, defaults["alerts_selector"]) in denominator
    assert 'path!="/health"' in denominator


def test_the_rate_limit_alert_reads_what_the_rate_limit_criterion_reads():
    defaults, alerts = rules()
    rejections = {c.name: c for c in build_criteria()}["rate_limit_rejections"].measures
    expression = alerts["CanaryHighRateLimitRejections"]["expr"]
    for selector in rejections.numerator + rejections.denominator:
        assert in_alert(selector, defaults["alerts_selector"]) in expression
