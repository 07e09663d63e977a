"""The template's IAM policies checked against the DynamoDB and SQS calls the code makes.

Statically: every client operation in dataplatform/pipeline/**/*.py (found with `ast`) maps to
IAM actions the web tier's role allows on every table and index (and nothing it does not use).
Dynamically: the Lambdas run on moto against the deployed stack with every call recorded (action
and exact table/index/queue ARN), and each call must be allowed by that function's deployed role
(a small IAM evaluator: Allow statements, exact or wildcard action and resource matches)."""

from __future__ import annotations

import ast
import fnmatch
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from botocore import xform_name

from dataplatform.pipeline import lambda_handler
from dataplatform.pipeline.app import Pipeline
from dataplatform.pipeline.clients import reset_clients
from dataplatform.pipeline.config import PipelineConfig
from dataplatform.pipeline.datasets import REGISTERED_PK, DatasetConfig
from dataplatform.pipeline.dynamo import serialize
from dataplatform.pipeline.services import Actor, file_report, run_trigger
from dataplatform.pipeline.states import FileStatus
from dataplatform.pipeline.timeutil import format_ts

from .template_stack import REGION, ROOT, DeployedStack, deploy, resources, role_statements

CORE = ROOT / "dataplatform" / "pipeline"
ACCOUNT = "123456789012"  # moto's default account
# Deploy-time operations: the stack (or `sync_tables` from an admin role) creates tables and
# indexes; the running app only describes them (`sync_tables --check`).
DEPLOY_TIME = {"dynamodb:CreateTable", "dynamodb:UpdateTable", "dynamodb:DeleteTable", "dynamodb:UpdateTimeToLive"}
# Modules that never talk to AWS: the DynamoDB Local supervisor of local development (its
# ListTables probes the local engine).
LOCAL_ONLY = {"engine.py"}
# Calls named like a DynamoDB/SQS operation on objects that are not boto3 clients.
NOT_AWS = {("notify/transports.py", "send_message"): "smtplib.SMTP.send_message (email), not SQS"}
# IAM has no action of its own for these: each item of the request is authorised separately.
TRANSACT_PARTS = {
    "Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem",
}
# SQS batch operations are authorised as their single-message action.
SQS_BATCH = {"SendMessageBatch": "SendMessage", "DeleteMessageBatch": "DeleteMessage",
             "ChangeMessageVisibilityBatch": "ChangeMessageVisibility"}


def _operations() -> dict[str, list[tuple[str, str]]]:
    """{snake_case client method: [(service, OperationName)]} for DynamoDB and SQS."""
    session = botocore.session.get_session()
    out: dict[str, list[tuple[str, str]]] = {}
    for service in ("dynamodb", "sqs"):
        for name in session.get_service_model(service).operation_names:
            out.setdefault(xform_name(name), []).append((service, name))
    return out


def _iam_actions(service: str, operation: str, module: ast.Module) -> set[str]:
    if service == "sqs":
        return {f"sqs:{SQS_BATCH.get(operation, operation)}"}
    if operation == "TransactGetItems":
        return {"dynamodb:GetItem"}
    if operation == "TransactWriteItems":
        # The parts this module builds ({"Put": ...}, {"Update": ...}); all four if none is literal.
        keys = {
            k.value for node in ast.walk(module) if isinstance(node, ast.Dict)
            for k in node.keys if isinstance(k, ast.Constant) and k.value in TRANSACT_PARTS
        }
        return {f"dynamodb:{TRANSACT_PARTS[k]}" for k in (keys or TRANSACT_PARTS)}
    return {f"dynamodb:{operation}"}


