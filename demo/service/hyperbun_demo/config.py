"""Configuration: the YAML file, the environment, and the checks that refuse a bad start."""

import os
from dataclasses import dataclass, field

try:
    import yaml
except ImportError:  # reported as a configuration error, so that a missing python3-yaml is one clear line
    yaml = None

from .faults import FaultError, parse_fault_spec, validate_fault_mapping

DEFAULT_MEMORY_LIMIT_BYTES = 512 * 1024 * 1024
LOG_LEVELS = ("DEBUG", "INFO", "WARN", "ERROR", "FATAL")

DEFAULTS = {
    "service": {"name": "hyperbun-demo"},
    "memory_limit_bytes": DEFAULT_MEMORY_LIMIT_BYTES,
    "rate_limit": {"requests_per_second": 5000.0, "burst": 10000.0},
    "circuit_breakers": {
        "names": ["database", "upstream_feed", "cache"],
        "failure_threshold": 5,
        "reset_timeout_seconds": 30.0,
    },
    "graph": {"nodes": 300, "edges_per_node": 3},
    "query": {"timeout_ms": 50.0},
    "faults": {},
}


class ConfigError(ValueError):
    """A configuration or environment the service refuses to start with."""


@dataclass
class ServiceConfig:
    service_name: str
    memory_limit_bytes: int
    rate_limit_rps: float
    rate_limit_burst: float
    breaker_names: list
    breaker_failure_threshold: int
    breaker_reset_timeout: float
    graph_nodes: int
    graph_edges_per_node: int
    query_timeout_ms: float
    faults: dict = field(default_factory=dict)


@dataclass
class Settings:
    release_dir: str
    version: str
    config_path: str
    config: ServiceConfig
    port: int
    metrics_port: int
    bind: str
    node_env: str
    canary_percentage: str
    log_level: str
    log_dir: str
    instance: str
    faults: dict
    memory_limit_bytes: int
    memory_limit_source: str


def _section(data, key, path):
    value = data.get(key, {})
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: {key} must be a mapping")
    unknown = sorted(set(value) - set(DEFAULTS[key]))
    if unknown:
        raise ConfigError("{}: unknown key(s) in {}: {}".format(path, key, ", ".join(map(str, unknown))))
    return value


def _positive(value, what, path, integer=False, allow_zero=False):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{path}: {what} must be a number, got {value!r}")
    if integer and not isinstance(value, int):
        raise ConfigError(f"{path}: {what} must be an integer, got {value!r}")
    if value < 0 or (value == 0 and not allow_zero):
        raise ConfigError("{}: {} must be {}, got {!r}".format(path, what, ">= 0" if allow_zero else "> 0", value))
    return value


def parse_config_text(text, path):
    """Validate configuration text; raise ConfigError naming the file and the problem."""
    if yaml is None:
        raise ConfigError(f"{path}: cannot read YAML: PyYAML is not installed (Debian: python3-yaml)")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path}: YAML parse error{where}: {problem}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping, got {type(data).__name__}")
    unknown = sorted(set(map(str, data)) - set(DEFAULTS))
    if unknown:
        raise ConfigError("{}: unknown key(s): {}".format(path, ", ".join(unknown)))

    service = _section(data, "service", path)
    rate = _section(data, "rate_limit", path)
    breakers = _section(data, "circuit_breakers", path)
    graph = _section(data, "graph", path)
    query = _section(data, "query", path)

    name = service.get("name", DEFAULTS["service"]["name"])
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{path}: service.name must be a non-empty string")
    names = breakers.get("names", DEFAULTS["circuit_breakers"]["names"])
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
        raise ConfigError(f"{path}: circuit_breakers.names must be a non-empty list of names")
    if len(set(names)) != len(names):
        raise ConfigError(f"{path}: circuit_breakers.names has duplicates")

    rps = _positive(rate.get("requests_per_second", 5000.0), "rate_limit.requests_per_second", path)
    burst = _positive(rate.get("burst", 10000.0), "rate_limit.burst", path)
    if burst < 1:
        raise ConfigError(f"{path}: rate_limit.burst must be >= 1, got {burst!r}")
    try:
        faults = validate_fault_mapping(data.get("faults"), names)
    except FaultError as exc:
        raise ConfigError(f"{path}: {exc}") from None

    return ServiceConfig(
        service_name=name,
        memory_limit_bytes=_positive(
            data.get("memory_limit_bytes", DEFAULT_MEMORY_LIMIT_BYTES), "memory_limit_bytes", path, integer=True
        ),
        rate_limit_rps=float(rps),
        rate_limit_burst=float(burst),
        breaker_names=list(names),
        breaker_failure_threshold=_positive(
            breakers.get("failure_threshold", 5), "circuit_breakers.failure_threshold", path, integer=True
        ),
        breaker_reset_timeout=float(
            _positive(breakers.get("reset_timeout_seconds", 30.0), "circuit_breakers.reset_timeout_seconds", path)
        ),
        graph_nodes=_positive(graph.get("nodes", 300), "graph.nodes", path, integer=True),
        graph_edges_per_node=_positive(
            graph.get("edges_per_node", 3), "graph.edges_per_node", path, integer=True, allow_zero=True
        ),
        query_timeout_ms=float(_positive(query.get("timeout_ms", 50.0), "query.timeout_ms", path, allow_zero=True)),
        faults=faults,
    )


