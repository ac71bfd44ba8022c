"""Bad command lines (issue 16): each is one line on stderr and exit status 2, before anything runs — in
particular report paths that cannot be written are refused up front, not after a whole verification."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tinydeploy import cli
from tinydeploy.errors import UserError
from tinydeploy.model.graph import load_model
from tinydeploy.verify.inputs import prepare_inputs

MODEL = Path(__file__).parent / "fixtures" / "harness" / "reshape_int8.tflite"


@pytest.fixture
def files(tmp_path) -> dict[str, str]:
    good = tmp_path / "x.npy"
    np.save(good, np.zeros((2, 32, 32), np.float32))
    for name, value in (("nan", np.nan), ("inf", np.inf)):
        bad = np.zeros((2, 32, 32), np.float32)
        bad[1, 4, 5] = value
        np.save(tmp_path / f"{name}.npy", bad)
    np.savez(tmp_path / "nan.npz", x=np.array([[0.0, np.nan]], np.float32))
    (tmp_path / "text.npy").write_text("not numpy")
    (tmp_path / "a_file").write_text("")
    return {"dir": str(tmp_path), "good": str(good), "nan": str(tmp_path / "nan.npy"),
            "inf": str(tmp_path / "inf.npy"), "nan_npz": str(tmp_path / "nan.npz"),
            "text": str(tmp_path / "text.npy"), "file": str(tmp_path / "a_file")}


# (extra arguments, what the one line must say); {dir}/{nan}/... are filled from `files`.
VERIFY_CASES = [
    (["--timeout", "nan"], "argument --timeout: 'nan' is not a finite number"),
    (["--timeout", "0"], "argument --timeout: 0 s is not a usable timeout"),
    (["--timeout", "-5"], "argument --timeout: -5 s is not a usable timeout"),
    (["--timeout", "soon"], "argument --timeout: 'soon' is not a number"),
    (["--invoke-timeout", "inf"], "argument --invoke-timeout: 'inf' is not a finite number"),
    (["--invoke-timeout", "0"], "argument --invoke-timeout: 0 s"),
    (["-n", "-1"], "argument -n: -1 is not a whole number >= 1"),
    (["-n", "0"], "argument -n: 0 is not a whole number >= 1"),
    (["-n", "2.5"], "argument -n: '2.5' is not a whole number"),
    (["--min-exact-match", "nan"], "argument --min-exact-match: 'nan' is not a finite number"),
    (["--min-exact-match", "1.5"], "argument --min-exact-match: 1.5 is out of range: give a number in [0, 1]"),
    (["--min-exact-match", "-0.1"], "out of range"),
    (["--max-lsb", "nan"], "argument --max-lsb: 'nan'"),
    (["--max-lsb", "-1"], "argument --max-lsb: -1 is out of range"),
    (["--min-cosine", "2"], "argument --min-cosine: 2 is out of range: give a number in [-1, 1]"),
    (["--max-abs-error=-inf"], "argument --max-abs-error: '-inf' is not a finite number"),
    (["--min-top1-agreement", "nan"], "argument --min-top1-agreement"),
    (["--min-accuracy", "1.01"], "argument --min-accuracy: 1.01 is out of range"),
    (["--float-model", "{dir}/missing.keras"], "argument --float-model: {dir}/missing.keras: no such file or directory"),
    (["--inputs", "{dir}/missing.npy"], "argument --inputs: {dir}/missing.npy: no such file"),
    (["--inputs", "{nan}"], "argument --inputs: {nan}: holds 1 NaN/infinite value(s), the first at index [1, 4, 5]"),
    (["--inputs", "{inf}"], "holds 1 NaN/infinite value(s)"),
    (["--inputs", "{nan_npz}"], "argument --inputs: {nan_npz}[x]: holds 1 NaN/infinite value(s)"),
    (["--inputs", "{text}"], "not a .npy/.npz file numpy can read"),
    (["--inputs", "{dir}"], "is a directory, not a file"),
    (["--labels", "{dir}/missing.npy"], "argument --labels: {dir}/missing.npy: no such file"),
    (["--model", "{dir}/missing.tflite"], "argument --model: {dir}/missing.tflite: no such file"),
    (["--report", "{dir}"], "argument --report: {dir}: is a directory; give a file name"),
    (["--junit", "{file}/j.xml"], "argument --junit: {file}/j.xml: {file} is a file, not a directory"),
    (["--html", "/proc/tinydeploy-report.html"], "argument --html: /proc/tinydeploy-report.html: cannot write in /proc"),
    (["--report", "{file}/sub/r.json"], "{file} is a file, not a directory"),
]


def one_line_error(capsys, argv: list[str]) -> str:
    status = cli.main(argv)
    err = capsys.readouterr().err
    assert status == 2, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    return err.strip()


@pytest.mark.parametrize(("extra", "message"), VERIFY_CASES)
def test_bad_verify_option_is_one_line_before_anything_runs(capsys, files, extra, message):
    # No --port and no background session: had the command run, it would fail differently.
    argv = ["verify", "--board", "native", *[a.format(**files) for a in extra]]
    err = one_line_error(capsys, argv)
    assert err.startswith("deploy verify: error: ") and message.format(**files) in err


@pytest.mark.parametrize("command", ["run", "demo"])
def test_run_and_demo_check_the_same_options(capsys, files, command):
    model = [str(MODEL)] if command == "run" else []
    for extra, message in [(["--timeout", "nan"], "--timeout"), (["--report", files["dir"]], "is a directory"),
                           (["-n", "0"], "-n: 0")]:
        err = one_line_error(capsys, [command, *model, "--board", "native", *extra])
        assert err.startswith(f"deploy {command}: error: ") and message in err


def test_build_options_are_checked(capsys, files):
    assert "no such file or directory" in one_line_error(capsys, ["run", f"{files['dir']}/missing.tflite"])
    assert "--arena-bytes: 0 is not a whole number >= 1" in one_line_error(
        capsys, ["flash", str(MODEL), "--board", "native", "--arena-bytes", "0"])
    assert "--rep-data: " in one_line_error(capsys, ["run", str(MODEL), "--rep-data", files["nan"]])


def test_writable_report_paths_pass_and_a_missing_directory_is_made_later(capsys, files, tmp_path):
    # A directory that does not exist yet is fine (reports create it); only what cannot work is refused.
    argv = ["verify", "--board", "native", "--report", str(tmp_path / "new" / "r.json"), "--inputs", files["good"]]
    assert cli.main(argv) == 2
    assert "no firmware is running for native" in capsys.readouterr().err  # got past the option checks
    assert not (tmp_path / "new").exists() and not list(Path(files["dir"]).glob(".tinydeploy-probe-*"))


def test_nan_inputs_given_as_arrays_are_a_user_error_too():
    model = load_model(MODEL)
    x = np.zeros((3, 32, 32), np.float32)
    x[2, 0, 7] = np.nan
    with pytest.raises(UserError, match=r"inputs: input '.*' holds NaN/infinite values \(the first at sample 2, "
                                        r"index \[0, 7\]\)"):
        prepare_inputs([x], model, "inputs")
