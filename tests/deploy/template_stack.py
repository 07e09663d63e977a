"""deploy/template.yaml read as CloudFormation sees it, and deployed on moto's CloudFormation."""

from __future__ import annotations

import ast
import importlib.util
import io
import json
import warnings
import zipfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
from cfnlint.decode.cfn_yaml import load as load_cfn_yaml

from dataplatform.pipeline.config import PipelineConfig

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "deploy" / "template.yaml"
REGION = "eu-west-1"
STACK = "run-monitor-test"
CODE_BUCKET = "run-monitor-code"
CODE_KEY = "lambda/run-monitor.zip"


@cache
def template() -> dict[str, Any]:
    """The template with its short-form intrinsics (!Ref, !Sub, !GetAtt) as their long forms."""
    return dict(load_cfn_yaml(str(TEMPLATE)))


def resources(kind: str | None = None) -> dict[str, dict[str, Any]]:
    found = template()["Resources"]
    return {name: dict(r) for name, r in found.items() if kind is None or r["Type"] == kind}


@cache
def stack_env_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("stack_env", ROOT / "deploy" / "stack_env.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@cache
def package_module() -> ModuleType:
    """deploy/package_lambda.py (RUNTIME, ARCHITECTURE: what the zip is built for)."""
    spec = importlib.util.spec_from_file_location("package_lambda", ROOT / "deploy" / "package_lambda.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class DeployedStack:
    outputs: dict[str, str]
    env: dict[str, str]

    def config(self, **overrides: Any) -> PipelineConfig:
        """The app's config from the stack's outputs, as a web instance gets it."""
        values = PipelineConfig.from_env(self.env)
        return PipelineConfig(**{**values.__dict__, **overrides})


def deploy(**parameters: str) -> DeployedStack:
    """Create the stack on moto (inside an active mock_aws) and return its outputs.

    moto skips the resource types it does not implement (the Scheduler schedule, the alarms, the
    API stage, the Lambda invoke config) with a warning; everything the app reads is created."""
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=CODE_BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("placeholder.py", "")  # moto stores the code; it never runs it here
    s3.put_object(Bucket=CODE_BUCKET, Key=CODE_KEY, Body=code.getvalue())
    cloudformation = boto3.client("cloudformation", region_name=REGION)
    values = {"CodeS3Bucket": CODE_BUCKET, "CodeS3Key": CODE_KEY, "PublicBaseUrl": "https://monitor.example.com",
              **parameters}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*not supported by moto's CloudFormation.*")
        cloudformation.create_stack(
            StackName=STACK,
            TemplateBody=TEMPLATE.read_text(),
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()],
            Capabilities=["CAPABILITY_NAMED_IAM"],
        )
    stack = cloudformation.describe_stacks(StackName=STACK)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    raw = stack_env_module().stack_outputs(cloudformation, STACK)
    return DeployedStack(
        outputs={o["OutputKey"]: o["OutputValue"] for o in raw},
        env=stack_env_module().env_from_outputs(raw),
    )


def role_statements(role_name: str) -> list[dict[str, Any]]:
    """Every statement of the inline policies of a deployed role."""
    iam = boto3.client("iam", region_name=REGION)
    statements: list[dict[str, Any]] = []
    for policy in iam.list_role_policies(RoleName=role_name)["PolicyNames"]:
        document: Any = iam.get_role_policy(RoleName=role_name, PolicyName=policy)["PolicyDocument"]
        if isinstance(document, str):
            # moto returns the document as the repr of a dict rather than JSON.
            try:
                document = json.loads(document)
            except ValueError:
                document = ast.literal_eval(document)
        found = document["Statement"]
        statements.extend(found if isinstance(found, list) else [found])
    return statements
