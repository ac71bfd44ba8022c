"""pytest plugin: test a model on boards from an ordinary firmware test suite.

    pytest --tinydeploy-board qemu-m4 --tinydeploy-model model.tflite tests/hil/
    pytest --tinydeploy-board qemu-m4 --lg-env farm.yaml -n 2 tests/hil/     # boards from a labgrid farm

Fixtures
  deployed_model     the model running on the board: `.infer(x)` -> real (dequantized) outputs + latency
                     (`.infer(x, raw=True)`: the stored int8/... values), `.verify(inputs,
                     labels)` -> the VerifyReport of `deploy verify` (attached to the test's JUnit
                     properties with the path of its JSON report), `.dut` (pytest-embedded DUT: `expect`),
                     `.link`, `.board`, `.firmware`.
  tinydeploy_board   the DeviceLink to the board (HELLO done: `.info` says what firmware runs there).
  tinydeploy_dut     the pytest-embedded DUT of the board (skips where no pytest-embedded service runs it).
  tinydeploy_model_path  the model under test: --tinydeploy-model; override it in a conftest.py.
Marker
  @pytest.mark.boards("qemu-m4", "qemu-m33"): run the test once per board; a board that is not here
  (real board not plugged in, QEMU not installed) is skipped with the reason.

Firmware is built once per (board, runtime, model sha256) -- across tests, sessions and xdist workers,
under a file lock -- and each board boots once per session (per worker under `pytest -n`: every worker
has its own QEMU and port).  With labgrid's --lg-env, each worker acquires a free place of the
environment for the session and releases it at the end, also when tests fail.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pytest

from tinydeploy.errors import LinkError, UserError

PLACE_WAIT_S = 60.0


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("tinydeploy", "tinydeploy: models on boards")
    group.addoption("--tinydeploy-board", help="board id for tests without @pytest.mark.boards (see: deploy boards)")
    group.addoption("--tinydeploy-port", help="serial port/URL of a real board (default: find it by USB VID:PID)")
    group.addoption("--tinydeploy-runtime", default="aot", choices=("aot", "tflm"),
                    help="firmware runtime (default aot)")
    group.addoption("--tinydeploy-model", help="the .tflite under test (default: the tinydeploy_model_path fixture)")
    group.addoption("--tinydeploy-report-dir",
                    help="where verify() writes JSON/JUnit reports (default: pytest's temporary directory)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "boards(*board_ids): run the test on each board; absent boards are skipped")
    # pytest-embedded's autouse fixtures pull in its `app_path` fixture for every test of the session, which
    # calls the experimental record_xml_attribute: one warning per test, none of it ours to fix.
    config.addinivalue_line("filterwarnings", "ignore:record_xml_attribute is:pytest.PytestWarning")
    _arbitrate_target_fixture(config)


def _arbitrate_target_fixture(config: pytest.Config) -> None:
    """Decide who owns the `target` fixture when pytest-embedded and labgrid are both installed.

    Both plugins define `target`.  pytest-embedded's autouse fixtures request it for *every* test, and
    labgrid's version skips the test unless --lg-env is given: with both installed, every test of any
    suite in the environment would be skipped ("missing environment config").  Which definition wins
    depends on the plugins' load order, so re-register the right one last: labgrid's when a labgrid
    environment with a "main" target (what labgrid's `target` returns) is given, pytest-embedded's
    otherwise -- labgrid's fixture fails every test of an environment without "main", such as a farm
    of places the rig picks from.
    """
    manager = config.pluginmanager
    embedded, labgrid = manager.get_plugin("pytest_embedded"), manager.get_plugin("labgrid")
    if embedded is None or labgrid is None:
        return
    from labgrid.pytestplugin import fixtures as labgrid_fixtures
    from pytest_embedded import plugin as embedded_plugin

    env = labgrid_env(config)
    owner = labgrid_fixtures if env and "main" in _env_targets(env) else embedded_plugin
    # A late plugin re-declaring the fixture (a module: pytest reads fixtures off a holder's type).
    arbiter = types.ModuleType("tinydeploy_target_fixture")
    arbiter.target = owner.target  # type: ignore[attr-defined]
    manager.register(arbiter, "tinydeploy-target-fixture")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    marker = metafunc.definition.get_closest_marker("boards")
    if marker is not None and "tinydeploy_board_id" in metafunc.fixturenames:
        boards = list(marker.args)
        if not boards:
            raise pytest.UsageError(f"{metafunc.definition.nodeid}: @pytest.mark.boards needs at least one board id")
        metafunc.parametrize("tinydeploy_board_id", boards, indirect=True, ids=boards)


# ---- where the boards come from -------------------------------------------------------------------------


def labgrid_env(config: pytest.Config) -> str | None:
    """The labgrid environment file (--lg-env / LG_ENV), when boards come from a labgrid farm."""
    return getattr(config.option, "lg_env", None) or os.environ.get("LG_ENV") or None


def _env_targets(env: str) -> set[str]:
    import yaml

    try:
        data = yaml.safe_load(Path(env).read_text()) or {}
    except (OSError, yaml.YAMLError):
        return set()  # labgrid itself reports the broken file
    return set((data.get("targets") or {}).keys())


def worker_index() -> int:
    """0 for gw0 (and for a run without xdist), 1 for gw1, ..."""
    match = re.search(r"(\d+)$", os.environ.get("PYTEST_XDIST_WORKER", "gw0"))
    return int(match.group(1)) if match else 0


def absence_reason(board, port: str | None, in_labgrid: bool) -> str | None:
    """Why `board` cannot be used here, or None when it can."""
    if in_labgrid:
        return None
    if board.is_emulated:
        return None if shutil.which("qemu-system-arm") else f"board {board.id}: qemu-system-arm is not installed"
    if board.is_native:
        return None if shutil.which("gcc") else f"board {board.id}: no host C compiler (gcc) for the native board"
    if port:
        return None
    from tinydeploy.link import find_port

    try:
        find_port(board, None)
    except LinkError as err:
        return f"board {board.id} is not connected: {err.message}"
    return None


class Rig:
    """Everything a session shares: built firmware, running devices, acquired labgrid places."""

    def __init__(self, config: pytest.Config, logdir: Path) -> None:
        self.config = config
        self.logdir = logdir
        self.env = labgrid_env(config)
        self._firmware: dict[tuple, Any] = {}
        self._devices: dict[tuple, Any] = {}
        self._failures: dict[tuple, BaseException] = {}
        self._stack = contextlib.ExitStack()
        self.place: str | None = None
        self._place_url: str | None = None

    def option(self, name: str) -> Any:
        return self.config.getoption(name)

    def _remember(self, store: dict, key: tuple, make):
        """make() once per key; a failure is remembered so later tests fail at once instead of retrying."""
        if key in self._failures:
            raise self._failures[key]
        if key not in store:
            try:
                store[key] = make()
            except (UserError, OSError) as err:
                self._failures[key] = err
                raise
        return store[key]

    def firmware(self, model_path: Path, board):
        from tinydeploy.rig.firmware_cache import cached_firmware

        runtime = self.option("tinydeploy_runtime")
        if not Path(model_path).is_file():
            raise UserError(f"{model_path}: no such model file", hint="pass --tinydeploy-model PATH.tflite")
        key = ("fw", board.id, runtime, str(Path(model_path).resolve()), Path(model_path).stat().st_mtime_ns)
        return self._remember(self._firmware, key, lambda: cached_firmware(model_path, board, runtime))

    def device(self, fw):
        from tinydeploy.rig import devices

        key = ("dev", fw.board.id, fw.runtime, fw.model_sha256)
        name = f"{fw.board.id}-{fw.model_sha256[:8]}-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
        if self.env:
            return self._remember(self._devices, key,
                                  lambda: self._check_model(devices.open_url(fw, self.place_url(), place=self.place)))
        if fw.board.is_emulated:
            make = lambda: devices.open_emulated(fw, logdir=self.logdir, name=name)  # noqa: E731
        elif fw.board.is_native:
            make = lambda: devices.open_native(fw)  # noqa: E731
        else:
            make = lambda: devices.open_real(fw, port=self.option("tinydeploy_port"), logdir=self.logdir, name=name)  # noqa: E731
        return self._remember(self._devices, key, make)

    @staticmethod
    def _check_model(device):
        running = device.link.info.model_sha256 if device.link.info else ""
        if running != device.firmware.model_sha256:
            device.close()
            raise UserError(f"{device.where} runs a model with sha256 {running[:16]}..., not "
                            f"{device.firmware.model_path} ({device.firmware.model_sha256[:16]}...)",
                            hint="flash the place with this model's firmware (scripts/labgrid-demo.sh does it for QEMU places)")
        return device

    def place_url(self) -> str:
        """Acquire one free place of the labgrid environment for this worker (held until the session ends)."""
        if self._place_url is not None:
            return self._place_url
        import time

        from tinydeploy.rig.labgrid_place import PlaceBusy, acquired_place, env_places

        places = list(env_places(self.env).values())
        if not places:
            raise UserError(f"{self.env}: no target with a RemotePlace resource", hint="see examples/labgrid/env.yaml")
        start = worker_index() % len(places)
        order = places[start:] + places[:start]
        deadline = time.monotonic() + PLACE_WAIT_S
        while True:
            for place in order:
                try:
                    self._place_url = self._stack.enter_context(acquired_place(place, self.env))
                    self.place = place
                    return self._place_url
                except PlaceBusy:
                    continue
            if time.monotonic() > deadline:
                raise UserError(f"{self.env}: every place is busy ({', '.join(places)}) after {PLACE_WAIT_S:g} s",
                                hint="run fewer xdist workers than there are places, or add places")
            time.sleep(1.0)

    def close(self) -> None:
        for device in self._devices.values():
            device.close()
        self._devices.clear()
        self._stack.close()  # releases the labgrid place


# ---- what a test gets ----------------------------------------------------------------------------------


@dataclass
class Inference:
    outputs: list[np.ndarray]  # real values (dequantized float32), or the stored values with infer(raw=True)
    latency: int
    unit: str  # "cycles", "instructions" (QEMU) or "ns" (native)
    raw_outputs: list[np.ndarray] = field(default_factory=list)  # what the device sent: int8/int16/float32

    @property
    def output(self) -> np.ndarray:
        return self.outputs[0]


class DeployedModel:
    """A model running on a board, as one test sees it."""

    def __init__(self, device, node: pytest.Item, report_dir: Path) -> None:
        self.device = device
        self.firmware = device.firmware
        self.board = device.firmware.board
        self._node = node
        self._report_dir = report_dir
        self._model = None

    @property
    def link(self):
        return self.device.link

    @property
    def dut(self):
        return self.device.dut

    @property
    def model(self):
        if self._model is None:
            from tinydeploy.model.graph import load_model

            self._model = load_model(self.firmware.model_path)
        return self._model

    def infer(self, x: np.ndarray | Sequence[np.ndarray], *, raw: bool = False) -> Inference:
        """One inference of one sample (float data is quantized with the input tensor's parameters).

        The outputs are real values, dequantized with each output tensor's scale and zero point, so they
        compare with the float model's; raw=True gives the stored values the device sent (int8, ...).
        `raw_outputs` holds those either way."""
        from tinydeploy.reference import dequantize_output
        from tinydeploy.verify.inputs import prepare_inputs

        arrays = [np.asarray(a) for a in x] if isinstance(x, (list, tuple)) else [np.asarray(x)]
        tensors = self.model.input_tensors
        # A sample without its batch axis gets one (prepare_inputs wants batches).
        arrays = [a[None] if a.ndim == len(t.shape) - 1 else a for a, t in zip(arrays, tensors)]
        batches = prepare_inputs(arrays, self.model, "infer() input")
        if len(batches[0]) != 1:
            raise UserError(f"infer() takes one sample, got {len(batches[0])}", hint="use verify() for a batch")
        with self.device.exclusive() as link:
            result = link.infer([b.reshape(t.shape) for b, t in zip(batches, tensors)])
        stored = [np.asarray(o) for o in result.outputs]
        real = [dequantize_output(o, t) for o, t in zip(stored, self.model.output_tensors)]
        return Inference(stored if raw else real, result.latency, result.unit, raw_outputs=stored)

    def verify(self, inputs, labels=None, *, n: int | None = None, litert: bool = False, **thresholds):
        """`deploy verify` on this board; returns its VerifyReport (assert on it), attaches it to the test.

        thresholds: Thresholds fields (min_exact_match_rate=1.0 by default, min_accuracy, max_lsb_diff,
        ...); failed ones show in `report.passed` / `report.failed_checks`, nothing is raised for them.
        """
        from tinydeploy.verify import Thresholds, verify_model

        limits = Thresholds(**thresholds)
        with self.device.exclusive() as link:
            try:
                report = verify_model(link, self.firmware.model_path, inputs, labels, board=self.board, n=n,
                                      thresholds=limits, progress=False, firmware=self.firmware.elf, litert=litert,
                                      arena_estimate=getattr(self.firmware, "arena_estimate", None))
            except BaseException as err:
                partial = getattr(err, "partial_report", None)
                if partial is not None:
                    self._attach(partial)
                raise
        self._attach(report)
        return report

    def _attach(self, report) -> None:
        from tinydeploy.verify import write_reports

        stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", self._node.nodeid)[-120:]
        self._report_dir.mkdir(parents=True, exist_ok=True)
        json_path = self._report_dir / f"{stem}.json"
        write_reports(report, json_path=json_path, junit_path=self._report_dir / f"{stem}.xml")
        tflm = report.fidelity.get("tflm", {})
        properties = {  # tinydeploy_board and the place are attached when the fixture is set up
            "tinydeploy_runtime": report.runtime,
            "tinydeploy_port": report.port,
            "tinydeploy_model_sha256": report.model_sha256,
            "tinydeploy_n_inputs": report.n_inputs,
            "tinydeploy_passed": report.passed,
            "tinydeploy_exact_match_rate": tflm.get("exact_match_rate"),
            "tinydeploy_latency_mean": report.latency.get("mean"),
            "tinydeploy_latency_unit": report.latency.get("unit"),
            "tinydeploy_accuracy": (report.fidelity.get("device_accuracy") or {}).get("accuracy")
            if isinstance(report.fidelity.get("device_accuracy"), dict) else report.fidelity.get("device_accuracy"),
            "tinydeploy_rmse": report.fidelity.get("device_rmse"),  # against regression labels
            "tinydeploy_report_json": str(json_path),
        }
        for key, value in properties.items():
            if value is not None:
                self._node.user_properties.append((key, value))


# ---- fixtures ------------------------------------------------------------------------------------------


RIG_KEY = pytest.StashKey[Rig]()


@pytest.fixture(scope="session")
def tinydeploy_rig(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    rig = Rig(request.config, tmp_path_factory.mktemp("tinydeploy-dut-logs"))
    request.config.stash[RIG_KEY] = rig
    yield rig
    rig.close()


@pytest.fixture(scope="session")
def tinydeploy_model_path(request: pytest.FixtureRequest) -> Path:
    """The .tflite under test: --tinydeploy-model.  Override this fixture to pick the model in code."""
    option = request.config.getoption("tinydeploy_model")
    if not option:
        pytest.skip("no model under test: pass --tinydeploy-model PATH.tflite (or override tinydeploy_model_path)")
    return Path(option)


@pytest.fixture
def tinydeploy_board_id(request: pytest.FixtureRequest) -> str:
    """The board of this test: the @pytest.mark.boards parameter, else --tinydeploy-board."""
    board = getattr(request, "param", None) or request.config.getoption("tinydeploy_board")
    if not board:
        pytest.skip("no board: pass --tinydeploy-board ID or mark the test @pytest.mark.boards(...)")
    return board


@pytest.fixture
def deployed_model(request: pytest.FixtureRequest, tinydeploy_rig: Rig, tinydeploy_board_id: str,
                   tinydeploy_model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> DeployedModel:
    from tinydeploy.boards import get_board

    try:
        board = get_board(tinydeploy_board_id)
    except UserError as err:
        pytest.fail(str(err), pytrace=False)
    if tinydeploy_rig.env and request.config.getoption("tinydeploy_board") not in (None, board.id):
        pytest.skip(f"board {board.id}: the labgrid places run {request.config.getoption('tinydeploy_board')}")
    reason = absence_reason(board, request.config.getoption("tinydeploy_port"), bool(tinydeploy_rig.env))
    if reason:
        pytest.skip(reason)
    try:
        fw = tinydeploy_rig.firmware(tinydeploy_model_path, board)
        device = tinydeploy_rig.device(fw)
    except UserError as err:
        pytest.fail(f"{board.id}: {err}", pytrace=False)
    request.node.user_properties.append(("tinydeploy_board", board.id))
    request.node.user_properties.append(("tinydeploy_firmware", f"{fw.elf} ({'built' if fw.built_now else 'cached'})"))
    if device.place:
        request.node.user_properties.append(("tinydeploy_labgrid_place", device.place))
    if device.lost:
        pytest.fail(f"{device.where} was lost earlier in this run: {device.lost}", pytrace=False)
    report_dir = request.config.getoption("tinydeploy_report_dir")
    report_dir = Path(report_dir) if report_dir else tmp_path_factory.getbasetemp() / "tinydeploy-reports"
    return DeployedModel(device, request.node, report_dir)


@pytest.fixture
def tinydeploy_board(deployed_model: DeployedModel):
    """The DeviceLink to the board running the model under test (HELLO checked)."""
    with deployed_model.device.exclusive() as link:
        link.hello()
    return deployed_model.link


@pytest.fixture
def tinydeploy_dut(deployed_model: DeployedModel):
    """The pytest-embedded DUT of the board: `dut.expect(...)` on what the firmware prints."""
    if deployed_model.dut is None:
        pytest.skip(f"{deployed_model.device.where} has no pytest-embedded DUT (native board or labgrid place)")
    return deployed_model.dut
