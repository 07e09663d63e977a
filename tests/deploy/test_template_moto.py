"""The template deployed on moto's CloudFormation: the stack creates its tables, queues and roles;
the app's schema check finds no difference; a trigger and a worker report run through the core
against what the stack created, configured only from the stack's outputs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from io import StringIO
from typing import Any

import boto3
import pytest
from django.core.management import call_command

from dataplatform.pipeline.app import Pipeline
from dataplatform.pipeline.clients import reset_clients
from dataplatform.pipeline.notify import NotifySettings, SmtpSender
from dataplatform.pipeline.schema import schema_diff, table_specs
from dataplatform.pipeline.services import Actor, file_report, run_trigger
from dataplatform.pipeline.states import FileStatus, RunStatus
from dataplatform.web import wiring

from .template_stack import REGION, DeployedStack, deploy, resources, stack_env_module


@pytest.fixture
def stack() -> Iterator[DeployedStack]:
    from moto import mock_aws

    with mock_aws():
        reset_clients()
        yield deploy(NamePrefix="rm-test", Environment="prod")
    reset_clients()


def test_the_stack_creates_every_table_queue_and_role(stack: DeployedStack) -> None:
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    created = set(dynamodb.list_tables()["TableNames"])
    assert created == {f"rm-test-{name}" for name in resources("AWS::DynamoDB::Table")}
    sqs = boto3.client("sqs", region_name=REGION)
    attributes = sqs.get_queue_attributes(QueueUrl=stack.env["SQS_QUEUE_URL"], AttributeNames=["All"])["Attributes"]
    redrive = json.loads(attributes["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"].endswith(":rm-test-files-dlq")
    assert int(redrive["maxReceiveCount"]) == 5
    iam = boto3.client("iam", region_name=REGION)
    roles = {r["RoleName"] for r in iam.list_roles()["Roles"]}
    assert {"rm-test-trigger", "rm-test-evaluator", "rm-test-web"} <= roles
    assert stack.outputs["WebTierRoleArn"].endswith(":role/rm-test-web")


def test_the_outputs_configure_the_app(stack: DeployedStack) -> None:
    config = stack.config()
    assert (config.run_table, config.file_table) == ("rm-test-RunTable", "rm-test-FileTable")
    assert (config.environment.value, config.region, config.dispatcher) == ("prod", REGION, "sqs")
    assert config.queue_url == stack.env["SQS_QUEUE_URL"]
    shell = stack_env_module().render(stack.env, "shell")
    assert "export RUN_TABLE_NAME=rm-test-RunTable\n" in shell


def test_the_schema_check_finds_no_difference_on_the_stack_tables(stack: DeployedStack) -> None:
    config = stack.config()
    client = boto3.client("dynamodb", region_name=REGION)
    assert {spec.name for spec in table_specs(config)} <= set(client.list_tables()["TableNames"])
    assert schema_diff(client, config) == []


@pytest.mark.django_db
def test_sync_tables_check_command_is_clean_on_the_stack(stack: DeployedStack, settings: Any) -> None:
    settings.PIPELINE_CONFIG = stack.config()
    wiring.reset()
    try:
        out = StringIO()
        call_command("sync_tables", "--check", stdout=out, stderr=StringIO())
        assert "tables match the app's schema" in out.getvalue()
    finally:
        wiring.reset()


def test_a_trigger_and_worker_reports_run_through_the_core_on_the_stack(stack: DeployedStack) -> None:
    pipeline = Pipeline(stack.config())  # clients, dispatcher and tables from the outputs alone
    actor = Actor(name="control-m", request_id="req-1")
    result = run_trigger(
        pipeline, actor=actor,
        request={
            "datasetName": "fx-rates", "businessDate": "2026-01-05", "sourceType": "control-m",
            "files": ["s3://bucket-a/fx/a.csv", "s3://bucket-a/fx/b.csv"],
        },
    )
    assert result.created
    assert result.run.status is RunStatus.DISPATCHED
    assert result.run.environment.value == "prod"
    sqs = boto3.client("sqs", region_name=REGION)
    received = sqs.receive_message(QueueUrl=stack.env["SQS_QUEUE_URL"], MaxNumberOfMessages=10)["Messages"]
    messages = [json.loads(m["Body"]) for m in received]
    assert len(messages) == 2
    assert {m["runId"] for m in messages} == {result.run.run_id}
    worker = Actor(name="preprocessor", request_id="req-2")
    for message in messages:
        for status in (FileStatus.FETCHED, FileStatus.VERIFIED, FileStatus.PREPROCESSED):
            file_report(pipeline, file_id=message["fileId"], status=status, actor=worker)
    run = pipeline.runs.get(result.run.run_id, consistent=True)
    assert run.status is RunStatus.SUCCESS
    assert (run.resolved_files, run.processed_files) == (2, 2)


def test_the_evaluator_gets_the_notify_settings_and_the_smtp_password_only_as_a_secret_reference() -> None:
    from moto import mock_aws

    secret = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:run-monitor/smtp-AbCdEf"
    with mock_aws():
        reset_clients()
        deploy(NamePrefix="rm-smtp", SmtpHost="smtp.example.com", SmtpUser="run-monitor",
               SmtpPasswordSecretArn=secret, SmtpSecurity="ssl", PublicBaseUrl="https://monitor.example.com/rm")
        variables = boto3.client("lambda", region_name=REGION).get_function_configuration(
            FunctionName="rm-smtp-evaluator"
        )["Environment"]["Variables"]
    reset_clients()
    variables = {name: str(value) for name, value in variables.items()}  # moto keeps Number parameters as numbers
    # CloudFormation resolves the reference at deploy time (moto keeps it as written).
    assert variables["EMAIL_HOST_PASSWORD"] == f"{{{{resolve:secretsmanager:{secret}}}}}"
    assert (variables["EMAIL_USE_SSL"], variables["EMAIL_USE_TLS"]) == ("true", "false")
    sender = SmtpSender.from_env(variables)
    assert sender is not None
    assert (sender.host, sender.port, sender.username, sender.use_ssl) == ("smtp.example.com", 465, "run-monitor", True)
    settings = NotifySettings.from_env(variables)
    assert settings == NotifySettings(public_base_url="https://monitor.example.com/rm")


def test_without_smtp_the_evaluator_has_no_email_settings(stack: DeployedStack) -> None:
    variables = boto3.client("lambda", region_name=REGION).get_function_configuration(
        FunctionName="rm-test-evaluator"
    )["Environment"]["Variables"]
    variables = {name: str(value) for name, value in variables.items()}
    assert not {"EMAIL_HOST", "EMAIL_HOST_PASSWORD", "EMAIL_HOST_USER"} & set(variables)
    assert SmtpSender.from_env(variables) is None
    assert NotifySettings.from_env(variables).public_base_url == "https://monitor.example.com"