def used_actions(root: Path = CORE) -> dict[str, set[str]]:
    """{IAM action: {file:line, ...}} for every DynamoDB/SQS client call in the code: a method call
    named like an operation (`client.query(...)`), or an operation named as a string to
    `Table.call("query", ...)`, `get_paginator("query")` or `getattr(client, "query")`."""
    operations = _operations()
    found: dict[str, set[str]] = {}
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root).as_posix()
        if relative in LOCAL_ONLY:
            continue
        module = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(module):
            if not isinstance(node, ast.Call):
                continue
            names: list[str] = []
            if isinstance(node.func, ast.Attribute):
                names.append(node.func.attr)
                if node.func.attr in {"call", "get_paginator", "can_paginate"} and node.args:
                    names.append(getattr(node.args[0], "value", ""))
            elif isinstance(node.func, ast.Name) and node.func.id == "getattr" and len(node.args) > 1:
                names.append(getattr(node.args[1], "value", ""))
            for name in names:
                if (relative, name) in NOT_AWS:
                    continue
                for service, operation in operations.get(name if isinstance(name, str) else "", []):
                    for action in _iam_actions(service, operation, module):
                        found.setdefault(action, set()).add(f"{relative}:{node.lineno}")
    return found


def test_the_scan_finds_the_calls_the_code_is_known_to_make() -> None:
    # Guards the scanner itself: these calls exist today (repository, dispatcher, schema).
    actions = used_actions()
    assert {"dynamodb:Query", "dynamodb:UpdateItem", "dynamodb:BatchWriteItem", "sqs:SendMessage",
            "dynamodb:CreateTable", "dynamodb:DescribeTable"} <= set(actions)


def test_the_scan_maps_transactions_paginators_and_batches_to_iam_actions(tmp_path: Path) -> None:
    (tmp_path / "sample.py").write_text(
        "def f(client, sqs, table):\n"
        "    client.transact_write_items(TransactItems=[{'Put': {}}, {'ConditionCheck': {}}])\n"
        "    client.get_paginator('scan')\n"
        "    table.call('delete_item', Key={})\n"
        "    sqs.delete_message_batch(QueueUrl='q', Entries=[])\n"
    )
    assert set(used_actions(tmp_path)) == {
        "dynamodb:PutItem", "dynamodb:ConditionCheckItem", "dynamodb:Scan", "dynamodb:DeleteItem", "sqs:DeleteMessage",
    }


def _web_statements() -> list[dict[str, Any]]:
    role = resources("AWS::IAM::Role")["WebTierRole"]["Properties"]
    return [s for policy in role["Policies"] for s in policy["PolicyDocument"]["Statement"]]


def _template_arns(kind: str) -> set[str]:
    """'table:RunTable' and 'index:RunTable/status-index' for the template's tables and indexes."""
    out: set[str] = set()
    for name, table in resources("AWS::DynamoDB::Table").items():
        out.add(f"table:{name}")
        out |= {f"index:{name}/{i['IndexName']}" for i in table["Properties"].get("GlobalSecondaryIndexes", [])}
    return {a for a in out if a.startswith(kind)}


def _statement_arns(statement: dict[str, Any]) -> set[str]:
    found = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
    out: set[str] = set()
    for resource in found:
        if "Fn::GetAtt" in resource and resource["Fn::GetAtt"][1] == "Arn":
            out.add(f"table:{resource['Fn::GetAtt'][0]}")
        elif "Fn::Sub" in resource and "/index/" in resource["Fn::Sub"]:
            table, index = resource["Fn::Sub"].split(".Arn}/index/")
            out.add(f"index:{table.removeprefix('${')}/{index}")
    return out


def _yaml_ref(arn: str) -> str:
    """'table:RunTable' / 'index:RunTable/status-index' as the template writes the ARN."""
    kind, _, name = arn.partition(":")
    if kind == "table":
        return f"!GetAtt {name}.Arn"
    table, _, index = name.partition("/")
    return f'!Sub "${{{table}.Arn}}/index/{index}"'


