"""deploy/template.yaml against the code: cfn-lint clean, exactly the tables and indexes of
schema.table_specs, the settings every table needs, the Lambdas wired to the handlers that exist."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dataplatform.pipeline import lambda_handler
from dataplatform.pipeline.config import PipelineConfig
from dataplatform.pipeline.notify import NotifySettings, SmtpSender
from dataplatform.pipeline.schema import TableSpec, table_specs

from .template_stack import ROOT, TEMPLATE, package_module, resources, stack_env_module, template

SPECS = {spec.name: spec for spec in table_specs(PipelineConfig())}


def test_cfn_lint_is_clean() -> None:
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    result = subprocess.run(  # noqa: S603 - the pinned linter on our own template
        [str(cfn_lint), str(TEMPLATE)], capture_output=True, text=True, timeout=300, check=False, cwd=ROOT
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _keys(schema: list[Any]) -> list[tuple[str, str]]:
    return [(k["AttributeName"], k["KeyType"]) for k in schema]


def _indexes(properties: dict[str, Any]) -> dict[str, tuple[list[tuple[str, str]], dict[str, Any]]]:
    return {
        i["IndexName"]: (_keys(i["KeySchema"]), dict(i["Projection"]))
        for i in properties.get("GlobalSecondaryIndexes", [])
    }


def _yaml(spec: TableSpec) -> str:
    """The template resource for a table spec, ready to paste into deploy/template.yaml."""
    lines = [
        f"  {spec.name}:", "    Type: AWS::DynamoDB::Table", "    DeletionPolicy: Retain",
        "    UpdateReplacePolicy: Retain", "    Properties:", f'      TableName: !Sub "${{NamePrefix}}-{spec.name}"',
        "      BillingMode: PAY_PER_REQUEST", "      DeletionProtectionEnabled: true",
        "      PointInTimeRecoverySpecification: {PointInTimeRecoveryEnabled: true}",
        "      SSESpecification: {SSEEnabled: true}", "      AttributeDefinitions:",
        *(f"        - {{AttributeName: {a['AttributeName']}, AttributeType: {a['AttributeType']}}}"
          for a in spec.attributes()),
        "      KeySchema:", *(f"        - {{AttributeName: {k['AttributeName']}, KeyType: {k['KeyType']}}}"
                              for k in spec.key_schema()),
    ]
    if spec.indexes:
        lines.append("      GlobalSecondaryIndexes:")
        for index in spec.indexes:
            lines += [f"        - IndexName: {index.name}", "          KeySchema:"]
            lines += [f"            - {{AttributeName: {k['AttributeName']}, KeyType: {k['KeyType']}}}"
                      for k in index.key_schema()]
            lines.append("          Projection: {ProjectionType: ALL}")
    return "\n".join(lines)


def _hint(spec: TableSpec) -> str:
    return (
        f"deploy/template.yaml's {spec.name} must be (schema.table_specs; then add its ARN and index ARNs to the "
        f"roles that use it, its *_TABLE_NAME to the outputs and the evaluator's environment):\n{_yaml(spec)}"
    )


@pytest.mark.parametrize("name", list(SPECS))
def test_every_table_the_app_manages_is_in_the_template_with_the_same_keys_and_indexes(name: str) -> None:
    spec: TableSpec = SPECS[name]
    table = resources("AWS::DynamoDB::Table").get(name)
    assert table is not None, _hint(spec)
    properties = table["Properties"]
    assert _keys(properties["KeySchema"]) == _keys(spec.key_schema()), _hint(spec)
    assert sorted(map(dict, properties["AttributeDefinitions"]), key=str) == sorted(spec.attributes(), key=str), (
        _hint(spec)
    )
    assert _indexes(properties) == {
        i.name: (_keys(i.definition()["KeySchema"]), i.definition()["Projection"]) for i in spec.created_indexes()
    }, _hint(spec)
    assert "LocalSecondaryIndexes" not in properties
    # A table spec may name a TTL attribute; then the template must enable TTL on exactly it.
    ttl = getattr(spec, "ttl_attribute", None)
    if ttl:
        assert dict(properties["TimeToLiveSpecification"]) == {"AttributeName": ttl, "Enabled": True}
    else:
        assert "TimeToLiveSpecification" not in properties


def test_the_template_has_no_table_the_code_does_not_manage() -> None:
    extra = set(resources("AWS::DynamoDB::Table")) - set(SPECS)
    assert not extra, f"{sorted(extra)} are not in schema.table_specs: remove them from deploy/template.yaml"


@pytest.mark.parametrize("name", sorted(resources("AWS::DynamoDB::Table")))
def test_every_table_is_on_demand_recoverable_protected_encrypted_and_retained(name: str) -> None:
    table = resources("AWS::DynamoDB::Table")[name]
    properties = table["Properties"]
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert properties["DeletionProtectionEnabled"] is True
    assert properties["SSESpecification"]["SSEEnabled"] is True
    assert (table["DeletionPolicy"], table["UpdateReplacePolicy"]) == ("Retain", "Retain")


def _table_env_names() -> dict[str, str]:
    """{env var: logical id} for every *_TABLE_NAME the config reads (found in config.py)."""
    source = (ROOT / "dataplatform" / "pipeline" / "config.py").read_text()
    names = sorted(set(re.findall(r'"([A-Z]+_TABLE_NAME)"', source)))
    assert {"RUN_TABLE_NAME", "FILE_TABLE_NAME"} <= set(names)
    default = PipelineConfig.from_env({})
    out: dict[str, str] = {}
    for name in names:
        changed = PipelineConfig.from_env({name: "probe"})
        fields = [f for f, v in changed.__dict__.items() if v == "probe" and default.__dict__[f] != "probe"]
        assert len(fields) == 1, (name, fields)
        out[name] = default.__dict__[fields[0]]  # the default table name = the logical id
    return out


def _env_outputs() -> dict[str, Any]:
    """{env var: the output's Value as written} for the outputs deploy/stack_env.py exports."""
    pattern = stack_env_module().ENV_DESCRIPTION
    matches = ((pattern.match(o.get("Description", "")), o["Value"]) for o in template()["Outputs"].values())
    return {match.group(1): value for match, value in matches if match}


def test_outputs_give_the_web_tier_every_table_name_the_config_reads() -> None:
    env = _env_outputs()
    for name, logical_id in _table_env_names().items():
        assert env.get(name) == {"Ref": logical_id}, name
    for name in ("ENVIRONMENT", "AWS_REGION", "DISPATCHER", "SQS_QUEUE_URL"):
        assert name in env
    assert env["SQS_QUEUE_URL"] == {"Ref": "DispatchQueue"}


def _function(name: str) -> dict[str, Any]:
    return resources("AWS::Lambda::Function")[name]["Properties"]  # type: ignore[no-any-return]


def test_the_evaluator_gets_every_table_and_the_trigger_the_ones_it_writes() -> None:
    tables = _table_env_names()
    evaluator = _function("EvaluatorFunction")["Environment"]["Variables"]
    for name, logical_id in tables.items():
        assert evaluator[name] == {"Ref": logical_id}
    trigger = _function("TriggerFunction")["Environment"]["Variables"]
    for name in ("RUN_TABLE_NAME", "FILE_TABLE_NAME", "DATASET_TABLE_NAME", "AUDIT_TABLE_NAME"):
        assert trigger[name] == {"Ref": tables[name]}
    assert (trigger["DISPATCHER"], trigger["SQS_QUEUE_URL"]) == ("sqs", {"Ref": "DispatchQueue"})


@pytest.mark.parametrize("name", sorted(resources("AWS::Lambda::Function")))
def test_every_function_names_a_handler_of_the_package(name: str) -> None:
    function = _function(name)
    module, _, attribute = function["Handler"].rpartition(".")
    assert module == "dataplatform.pipeline.lambda_handler"
    assert callable(getattr(lambda_handler, attribute, None)), f"{name}: lambda_handler has no {attribute}"
    package = package_module()
    assert (function["Runtime"], function["Architectures"]) == (package.RUNTIME, [package.ARCHITECTURE])


def _notify_variables() -> list[str]:
    """Every variable the notification sender reads (NotifySettings.from_env, SmtpSender.from_env)."""
    found: list[str] = []
    for name in ("settings.py", "transports.py"):
        source = (ROOT / "dataplatform" / "pipeline" / "notify" / name).read_text()
        found += re.findall(r'(?:env\.get\(|_int\(env, |_float\(env, |_flag\(env, )"([A-Z][A-Z0-9_]+)"', source)
    assert {"PUBLIC_BASE_URL", "NOTIFY_MAX_ATTEMPTS", "EMAIL_HOST", "EMAIL_HOST_PASSWORD"} <= set(found)
    return sorted(set(found))


def _emf_variables() -> list[str]:
    """The variables of the evaluator's Embedded Metric Format output (emf.py)."""
    source = (ROOT / "dataplatform" / "pipeline" / "emf.py").read_text()
    found = sorted(set(re.findall(r'\.get\("(EMF_[A-Z0-9_]+)"', source)))
    assert "EMF_METRICS" in found
    return found


def test_the_evaluator_can_be_given_every_notify_smtp_and_metrics_setting() -> None:
    evaluator = _function("EvaluatorFunction")["Environment"]["Variables"]
    missing = [name for name in _notify_variables() + _emf_variables() if name not in evaluator]
    assert not missing, f"the evaluator reads {missing}: add them to EvaluatorFunction's Environment (from parameters)"


def _parameter_of(value: Any) -> str:
    """The parameter behind an environment value: !Ref P, or !If [c, !Ref P, ...]."""
    if "Fn::If" in value:
        value = value["Fn::If"][1]
    return str(value["Ref"])


@pytest.mark.parametrize("variable", [n for n in _notify_variables() if n.startswith(("NOTIFY_", "EMAIL_TIMEOUT"))])
def test_numeric_notify_parameters_have_the_codes_defaults_and_bounds(variable: str) -> None:
    value = _function("EvaluatorFunction")["Environment"]["Variables"][variable]
    parameter = template()["Parameters"][_parameter_of(value)]
    assert parameter["Type"] == "Number"

    def reads(env: dict[str, str]) -> tuple[Any, Any]:
        env = {"EMAIL_HOST": "smtp.example.com", **env}
        return NotifySettings.from_env(env), SmtpSender.from_env(env)

    default = float(parameter["Default"])
    assert reads({variable: f"{default:g}"}) == reads({}), f"{variable}: the default {default:g} is not the code's"
    low, high = float(parameter["MinValue"]), float(parameter["MaxValue"])
    reads({variable: f"{low:g}"})
    reads({variable: f"{high:g}"})
    if variable.startswith("NOTIFY_"):  # the code's own bounds: just outside them it refuses to start
        for outside in (low - 1 if low >= 1 else low / 2, high + 1):
            with pytest.raises(ValueError):
                reads({variable: f"{outside:g}"})


def test_the_public_base_url_parameter_admits_only_what_the_code_accepts() -> None:
    pattern = template()["Parameters"]["PublicBaseUrl"]["AllowedPattern"]
    for good in ("https://monitor.example.com", "http://10.0.0.5:8000/run-monitor"):
        assert re.fullmatch(pattern, good), good
        NotifySettings.from_env({"PUBLIC_BASE_URL": good})
    for bad in ("", "monitor.example.com", "ftp://monitor.example.com", "https://"):
        assert not re.fullmatch(pattern, bad), bad


def test_the_trigger_route_is_never_open() -> None:
    methods = resources("AWS::ApiGateway::Method")
    assert methods
    for method in methods.values():
        assert method["Properties"]["AuthorizationType"] in {"AWS_IAM", "CUSTOM", "COGNITO_USER_POOLS"}
        assert method["Properties"]["Integration"]["Type"] == "AWS_PROXY"


def test_the_evaluator_runs_on_a_schedule_with_retries_a_dead_letter_queue_and_reserved_concurrency() -> None:
    (schedule,) = resources("AWS::Scheduler::Schedule").values()
    target = schedule["Properties"]["Target"]
    assert target["Arn"] == {"Fn::GetAtt": ["EvaluatorFunction", "Arn"]}
    assert target["RetryPolicy"]["MaximumRetryAttempts"] >= 1
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["EvaluatorDeadLetterQueue", "Arn"]}}
    assert '"time": "<aws.scheduler.scheduled-time>"' in target["Input"]
    assert _function("EvaluatorFunction")["ReservedConcurrentExecutions"] >= 1


