import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_reporter_imports_without_django():
    code = ("import sys, flower_integration, flower_integration.reporter, flower_integration.legacy;"
            "flower_integration.ReportingStrategy;"
            "assert not [m for m in sys.modules if m.split('.')[0] == 'django'], 'django was imported'")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, env={"FLWR_TELEMETRY_ENABLED": "0"})


def test_the_package_builds_as_a_wheel_on_its_own(tmp_path):
    source = tmp_path / "source"  # a copy, so that the build leaves nothing in the repository
    shutil.copytree(ROOT / "flower_integration", source,
                    ignore=shutil.ignore_patterns("tests", "examples", "__pycache__", "build", "*.egg-info"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    str(source), "-w", str(tmp_path / "dist")], check=True, cwd=tmp_path)
    assert [wheel.name for wheel in (tmp_path / "dist").glob("*.whl")] == ["f2f_flower_integration-0.3.1-py3-none-any.whl"]
