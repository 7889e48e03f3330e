from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.hyperbun.canary.plugins.filter.nginx_upstream_weights import nginx_upstream_weights
from hypothesis import given
from hypothesis import strategies as st

NGINX_T = """\
nginx: the configuration file /etc/nginx/nginx.conf syntax is ok
# configuration file /etc/nginx/nginx.conf:
http {
    include /etc/nginx/conf.d/*.conf;
}

# configuration file /etc/nginx/conf.d/hyperbun-upstream.conf:
# Managed by hyperbun.canary.traffic: upstream hyperbun { server decoy:1; }
upstream hyperbun {
    zone hyperbun 64k;
    server app1:3000 weight=19 max_fails=0;
    server app2:3000 weight=19;
    server app3:3000;
    server app1:3001 weight=1 down;
}
upstream other { server x:1 weight=7; }
"""


def test_reads_weights_and_down_servers():
    assert nginx_upstream_weights(NGINX_T, "hyperbun") == {
        "app1:3000": 19,
        "app2:3000": 19,
        "app3:3000": 1,
        "app1:3001": 0,
    }
    assert nginx_upstream_weights(NGINX_T, "other") == {"x:1": 7}


def test_missing_upstream_is_reported():
    with pytest.raises(AnsibleFilterError, match="no upstream named 'absent'"):
        nginx_upstream_weights(NGINX_T, "absent")


def test_duplicate_upstream_is_reported():
    with pytest.raises(AnsibleFilterError, match="defined 2 times"):
        nginx_upstream_weights(NGINX_T + "upstream other { server y:2; }", "other")


servers = st.dictionaries(
    st.from_regex(r"[a-z][a-z0-9-]{0,10}:[1-9][0-9]{0,4}", fullmatch=True),
    st.integers(min_value=0, max_value=1000),
    min_size=1,
    max_size=8,
)


@given(servers=servers, spaces=st.sampled_from([" ", "  ", "\t", "\n    "]))
def test_round_trip_of_rendered_upstream(servers, spaces):
    lines = [
        f"server{spaces}{address}{spaces}weight={weight or 1}{' down' if weight == 0 else ''};"
        for address, weight in servers.items()
    ]
    config = "upstream hyperbun {\n" + "\n".join(lines) + "\n}\n"
    assert nginx_upstream_weights(config, "hyperbun") == servers