def load_config(path):
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read configuration: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text: {exc.reason}") from None
    return parse_config_text(text, path)


def read_version(release_dir):
    try:
        with open(os.path.join(release_dir, "VERSION"), encoding="utf-8") as handle:
            version = handle.read().strip()
    except OSError:
        return "0.0.0-dev"
    return version or "0.0.0-dev"


def _port(env, name, default):
    raw = env.get(name, "")
    if raw.strip() == "":
        return default
    try:
        port = int(raw)
    except ValueError:
        raise ConfigError(f"environment {name}={raw!r}: not a port number") from None
    if not 0 <= port <= 65535:
        raise ConfigError(f"environment {name}={raw!r}: port out of range 0-65535")
    return port


def merge_faults(release_faults, env_spec, breaker_names):
    """Per-instance faults: unset/empty keeps the release's, 'none' clears them, else per-key override."""
    if env_spec is None or env_spec.strip() == "":
        return dict(release_faults)
    if env_spec.strip().lower() == "none":
        return {}
    try:
        override = parse_fault_spec(env_spec, breaker_names)
    except FaultError as exc:
        raise ConfigError(f"environment HYPERBUN_FAULTS={env_spec!r}: {exc}") from None
    merged = dict(release_faults)
    merged.update(override)
    return merged


def _cgroup_memory_limit(proc_cgroup="/proc/self/cgroup", root="/sys/fs/cgroup"):
    """The memory limit of this process's own cgroup (v1 memory controller or v2), or None."""
    try:
        with open(proc_cgroup, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return None
    candidates = []
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        controllers, cgroup_path = parts[1], parts[2]
        if "memory" in controllers.split(","):
            candidates.append(os.path.join(root, "memory", cgroup_path.lstrip("/"), "memory.limit_in_bytes"))
        elif controllers == "":
            candidates.append(os.path.join(root, cgroup_path.lstrip("/"), "memory.max"))
    for candidate in candidates:
        try:
            with open(candidate, encoding="ascii") as handle:
                raw = handle.read().strip()
        except OSError:
            continue
        if raw == "max":
            continue
        try:
            limit = int(raw)
        except ValueError:
            continue
        # cgroup v1 reports "no limit" as a page-rounded value near 2**63.
        if 0 < limit < 2**60:
            return limit
    return None


def memory_limit(env, config):
    raw = env.get("HYPERBUN_MEMORY_LIMIT_BYTES", "").strip()
    if raw:
        try:
            value = int(raw)
        except ValueError:
            raise ConfigError(f"environment HYPERBUN_MEMORY_LIMIT_BYTES={raw!r}: not an integer") from None
        if value <= 0:
            raise ConfigError(f"environment HYPERBUN_MEMORY_LIMIT_BYTES={raw!r}: must be > 0")
        return value, "environment"
    cgroup_limit = _cgroup_memory_limit()
    if cgroup_limit:
        return cgroup_limit, "cgroup"
    return config.memory_limit_bytes, "config"


def load_settings(release_dir, env=None):
    """Everything the service needs to start, or ConfigError with one clear line."""
    env = os.environ if env is None else env
    config_path = env.get("HYPERBUN_CONFIG") or os.path.join(release_dir, "config", "production.yaml")
    config = load_config(config_path)
    port = _port(env, "PORT", 3000)
    metrics_port = _port(env, "METRICS_PORT", port)
    log_level = (env.get("LOG_LEVEL") or "INFO").strip().upper()
    if log_level == "WARNING":
        log_level = "WARN"
    if log_level not in LOG_LEVELS[:4]:
        raise ConfigError(f"environment LOG_LEVEL={env.get('LOG_LEVEL')!r}: expected one of DEBUG, INFO, WARN, ERROR")
    faults = merge_faults(config.faults, env.get("HYPERBUN_FAULTS"), config.breaker_names)
    limit, limit_source = memory_limit(env, config)
    return Settings(
        release_dir=release_dir,
        version=read_version(release_dir),
        config_path=config_path,
        config=config,
        port=port,
        metrics_port=metrics_port,
        bind=env.get("HYPERBUN_BIND") or "0.0.0.0",  # noqa: S104 - a service listens on all addresses by default
        node_env=env.get("NODE_ENV") or "development",
        canary_percentage=env.get("CANARY_PERCENTAGE", ""),
        log_level=log_level,
        log_dir=env.get("HYPERBUN_LOG_DIR") or os.path.join(release_dir, "logs"),
        instance=env.get("HYPERBUN_INSTANCE") or "production",
        faults=faults,
        memory_limit_bytes=limit,
        memory_limit_source=limit_source,
    )