def test_the_web_role_allows_every_action_the_code_uses_on_every_table_and_index() -> None:
    runtime = {a: where for a, where in used_actions().items() if a not in DEPLOY_TIME}
    statements = _web_statements()
    for action, where in sorted(runtime.items()):
        allowed = set().union(*(_statement_arns(s) for s in statements if action in s["Action"]))
        if action.startswith("sqs:"):
            assert any(action in s["Action"] and s["Resource"] == {"Fn::GetAtt": ["DispatchQueue", "Arn"]}
                       for s in statements), (
                f"{action} (used at {sorted(where)}) is not allowed on the queue: add it to the Action list of "
                "WebTierRole's Dispatch statement in deploy/template.yaml"
            )
            continue
        assert any(action in s["Action"] for s in statements), (
            f"{action} (used at {sorted(where)}) is not allowed by WebTierRole: in deploy/template.yaml add "
            f"`- {action}` to the Action list of its Tables statement"
        )
        missing = _template_arns("table") - allowed
        if action == "dynamodb:Query":
            missing |= _template_arns("index") - allowed
        assert not missing, (
            f"{action} (used at {sorted(where)}) is not allowed by WebTierRole on {sorted(missing)}: in "
            "deploy/template.yaml add these lines to the Resource list of its Tables statement:\n"
            + "\n".join(f"                  - {_yaml_ref(a)}" for a in sorted(missing))
        )


def test_the_web_role_grants_nothing_the_code_does_not_use() -> None:
    used = set(used_actions()) - DEPLOY_TIME
    granted = {a for s in _web_statements() for a in s["Action"]}
    assert not granted - used, (
        f"WebTierRole grants {sorted(granted - used)}, which no code in dataplatform/pipeline calls: remove them "
        "from deploy/template.yaml"
    )


def test_the_scan_ignores_local_only_modules_and_calls_on_other_objects() -> None:
    # Each exception must still match something, or it hides nothing and should go.
    for module in LOCAL_ONLY:
        assert (CORE / module).is_file(), module
    for (module, method), why in NOT_AWS.items():
        assert f".{method}(" in (CORE / module).read_text(), (module, method, why)
    assert "dynamodb:ListTables" not in used_actions()


def test_every_role_statement_is_an_exact_allow() -> None:
    for name, role in resources("AWS::IAM::Role").items():
        for policy in role["Properties"]["Policies"]:
            for statement in policy["PolicyDocument"]["Statement"]:
                assert statement["Effect"] == "Allow", name
                assert "NotAction" not in statement
                assert "NotResource" not in statement
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                assert all("*" not in a for a in actions), (name, actions)
                found = json.dumps(statement["Resource"])
                assert '"*"' not in found, (name, found)
                assert "/index/*" not in found, (name, found)


# ---- dynamic: the Lambdas against the deployed stack, every call checked against their role.


def _arn(service: str, name: str, index: str | None = None) -> str:
    if service == "sqs":
        return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name.rsplit('/', 1)[-1]}"
    return f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}" + (f"/index/{index}" if index else "")


def _calls(operation: str, params: dict[str, Any]) -> list[tuple[str, str]]:
    """(IAM action, resource ARN) pairs one request needs."""
    if "QueueUrl" in params:
        return [(f"sqs:{SQS_BATCH.get(operation, operation)}", _arn("sqs", params["QueueUrl"]))]
    if operation in {"BatchWriteItem", "BatchGetItem"}:
        return [(f"dynamodb:{operation}", _arn("dynamodb", table)) for table in params["RequestItems"]]
    if operation in {"TransactWriteItems", "TransactGetItems"}:
        pairs = []
        for item in params["TransactItems"]:
            ((kind, body),) = item.items()
            action = "GetItem" if kind == "Get" else TRANSACT_PARTS[kind]
            pairs.append((f"dynamodb:{action}", _arn("dynamodb", body["TableName"])))
        return pairs
    return [(f"dynamodb:{operation}", _arn("dynamodb", params["TableName"], params.get("IndexName")))]


class CallRecorder:
    """Records the (action, ARN) of every request made by the boto3 clients it is attached to."""

    def __init__(self) -> None:
        self.calls: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def attach(self, client: Any) -> None:
        client.meta.events.register("before-parameter-build.*.*", self._record)

    def _record(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        with self._lock:
            self.calls.update(_calls(model.name, params))


def allowed(statements: list[dict[str, Any]], action: str, arn: str) -> bool:
    """IAM's answer for one request under Allow-only identity policies."""
    for statement in statements:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        targets = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        if statement["Effect"] == "Allow" and any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in actions) \
                and any(fnmatch.fnmatchcase(arn, r) for r in targets):
            return True
    return False


