"""Fixtures for the demo service: a built release, and instances of it on 127.0.0.1."""

import contextlib
import os

import pytest
from demo_service_helpers import Instance, build_release, extract


@pytest.fixture(scope="session")
def release(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    result = build_release("9.8.7", out)
    assert result.returncode == 0, result.stderr
    return extract(out / "hyperbun-demo-9.8.7.tar.gz", tmp_path_factory.mktemp("releases"))


@pytest.fixture
def service(release, tmp_path):
    """Start the release's bin/hyperbun-demo on an ephemeral 127.0.0.1 port; stop it after the test."""
    instances = []

    def start(faults=None, release_dir=None, **env_overrides):
        log_dir = tmp_path / f"logs-{len(instances)}"
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PORT": "0",
            "HYPERBUN_BIND": "127.0.0.1",
            "HYPERBUN_LOG_DIR": str(log_dir),
            "HYPERBUN_INSTANCE": "canary",
            "HYPERBUN_MEMORY_LIMIT_BYTES": str(1024 * 1024 * 1024),
            "NODE_ENV": "production",
            "LOG_LEVEL": "INFO",
        }
        if faults is not None:
            env["HYPERBUN_FAULTS"] = faults
        env.update(env_overrides)
        instance = Instance(release_dir or release, log_dir, env)
        instances.append(instance)
        return instance.start()

    yield start
    for instance in instances:
        with contextlib.suppress(Exception):
            instance.stop()
