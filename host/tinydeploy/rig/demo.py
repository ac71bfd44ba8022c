"""The labgrid demo: a loopback farm of two emulated places, the example HIL suite run across both.

    python -m tinydeploy.rig.demo [--board qemu-m4] [--workdir DIR] [--no-take-away]

1. builds the firmware (cached), starts a coordinator and one exporter per place on 127.0.0.1;
2. runs examples/tests with pytest-xdist, one worker per place (`--dist each`: the same tests on each
   place), boards acquired through labgrid's --lg-env;
3. `deploy verify --labgrid-place qemu-a`: acquire, verify over rfc2217://, release;
4. runs the suite again and kills place qemu-b's board and serial server in the middle: the run must end
   quickly, with qemu-b's tests failing with a link error and qemu-a's passing.
Every process is bounded in time and stopped at the end.  Exit status 0 when all of that held.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

from tinydeploy.paths import repo_root

RUN_TIMEOUT_S = 300


def run_suite(farm, board: str, junit: Path, *, take_away: str | None = None, tests: str = "examples/tests",
              extra: tuple[str, ...] = ()) -> tuple[int, float]:
    # -p labgrid: the project's pytest addopts block labgrid's plugin (-p no:labgrid) outside farm runs.
    cmd = [sys.executable, "-m", "pytest", tests, "-q", "-p", "labgrid", "-p", "no:cacheprovider", "-n", str(len(farm.places)),
           "--dist", "each", "--tinydeploy-board", board, "--lg-env", str(farm.env_file),
           f"--junitxml={junit}", "-o", "junit_family=xunit1", "--tb=line", *extra]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    if take_away:
        cmd += ["-p", "tinydeploy.rig.farm_chaos"]
        env.update(TINYDEPLOY_TAKE_AWAY=take_away, TINYDEPLOY_FARM_STATE=str(farm.state_file))
    started = time.monotonic()
    result = subprocess.run(cmd, cwd=repo_root(), env=env, timeout=RUN_TIMEOUT_S, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    print(result.stdout[-3000:])
    return result.returncode, time.monotonic() - started


def outcomes_by_place(junit: Path) -> dict[str, Counter]:
    """{place: Counter(passed/failed/skipped)} from the JUnit XML's tinydeploy_labgrid_place properties."""
    table: dict[str, Counter] = {}
    if not junit.is_file():  # pytest did not get as far as running tests (its output says why)
        return table
    for case in ET.parse(junit).iter("testcase"):
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        place = props.get("tinydeploy_labgrid_place", "(none)")
        if case.find("failure") is not None or case.find("error") is not None:
            outcome = "failed"
        elif case.find("skipped") is not None:
            outcome = "skipped"
        else:
            outcome = "passed"
        table.setdefault(place, Counter())[outcome] += 1
    return table


def verify_through_place(farm, fw) -> bool:
    """`deploy verify --labgrid-place`: acquire the place, verify over rfc2217://, release it."""
    import argparse

    from tinydeploy.commands import verify as verify_command
    from tinydeploy.rig.labgrid_place import add_labgrid_arguments, run_on_labgrid_place

    parser = argparse.ArgumentParser(prog="deploy")
    verify_command.register(parser.add_subparsers())
    verify_parser = parser._subparsers._group_actions[0].choices["verify"]  # type: ignore[union-attr]
    if "--labgrid-place" not in verify_parser._option_string_actions:  # until commands/verify.py has it
        add_labgrid_arguments(verify_parser)
    place = farm.places[0].name
    argv = ["verify", "--board", fw.board.id, "--model", str(fw.model_path), "-n", "20", "--no-litert",
            "--labgrid-place", place, "--labgrid-env", str(farm.env_file)]
    print(f"deploy {' '.join(argv)}")
    try:
        run_on_labgrid_place(parser.parse_args(argv), verify_command.verify_on)
    except Exception as err:  # a failed check or link: the demo reports it
        print(f"verify through place {place} failed: {err}")
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--board", default="qemu-m4")
    parser.add_argument("--model", help=".tflite (default: the zoo's digits CNN)")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/tinydeploy-labgrid-demo"))
    parser.add_argument("--no-take-away", action="store_true", help="skip the run that loses a place")
    parser.add_argument("--lifetime", type=float, default=900, help="seconds before every farm process is killed")
    args = parser.parse_args(argv)

    from tinydeploy import zoo
    from tinydeploy.boards import get_board
    from tinydeploy.rig.firmware_cache import cached_firmware
    from tinydeploy.rig.loopback_farm import LoopbackFarm, missing_tools

    missing = missing_tools()
    if missing:
        print(f"cannot run the demo, missing: {', '.join(missing)}", file=sys.stderr)
        return 2
    model = Path(args.model) if args.model else zoo.tflite_model("digits_cnn")
    fw = cached_firmware(model, get_board(args.board))
    ok = True
    with LoopbackFarm(fw, workdir=args.workdir, lifetime=args.lifetime) as farm:
        print(f"farm up: coordinator {farm.address}, places {', '.join(p.name for p in farm.places)}; env {farm.env_file}")
        code, seconds = run_suite(farm, fw.board.id, args.workdir / "junit-all.xml")
        table = outcomes_by_place(args.workdir / "junit-all.xml")
        print(f"run 1 (both places): exit {code} in {seconds:.0f} s; by place: {dict(table)}")
        ok &= code == 0 and all(table.get(p.name, {}).get("passed", 0) > 0 for p in farm.places)
        ok &= verify_through_place(farm, fw)
        if not args.no_take_away:
            lost = farm.places[-1].name
            code, seconds = run_suite(farm, fw.board.id, args.workdir / "junit-take-away.xml", take_away=f"{lost}:2")
            table = outcomes_by_place(args.workdir / "junit-take-away.xml")
            print(f"run 2 ({lost} taken away mid-run): exit {code} in {seconds:.0f} s; by place: {dict(table)}")
            ok &= (code == 1 and table.get(lost, {}).get("failed", 0) > 0
                   and table.get(farm.places[0].name, {}).get("failed", 0) == 0)
    print("labgrid demo: OK" if ok else "labgrid demo: FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
