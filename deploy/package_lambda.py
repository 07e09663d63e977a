"""Build the Lambda zip: the Django-free core plus requirements-lambda.txt, reproducibly.

Target: the `python3.12` runtime on `x86_64` (Amazon Linux 2023, glibc 2.34: manylinux wheels
up to manylinux_2_34, CPython 3.12 ABI). Not python3.11: that runtime runs on Amazon Linux 2
(glibc 2.26), which the pinned numpy's wheels (manylinux_2_27+) do not support, and it is past its
deprecation date (2026-06-30). The core is plain Python 3.11+ code, so it runs unchanged on 3.12.

Same inputs (code, requirements, wheels) give the same bytes: entries sorted, one fixed timestamp
(SOURCE_DATE_EPOCH when set, else 1980-01-01), fixed permissions, no .pyc (Lambda compiles in
memory at cold start; bytecode is not reproducible across builds), no install records (RECORD,
INSTALLER, REQUESTED, direct_url.json, scripts).

    bin/package-lambda [--output dist/run-monitor-lambda-python3.12-x86_64.zip] [--requirements FILE]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNTIME = "python3.12"
ARCHITECTURE = "x86_64"
GLIBC_MINOR = 34  # Amazon Linux 2023
# Every manylinux tag the runtime's glibc satisfies (pip does not widen an explicit --platform).
PLATFORMS = ["manylinux2014_x86_64", *(f"manylinux_2_{minor}_x86_64" for minor in range(17, GLIBC_MINOR + 1))]
PIP_PLATFORM = [*(arg for tag in PLATFORMS for arg in ("--platform", tag)), "--python-version", "3.12",
                "--implementation", "cp", "--abi", "cp312"]
DEFAULT_OUTPUT = ROOT / "dist" / f"run-monitor-lambda-{RUNTIME}-{ARCHITECTURE}.zip"
# Describe an installation, not the package; their content can name local paths.
INSTALL_RECORDS = {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"}
FORBIDDEN_TOP_LEVEL = {"django", "rest_framework", "drf_spectacular"}


def _timestamp() -> tuple[int, int, int, int, int, int]:
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    # ZIP cannot store dates before 1980.
    seconds = max(int(epoch), 315532800) if epoch else 315532800
    return time.gmtime(seconds)[:6]


def install_requirements(requirements: Path, target: Path) -> None:
    """pip-install the pinned closure as manylinux wheels for the Lambda runtime into `target`."""
    subprocess.run(  # noqa: S603 - pip of this interpreter, our pinned requirements file
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
         "--no-deps", "--only-binary=:all:", *PIP_PLATFORM, "--target", str(target), "-r", str(requirements)],
        check=True,
    )


def copy_core(target: Path) -> None:
    """dataplatform/__init__.py and dataplatform/pipeline/ (the only code the handlers import)."""
    package = target / "dataplatform"
    package.mkdir()
    shutil.copy2(ROOT / "dataplatform" / "__init__.py", package / "__init__.py")
    shutil.copytree(
        ROOT / "dataplatform" / "pipeline", package / "pipeline",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo"),
    )


def _not_shipped(path: Path) -> bool:
    install_record = path.parent.name.endswith(".dist-info") and path.name in INSTALL_RECORDS
    return install_record or path.suffix in {".pyc", ".pyo"}


def clean(target: Path) -> None:
    """Drop what is not reproducible or not needed at run time."""
    shutil.rmtree(target / "bin", ignore_errors=True)  # console scripts carry the build's interpreter path
    for path in sorted(target.rglob("*"), reverse=True):
        if path.name == "__pycache__" and path.is_dir():
            shutil.rmtree(path)
        elif _not_shipped(path):
            path.unlink()
    present = {p.name for p in target.iterdir()} & FORBIDDEN_TOP_LEVEL
    if present:
        raise SystemExit(f"the Lambda package must not contain {sorted(present)}")


def write_zip(source: Path, output: Path) -> None:
    """A zip of `source` whose bytes depend only on the files' paths and contents."""
    stamp = _timestamp()
    # Sorted by the stored name (plain string order), whatever the file system's listing order.
    files = sorted((p for p in source.rglob("*") if p.is_file()), key=lambda p: p.relative_to(source).as_posix())
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_suffix(".zip.partial")
    with zipfile.ZipFile(partial, "w") as archive:
        for path in files:
            info = zipfile.ZipInfo(path.relative_to(source).as_posix(), date_time=stamp)
            info.create_system = 3  # Unix, so the permission bits below are honoured
            info.external_attr = 0o100644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes(), compresslevel=6)
    partial.replace(output)


def build(output: Path = DEFAULT_OUTPUT, requirements: Path = ROOT / "requirements-lambda.txt") -> Path:
    """Build the zip at `output` and return it."""
    with tempfile.TemporaryDirectory(prefix="run-monitor-lambda-") as tmp:
        target = Path(tmp) / "package"
        install_requirements(requirements, target)
        copy_core(target)
        clean(target)
        write_zip(target, output)
    return output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the Run Monitor Lambda zip (reproducible).")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--requirements", type=Path, default=ROOT / "requirements-lambda.txt")
    args = parser.parse_args(argv)
    output = build(args.output.resolve(), args.requirements.resolve())
    data = output.read_bytes()
    with zipfile.ZipFile(output) as archive:
        unpacked = sum(i.file_size for i in archive.infolist())
    print(f"{output}")
    print(f"runtime {RUNTIME} {ARCHITECTURE}; {len(data) / 1e6:.1f} MB zipped, {unpacked / 1e6:.1f} MB unpacked")
    print(f"sha256 {hashlib.sha256(data).hexdigest()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