def test_the_policy_evaluator_matches_actions_and_exact_resources() -> None:
    statements = [{"Effect": "Allow", "Action": ["dynamodb:Query"], "Resource": [_arn("dynamodb", "T")]}]
    assert allowed(statements, "dynamodb:Query", _arn("dynamodb", "T"))
    assert not allowed(statements, "dynamodb:Query", _arn("dynamodb", "T", "i"))  # an index needs its own ARN
    assert not allowed(statements, "dynamodb:GetItem", _arn("dynamodb", "T"))


@pytest.fixture
def stack() -> Iterator[DeployedStack]:
    from moto import mock_aws

    with mock_aws():
        reset_clients()
        yield deploy(NamePrefix="rm-iam")
        lambda_handler.set_pipeline(None)
    reset_clients()


def _granted(statements: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """Every (DynamoDB/SQS action, resource ARN) pair the statements name."""
    return {
        (action, arn) for s in statements for action in s["Action"] for arn in
        (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])
        if action.startswith(("dynamodb:", "sqs:"))
    }


def _logical_ids() -> dict[str, str]:
    """{deployed name: logical id} of the tables and queues of the stack deployed with NamePrefix rm-iam."""
    out = {f"rm-iam-{name}": name for name in resources("AWS::DynamoDB::Table")}
    for name, queue in resources("AWS::SQS::Queue").items():
        out[queue["Properties"]["QueueName"]["Fn::Sub"].replace("${NamePrefix}", "rm-iam")] = name
    return out


def _grant_hint(calls: list[tuple[str, str]]) -> str:
    """What to add to the role in deploy/template.yaml: each action with the resources it needs there."""
    names = _logical_ids()
    by_action: dict[str, list[str]] = {}
    for action, arn in calls:
        resource = arn.rsplit(":", 1)[-1].removeprefix("table/")
        table, _, index = resource.partition("/index/")
        logical = names.get(table, table)
        ref = f'!Sub "${{{logical}.Arn}}/index/{index}"' if index else f"!GetAtt {logical}.Arn"
        by_action.setdefault(action, []).append(ref)
    return "add to the role's statements in deploy/template.yaml:\n" + "\n".join(
        f"  {action} on [{', '.join(sorted(refs))}]" for action, refs in sorted(by_action.items())
    )


def _function_pipeline(function: str, recorder: CallRecorder) -> Pipeline:
    """A Pipeline built from the deployed function's own environment, its clients recorded."""
    variables = boto3.client("lambda", region_name=REGION).get_function_configuration(
        FunctionName=function
    )["Environment"]["Variables"]
    pipeline = Pipeline(PipelineConfig.from_env({**variables, "AWS_REGION": REGION}))
    recorder.attach(pipeline.client)
    sqs_client = getattr(pipeline.dispatcher, "client", None)
    if sqs_client is not None:
        recorder.attach(sqs_client)
    return pipeline


def _trigger_events() -> list[Any]:
    trigger = {"datasetName": "fx-rates", "businessDate": "2026-01-05", "sourceTrigger": {"job": "FX"},
               "files": ["s3://bucket-a/fx/a.csv"]}
    return [
        trigger,  # direct: creates the run
        {"httpMethod": "POST", "body": json.dumps(trigger)},  # API Gateway v1: the repeat
        {"detail-type": "Run Trigger", "source": "controlm", "detail": {"datasetName": "eq-prices",
                                                                       "businessDate": "2026-01-05"}},  # registry
    ]


