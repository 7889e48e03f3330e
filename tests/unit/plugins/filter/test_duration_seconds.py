"""duration_seconds reads a window as the watch does, and names what it cannot read."""

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.hyperbun.canary.plugins.filter.duration_seconds import duration_seconds


@pytest.mark.parametrize(
    ("value", "seconds"),
    [(90, 90.0), (2.5, 2.5), ("90", 90.0), ("90s", 90.0), ("5m", 300.0), ("24h", 86400.0), ("1h30m", 5400.0),
     ("2d", 172800.0)],
)
def test_durations_the_watch_reads(value, seconds):
    assert duration_seconds(value) == seconds


@pytest.mark.parametrize("value", ["", "soon", "-5", -5, float("inf"), "5 weeks", True])
def test_anything_else_is_named(value):
    with pytest.raises(AnsibleFilterError, match="duration_seconds: the duration must be"):
        duration_seconds(value)
