from __future__ import annotations

from ansible_collections.hyperbun.canary.plugins.module_utils._haproxy_config import server_weights, set_server_weights
from hypothesis import given
from hypothesis import strategies as st

CONFIG = """\
global
    daemon
frontend web
    bind :80
    default_backend hyperbun
backend hyperbun
    balance roundrobin
    server a app1:3000 check weight 100
    server b app2:3000 check
    server c app3:3000 weight 7 check # keep this comment
listen hyperbun-copy
    server a app1:3000 weight 3
"""


def test_reads_weights_with_default_one():
    assert server_weights(CONFIG, "hyperbun") == {"a": 100, "b": 1, "c": 7}
    assert server_weights(CONFIG, "hyperbun-copy") == {"a": 3}


def test_sets_only_the_named_servers_of_the_backend():
    text = set_server_weights(CONFIG, "hyperbun", {"a": 0, "b": 19})
    assert server_weights(text, "hyperbun") == {"a": 0, "b": 19, "c": 7}
    assert server_weights(text, "hyperbun-copy") == {"a": 3}
    assert "    server c app3:3000 weight 7 check # keep this comment\n" in text
    assert "    server b app2:3000 check weight 19\n" in text


@given(
    weights=st.fixed_dictionaries({}, optional={name: st.integers(0, 256) for name in "abc"}),
)
def test_round_trip_and_nothing_else_changes(weights):
    text = set_server_weights(CONFIG, "hyperbun", weights)
    assert server_weights(text, "hyperbun") == {**{"a": 100, "b": 1, "c": 7}, **weights}
    untouched = [line for line in CONFIG.splitlines() if not line.strip().startswith("server")]
    assert [line for line in text.splitlines() if not line.strip().startswith("server")] == untouched
    assert set_server_weights(text, "hyperbun", weights) == text