def test_every_call_of_the_trigger_lambda_is_allowed_by_its_role_and_every_grant_is_used(
    stack: DeployedStack,
) -> None:
    # The registry is written by the web tier (before recording starts): files come from its templates.
    Pipeline(stack.config()).datasets.put(
        DatasetConfig.model_validate({"datasetName": "eq-prices", "locations": ["s3://bucket-b/eq/{businessDate}.csv"]})
    )
    recorder = CallRecorder()
    pipeline = _function_pipeline("rm-iam-trigger", recorder)
    lambda_handler.set_pipeline(pipeline)
    answers = [lambda_handler.api_lambda_handler(event, None)["statusCode"] for event in _trigger_events()]
    assert answers == [201, 200, 201]
    statements = role_statements("rm-iam-trigger")
    refused = sorted(call for call in recorder.calls if not allowed(statements, *call))
    assert not refused, f"the trigger role (TriggerFunctionRole) does not allow {refused}: " + _grant_hint(refused)
    granted = _granted(statements)
    unused = sorted(granted - recorder.calls)
    assert granted == recorder.calls, f"TriggerFunctionRole grants what no call used: {unused}"


class _Receiver:
    """A local webhook receiver: 410 Gone on /gone (the sender disables that channel), else 200."""

    def __init__(self) -> None:
        received = self.received = []  # type: list[tuple[str, dict[str, Any]]]

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                received.append((self.path, json.loads(body)))
                self.send_response(410 if self.path == "/gone" else 200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def types(self, path: str) -> list[str]:
        """The notification types posted to `path`, a batch counted as the notifications in it."""
        out: list[str] = []
        for where, body in self.received:
            if where == path:
                batch = body["data"]["alerts"] if body["type"] == "alert.batch" else [body]
                out += [str(item["type"]) for item in batch]
        return out

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[_Receiver]:
    server = _Receiver()
    yield server
    server.close()


def _tick(moment: datetime) -> dict[str, Any]:
    event = {"source": "aws.scheduler", "detail-type": "Scheduled Event", "time": format_ts(moment)}
    return lambda_handler.alerts_lambda_handler(event, None)


# Evaluator grants for paths a single-evaluator scenario cannot take; each names the code path.
RARE_PATHS = {
    ("dynamodb:GetItem", "NotificationTable"):
        "notify/delivery.py Notifier.fan_out: another sender decided the channels first (concurrent senders)",
}


def _on_failure_destination() -> tuple[str, str]:
    """The evaluator's on-failure destination: Lambda itself sends to it with the function's role."""
    config = resources("AWS::Lambda::EventInvokeConfig")["EvaluatorInvokeConfig"]["Properties"]
    logical = config["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0]
    name = resources("AWS::SQS::Queue")[logical]["Properties"]["QueueName"]["Fn::Sub"]
    return "sqs:SendMessage", _arn("sqs", name.replace("${NamePrefix}", "rm-iam"))


def test_every_call_of_the_evaluator_lambda_is_allowed_by_its_role_and_every_grant_is_used(
    stack: DeployedStack, receiver: _Receiver
) -> None:
    """Evaluator ticks that take every path that writes: episodes opened (missing, failed) and
    resolved, a run reconciled, notifications fanned out, sent, held by a silence and released,
    a reminder, and a channel the sender disables (410)."""
    web = Pipeline(stack.config())  # the web tier's writes happen before recording starts
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    today = now.date().isoformat()
    daily = {"weekdays": [0, 1, 2, 3, 4, 5, 6], "dueBy": "00:00", "holidays": "GB"}
    for name in ("fx-rates", "eq-prices"):
        web.datasets.put(DatasetConfig.model_validate(
            {"datasetName": name, "locations": [f"s3://bucket-a/{name}/{{businessDate}}.csv"], "schedule": daily}
        ))
    worker = Actor(name="preprocessor", request_id="w-1")
    failed = run_trigger(web, actor=worker, request={"datasetName": "eq-prices", "businessDate": today})
    for file_id in [f.file_id for f in web.files.iter_run(failed.run.run_id)]:
        file_report(web, file_id=file_id, status=FileStatus.FAILED, error={"message": "bad header"}, actor=worker)
    web.channels.create({"kind": "webhook", "name": "ops", "url": f"{receiver.url}/ok", "repeatMinutes": [5]},
                        actor="admin")
    web.channels.create({"kind": "webhook", "name": "old", "url": f"{receiver.url}/gone"}, actor="admin")
    # A dataset stored before registration records existed: the evaluator registers it.
    web.datasets.put(DatasetConfig.model_validate(
        {"datasetName": "legacy", "locations": ["s3://bucket-a/legacy/{businessDate}.csv"], "schedule": daily}
    ))
    web.client.delete_item(TableName=web.config.dataset_table, Key=serialize(
        {"pk": REGISTERED_PK, "datasetName": "legacy"}
    ))
    web.silences.create({"datasetName": "fx-rates", "endsAt": format_ts(now + timedelta(minutes=7)),
                         "reason": "vendor outage"}, actor="admin", now=now)

    recorder = CallRecorder()
    lambda_handler.set_pipeline(_function_pipeline("rm-iam-evaluator", recorder))
    first = _tick(now)  # opens missing (held by the silence) and failed; the sender disables /gone
    assert first["opened"] >= 2
    assert first["delivered"]["disabled_channels"]
    # A counter update that was lost: the next tick's reconcile of the ended run repairs it.
    web.client.update_item(
        TableName=web.config.run_table, Key=serialize({"runId": failed.run.run_id}),
        UpdateExpression="SET failedFiles = :zero", ExpressionAttributeValues=serialize({":zero": 0}),
    )
    _tick(now + timedelta(minutes=10))  # the silence is over: the held opening goes out; a reminder
    assert web.runs.get(failed.run.run_id, consistent=True).failed_files == 1
    fixed = run_trigger(web, actor=worker, request={"datasetName": "fx-rates", "businessDate": today})
    for file_id in [f.file_id for f in web.files.iter_run(fixed.run.run_id)]:
        for status in (FileStatus.FETCHED, FileStatus.VERIFIED, FileStatus.PREPROCESSED):
            file_report(web, file_id=file_id, status=status, actor=worker)
    last = _tick(now + timedelta(minutes=20))  # the run arrived: missing resolves (and is told)
    assert last["resolved"] == 1
    assert {"alert.opened", "alert.reminder", "alert.resolved"} <= set(receiver.types("/ok")), receiver.received
    assert set(receiver.types("/gone")) == {"alert.opened"}  # one message, then the channel is disabled
    assert len([p for p, _ in receiver.received if p == "/gone"]) == 1

    statements = role_statements("rm-iam-evaluator")
    refused = sorted(call for call in recorder.calls if not allowed(statements, *call))
    assert not refused, f"the evaluator role (EvaluatorFunctionRole) does not allow {refused}: " + _grant_hint(refused)
    granted = _granted(statements) - {_on_failure_destination()}
    unexercised = {(action, _arn("dynamodb", f"rm-iam-{table}")) for action, table in RARE_PATHS}
    assert granted - unexercised == recorder.calls, (
        f"EvaluatorFunctionRole grants what no tick used: {sorted(granted - unexercised - recorder.calls)}"
    )
    assert unexercised <= granted, "a RARE_PATHS entry the role does not grant"


def test_the_readme_policy_is_the_web_role() -> None:
    """README's "Least-privilege IAM policy for the web app" is WebTierRole written out: the same
    actions on the same tables and indexes, and the dispatch queue."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("Least-privilege IAM policy for the web app"):]
    start = section.index("```json") + len("```json")
    policy = json.loads(section[start:section.index("```\n", start)])
    tables, dispatch = policy["Statement"]
    written: set[str] = set()
    for arn in tables["Resource"]:
        table, _, index = arn.split(":table/", 1)[1].partition("/index/")
        written.add(f"index:{table}/{index}" if index else f"table:{table}")
    (role_tables,) = [s for s in _web_statements() if s.get("Sid") == "Tables"]
    assert set(tables["Action"]) == set(role_tables["Action"])
    assert written == _statement_arns(role_tables)
    assert dispatch["Action"] == ["sqs:SendMessage"]
