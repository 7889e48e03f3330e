"""Build-time helper for build-release.sh: writes the release's configuration with its built-in faults."""

import argparse
import re
import sys

from . import config as config_module
from .config import DEFAULTS, ConfigError, parse_config_text
from .faults import FaultError, parse_fault_spec, render_yaml_section

_FAULTS_LINE = re.compile(r"^faults:.*$", re.MULTILINE)


def render_config(template, spec, path):
    # The build host may lack PyYAML (the target's scripts/build validates the whole file anyway):
    # then the faults are checked against the default circuit breakers only.
    full_check = config_module.yaml is not None
    if full_check:
        config = parse_config_text(template, path)
        if config.faults:
            raise ConfigError(f"{path}: the source configuration must not carry faults (give them with --faults)")
        breaker_names = config.breaker_names
    else:
        breaker_names = DEFAULTS["circuit_breakers"]["names"]
    faults = parse_fault_spec(spec or "", breaker_names)
    text, count = _FAULTS_LINE.subn(render_yaml_section(faults).rstrip("\n"), template)
    if count != 1:
        raise ConfigError(f"{path}: expected exactly one top-level 'faults:' line")
    if full_check:
        parse_config_text(text, path)
    return text


def main(argv=None):
    parser = argparse.ArgumentParser(description="Write a release configuration with built-in faults.")
    parser.add_argument("--template", required=True)
    parser.add_argument("--faults", default="")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    try:
        with open(args.template, encoding="utf-8") as handle:
            template = handle.read()
        text = render_config(template, args.faults, args.template)
    except (ConfigError, FaultError) as exc:
        sys.stderr.write(f"build-release: {exc}\n")
        return 2
    except OSError as exc:
        sys.stderr.write(f"build-release: {args.template}: {exc.strerror or exc}\n")
        return 2
    with open(args.out, "w", encoding="utf-8") as handle:
        handle.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
