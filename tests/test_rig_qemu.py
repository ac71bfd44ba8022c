"""The example HIL suite (examples/tests) run through the plugin on QEMU, as a user would run it:
`pytest --tinydeploy-board qemu-m4 examples/tests/`, here with two xdist workers that each boot their
own QEMU, and with the firmware reused from the build cache (no rebuild when the model did not change)."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

pytest.importorskip("pytest_embedded_qemu", reason="needs the rig extra: pip install -e .[rig]")
pytest.importorskip("xdist", reason="needs pytest-xdist (the rig extra)")

from tinydeploy.paths import repo_root  # noqa: E402

pytestmark = pytest.mark.qemu


def properties(junit: Path) -> list[dict[str, str]]:
    return [{p.get("name"): p.get("value") for p in case.iter("property")} | {"_name": case.get("name"),
             "_outcome": "failed" if case.find("failure") is not None or case.find("error") is not None
             else "skipped" if case.find("skipped") is not None else "passed"}
            for case in ET.parse(junit).iter("testcase")]


def test_example_suite_on_qemu_with_two_workers(tmp_path):
    from tinydeploy import zoo
    from tinydeploy.boards import get_board
    from tinydeploy.rig.firmware_cache import cached_firmware

    fw = cached_firmware(zoo.tflite_model("digits_cnn"), get_board("qemu-m4"))  # what the suite will reuse
    junit = tmp_path / "junit.xml"
    cmd = [sys.executable, "-m", "pytest", "examples/tests", "-q", "-p", "no:cacheprovider",
           "--tinydeploy-board", "qemu-m4", "-k", "not across_boards", "-n", "2", "--dist", "each",
           f"--junitxml={junit}", "-o", "junit_family=xunit1", "--tinydeploy-report-dir", str(tmp_path / "reports")]
    result = subprocess.run(cmd, cwd=repo_root(), capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]

    cases = properties(junit)
    assert len(cases) == 10 and all(c["_outcome"] == "passed" for c in cases)  # 5 tests on each worker
    assert {c["tinydeploy_firmware"] for c in cases} == {f"{fw.elf} (cached)"}  # no rebuild, no PlatformIO
    assert len({c["tinydeploy_port"] for c in cases if "tinydeploy_port" in c}) == 2  # one QEMU per worker
    accuracy = [c for c in cases if c["_name"] == "test_accuracy_on_test_split"]
    assert all(float(c["tinydeploy_accuracy"]) >= 0.85 for c in accuracy)
    report = Path(accuracy[0]["tinydeploy_report_json"])
    assert report.is_file() and report.with_suffix(".xml").is_file()  # the JSON and JUnit of `deploy verify`
