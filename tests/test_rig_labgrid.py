"""A labgrid farm on loopback: coordinator + one exporter per emulated place (QEMU's UART behind ser2net,
RFC2217), the example suite spread over both places through --lg-env, a place taken away mid-run
(reported, not hung on), and `deploy verify --labgrid-place` (acquire, rfc2217://, verify, release)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

pytest.importorskip("labgrid", reason="needs the rig extra: pip install -e .[rig]")
pytest.importorskip("xdist", reason="needs pytest-xdist (the rig extra)")

from tinydeploy.rig import demo  # noqa: E402
from tinydeploy.rig.loopback_farm import LoopbackFarm, missing_tools  # noqa: E402

pytestmark = [pytest.mark.qemu, pytest.mark.slow,
              pytest.mark.filterwarnings("ignore:set(Daemon|Name)\\(\\) is deprecated:DeprecationWarning")]  # pyserial's rfc2217
SUBSET = "runs_the_model or bit_exact or latency"  # 3 tests per place keep the runs short


@pytest.fixture(scope="module")
def farm(tmp_path_factory):
    missing = missing_tools()
    if missing:
        pytest.skip(f"missing for a labgrid farm: {', '.join(missing)} (apt-get install ser2net)")
    from tinydeploy import zoo
    from tinydeploy.boards import get_board
    from tinydeploy.rig.firmware_cache import cached_firmware

    fw = cached_firmware(zoo.tflite_model("digits_cnn"), get_board("qemu-m4"))
    with LoopbackFarm(fw, workdir=tmp_path_factory.mktemp("farm"), lifetime=400) as running:
        yield running
    assert all(proc.poll() is not None for proc in running._procs)  # nothing left behind


def test_suite_runs_on_both_places(farm, tmp_path):
    junit = tmp_path / "junit.xml"
    code, _ = demo.run_suite(farm, "qemu-m4", junit, extra=("-k", SUBSET))
    table = demo.outcomes_by_place(junit)
    assert code == 0, table
    assert table["qemu-a"]["passed"] == 3 and table["qemu-b"]["passed"] == 3


def test_verify_command_on_a_labgrid_place_releases_it(farm):
    from tinydeploy import zoo
    from tinydeploy.commands import verify as verify_command
    from tinydeploy.rig.labgrid_place import acquired_place, add_labgrid_arguments, run_on_labgrid_place

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    verify_command.register(sub)
    verify_parser = sub.choices["verify"]
    if "--labgrid-place" not in verify_parser._option_string_actions:
        add_labgrid_arguments(verify_parser)  # what commands/verify.py adds in register()
    args = parser.parse_args(["verify", "--board", "qemu-m4", "--model", str(farm.fw.model_path), "-n", "5",
                              "--labgrid-place", "qemu-a", "--labgrid-env", str(farm.env_file), "--no-litert"])
    assert run_on_labgrid_place(args, verify_command.verify_on) == 0
    with acquired_place("qemu-a", farm.env_file) as url:  # released: it can be acquired again
        assert url.startswith("rfc2217://127.0.0.1:")


def test_place_taken_away_mid_run_is_reported_not_hung_on(farm, tmp_path):
    junit = tmp_path / "junit.xml"
    code, seconds = demo.run_suite(farm, "qemu-m4", junit, take_away="qemu-b:1", extra=("-k", SUBSET))
    table = demo.outcomes_by_place(junit)
    assert code == 1, table
    assert table["qemu-a"]["passed"] == 3 and not table["qemu-a"].get("failed")
    assert table["qemu-b"]["passed"] == 1 and table["qemu-b"]["failed"] == 2  # the lost test, then fail-fast
    assert seconds < 120
    text = Path(junit).read_text()
    assert "qemu-b" in text and "was lost earlier in this run" in text
