"""Fault specifications: parsing, validation and rendering (standard library only, used at build time too)."""

import math

FAULT_TYPES = {
    "error_rate": "share",
    "latency_ms": "milliseconds",
    "memory_growth_mb_per_min": "non_negative",
    "breaker_trip": "breaker",
    "rate_limit_reject": "share",
    "crash_at_start": "boolean",
    "health_fail": "boolean",
    "graph_build_ms": "milliseconds",
    "query_timeout_rate": "share",
}

_TRUE_WORDS = ("true", "yes", "on", "1")
_FALSE_WORDS = ("false", "no", "off", "0")


class FaultError(ValueError):
    """A fault specification that cannot be used."""


def _number(name, value):
    if isinstance(value, bool):
        raise FaultError(f"fault {name}: expected a number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise FaultError(f"fault {name}: expected a number, got {value!r}") from None
    if not math.isfinite(number):
        raise FaultError(f"fault {name}: expected a finite number, got {value!r}")
    return number


def normalize_fault(name, value, breaker_names=None):
    """Return the typed value of one fault, or raise FaultError naming the problem."""
    kind = FAULT_TYPES.get(name)
    if kind is None:
        raise FaultError("unknown fault {!r} (known: {})".format(name, ", ".join(sorted(FAULT_TYPES))))
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        word = str(value).strip().lower()
        if word in _TRUE_WORDS:
            return True
        if word in _FALSE_WORDS:
            return False
        raise FaultError(f"fault {name}: expected true or false, got {value!r}")
    if kind == "breaker":
        breaker = str(value).strip()
        if not breaker:
            raise FaultError(f"fault {name}: expected a circuit breaker name")
        if breaker_names is not None and breaker not in breaker_names:
            raise FaultError(
                "fault {}: unknown circuit breaker {!r} (known: {})".format(name, breaker, ", ".join(breaker_names))
            )
        return breaker
    number = _number(name, value)
    if kind == "share" and not 0.0 <= number <= 1.0:
        raise FaultError(f"fault {name}: expected a share between 0 and 1, got {value!r}")
    if kind in ("milliseconds", "non_negative") and number < 0:
        raise FaultError(f"fault {name}: expected a value >= 0, got {value!r}")
    return number


def parse_fault_spec(spec, breaker_names=None):
    """Parse 'name=value,name=value' into a dict of typed faults."""
    faults = {}
    for item in spec.split(","):
        item = item.strip()
        if not item:
            continue
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise FaultError(f"fault spec item {item!r} is not name=value")
        if name in faults:
            raise FaultError(f"fault {name} given twice")
        faults[name] = normalize_fault(name, value.strip(), breaker_names)
    return faults


def validate_fault_mapping(mapping, breaker_names=None):
    """Validate a mapping of faults (from the configuration file)."""
    if mapping is None:
        return {}
    if not isinstance(mapping, dict):
        raise FaultError(f"faults must be a mapping of fault name to value, got {type(mapping).__name__}")
    return {str(name): normalize_fault(str(name), value, breaker_names) for name, value in mapping.items()}


def render_yaml_section(faults):
    """Render faults as the YAML 'faults:' section of the configuration file."""
    if not faults:
        return "faults: {}\n"
    lines = ["faults:"]
    for name in sorted(faults):
        value = faults[name]
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, float):
            text = repr(value)
        else:
            text = str(value)
        lines.append(f"  {name}: {text}")
    return "\n".join(lines) + "\n"


def format_spec(faults):
    """Render faults back as a spec string (for logs)."""
    return ",".join(f"{name}={str(faults[name]).lower()}" for name in sorted(faults))