def test_an_alarm_fires_when_the_evaluator_stops_ticking() -> None:
    alarms = [
        a["Properties"] for a in resources("AWS::CloudWatch::Alarm").values()
        if any(
            m.get("MetricStat", {}).get("Metric", {}).get("Dimensions") == [
                {"Name": "FunctionName", "Value": {"Ref": "EvaluatorFunction"}}
            ]
            for m in a["Properties"].get("Metrics", [])
        )
    ]
    assert len(alarms) == 1
    assert alarms[0]["TreatMissingData"] == "breaching"
    assert alarms[0]["ComparisonOperator"] == "LessThanThreshold"


def test_the_dispatch_queue_redrives_to_its_dead_letter_queue() -> None:
    queue = resources("AWS::SQS::Queue")["DispatchQueue"]["Properties"]
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["DispatchDeadLetterQueue", "Arn"]}
    for name, other in resources("AWS::SQS::Queue").items():
        assert other["Properties"]["SqsManagedSseEnabled"] is True, name


SECRETISH = re.compile(r"SECRET|PASSWORD|TOKEN|PRIVATE|CREDENTIAL|ACCESS_KEY", re.IGNORECASE)
SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:run-monitor/smtp-AbCdEf"


def test_no_secrets_in_the_template() -> None:
    for name, function in resources("AWS::Lambda::Function").items():
        for variable, value in function["Properties"]["Environment"]["Variables"].items():
            if SECRETISH.search(variable):
                # Only as a Secrets Manager dynamic reference that CloudFormation resolves.
                _condition, reference, otherwise = value["Fn::If"]
                assert reference["Fn::Sub"].startswith("{{resolve:secretsmanager:${"), (name, variable)
                assert otherwise == {"Ref": "AWS::NoValue"}, (name, variable)
    text = TEMPLATE.read_text()
    assert not re.search(r"AKIA[0-9A-Z]{16}|whsec_|-----BEGIN", text)
    for name, parameter in template()["Parameters"].items():
        if SECRETISH.search(name):
            # A reference to a secret store, never the secret: only an ARN (or nothing) gets through.
            assert name.endswith("SecretArn"), name
            pattern = parameter["AllowedPattern"]
            assert re.fullmatch(pattern, SECRET_ARN)
            assert re.fullmatch(pattern, f"{SECRET_ARN}:SecretString:password")
            assert re.fullmatch(pattern, "")
            for value in ("hunter2", "correct horse battery staple", "arn:aws:iam::123456789012:user/x"):
                assert not re.fullmatch(pattern, value), (name, value)
        assert parameter["Type"] != "String" or "NoEcho" not in parameter
