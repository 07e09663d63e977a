#!/usr/bin/env python3
"""Print the web tier's environment variables from a deployed Run Monitor stack.

The template marks those outputs with a Description that starts with "env NAME"; this prints
each as `export NAME=value` (default, for a shell) or `NAME=value` (`--format env`, for a systemd
EnvironmentFile or `docker run --env-file`). Secrets are not outputs: set DJANGO_SECRET_KEY,
DATABASE_URL and CACHE_URL from your secret store.

    python deploy/stack_env.py run-monitor-prod --region eu-west-1 > /etc/run-monitor/stack.env
"""

from __future__ import annotations

import argparse
import re
import shlex
import sys
from collections.abc import Iterable, Mapping
from typing import Any

ENV_DESCRIPTION = re.compile(r"^env ([A-Z][A-Z0-9_]*)\b")


def env_from_outputs(outputs: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """{NAME: value} for every stack output whose Description starts with "env NAME"."""
    env: dict[str, str] = {}
    for output in outputs:
        match = ENV_DESCRIPTION.match(str(output.get("Description", "")))
        if match:
            env[match.group(1)] = str(output["OutputValue"])
    return env


def stack_outputs(cloudformation: Any, stack_name: str) -> list[dict[str, Any]]:
    """The outputs of one stack (DescribeStacks)."""
    stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    return list(stacks[0].get("Outputs", []))


def render(env: Mapping[str, str], fmt: str) -> str:
    """The variables as `export` lines (shell) or plain NAME=value lines (env file)."""
    if fmt == "env":
        return "".join(f"{name}={value}\n" for name, value in sorted(env.items()))
    return "".join(f"export {name}={shlex.quote(value)}\n" for name, value in sorted(env.items()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stack", help="stack name or id")
    parser.add_argument("--region", help="AWS region (default: the boto3 chain)")
    parser.add_argument("--format", choices=("shell", "env"), default="shell")
    args = parser.parse_args(argv)
    import boto3

    cloudformation = boto3.client("cloudformation", region_name=args.region)
    env = env_from_outputs(stack_outputs(cloudformation, args.stack))
    if not env:
        print(f"stack {args.stack} has no 'env NAME' outputs; is it a Run Monitor stack?", file=sys.stderr)
        return 1
    sys.stdout.write(render(env, args.format))
    return 0


if __name__ == "__main__":
    sys.exit(main())
