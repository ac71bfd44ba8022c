"""The serial link end to end: the real harness C (built for the host with a fake runtime and a test
platform under tests/fixtures/harness/) behind a pty, driven by tinydeploy.link.DeviceLink.  Faults are
injected on the host side (FaultyTransport) and on the device side (TD_FAULT_* environment variables)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tinydeploy.errors import LinkError, UserError
from tinydeploy.link import DeviceLink
from tinydeploy.link import protocol as P
from tinydeploy.link.transport import open_transport

sys.path.insert(0, str(Path(__file__).parent / "fixtures" / "harness"))
from fakedev import FakeDevice, FakeModel, FakeTensor, FaultyTransport, boot_frame, build  # noqa: E402

# Two inputs and two outputs, all larger than one frame, so both directions are chunked.
MODEL = FakeModel(inputs=[FakeTensor((1, 40, 30)), FakeTensor((1, 3), "float32", 0.0, 0)],
                  outputs=[FakeTensor((1, 10)), FakeTensor((2, 700), "int8", 0.25, 5)])
SMALL_RX = FakeModel(inputs=MODEL.inputs, outputs=MODEL.outputs, rx_buf=96, tx_buf=200)


@pytest.fixture(scope="module")
def exe(tmp_path_factory):
    return build(MODEL, tmp_path_factory.mktemp("fakedev"))


@pytest.fixture
def device(exe):
    with FakeDevice(exe) as dev:
        yield dev


def sample(seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(-128, 128, (1, 40, 30), dtype=np.int8), rng.random((1, 3), dtype=np.float32)]


def assert_infers(link: DeviceLink, model: FakeModel, seeds) -> None:
    for seed in seeds:
        x = sample(seed)
        result = link.infer(x)
        for got, want in zip(result.outputs, model.expected(x)):
            np.testing.assert_array_equal(got, want)
        assert result.unit == "ns" and result.latency > 0


def open_faulty(url: str, timeout: float = 0.3, **faults) -> DeviceLink:
    link = DeviceLink(FaultyTransport(open_transport(url), **faults), timeout=timeout, invoke_timeout=1.0,
                      max_retries=10)
    link.hello()
    return link


def test_hello_reports_the_firmware(device):
    with DeviceLink.open(device.url, timeout=1.0) as link:
        info = link.info
    assert info.protocol_version == P.PROTOCOL_VERSION
    assert (info.board, info.runtime, info.model_sha256) == ("native", "fake", MODEL.sha256)
    assert [t.shape for t in info.inputs] == [(1, 40, 30), (1, 3)]
    assert [t.dtype.name for t in info.inputs] == ["int8", "float32"]
    assert (info.inputs[0].scale, info.inputs[0].zero_point, info.inputs[0].nbytes) == (0.5, -3, 1200)
    assert (info.outputs[1].shape, info.outputs[1].scale, info.outputs[1].zero_point) == ((2, 700), 0.25, 5)
    assert (info.arena_bytes, info.arena_used_bytes, info.clock_hz) == (4096, 1234, 0)
    assert (info.counter_unit, info.counter_scale, info.latency_unit) == ("ns", 1, "ns")
    assert 400 < info.max_input_chunk < 512 and 400 < info.max_output_chunk < 512


def test_chunked_inference_round_trip(device):
    with DeviceLink.open(device.url, timeout=1.0) as link:
        assert_infers(link, MODEL, range(4))
        assert link.retries == 0 and link.stats.corrupt_frames == 0


def test_tiny_receive_buffer_forces_many_chunks(tmp_path):
    with FakeDevice(build(SMALL_RX, tmp_path)) as dev, DeviceLink.open(dev.url, timeout=1.0) as link:
        assert link.info.max_input_chunk < 96 and link.info.max_output_chunk < 200
        assert_infers(link, SMALL_RX, range(3))


def test_payload_efficiency_is_at_least_90_percent_for_1kb_inputs(tmp_path):
    model = FakeModel(inputs=[FakeTensor((1, 1024))], outputs=[FakeTensor((1, 10))])
    with FakeDevice(build(model, tmp_path)) as dev, DeviceLink.open(dev.url, timeout=1.0) as link:
        start_raw = link.transport.bytes_written + link.transport.bytes_read
        x = [np.arange(1024, dtype=np.int64).astype(np.int8).reshape(1, 1024)]
        for _ in range(5):
            np.testing.assert_array_equal(link.infer(x).outputs[0], model.expected(x)[0])
        raw = link.transport.bytes_written + link.transport.bytes_read - start_raw
        assert link.stats.payload_bytes / raw >= 0.90


@pytest.mark.parametrize("faults", [
    {"corrupt_write": 3},      # requests damaged on the way: device NAKs, host resends
    {"drop_write": 4},         # requests lost: host times out, resends
    {"dup_write": 2},          # requests duplicated: device answers from its cache, never runs twice
    {"corrupt_read": 997},     # replies damaged: host rejects them (CRC), asks again
], ids=["corrupt-request", "lost-request", "duplicate-request", "corrupt-reply"])
def test_host_side_faults_are_retried_never_accepted(device, faults):
    link = open_faulty(device.url, **faults)
    try:
        assert_infers(link, MODEL, range(6))
        if "dup_write" not in faults:
            assert link.retries > 0
        if "corrupt_read" in faults:
            assert link.stats.corrupt_frames > 0
    finally:
        link.close()


@pytest.mark.parametrize("env", [{"TD_FAULT_CORRUPT_EVERY": "701"}, {"TD_FAULT_DROP_EVERY": "650"}],
                         ids=["device-corrupts-replies", "device-drops-bytes"])
def test_device_side_faults_are_retried(exe, env):
    with FakeDevice(exe, env) as dev:
        link = open_faulty(dev.url)
        try:
            assert_infers(link, MODEL, range(6))
            assert link.retries > 0
        finally:
            link.close()


def test_device_that_stops_answering_is_a_link_error_within_the_timeout(exe):
    with FakeDevice(exe, {"TD_FAULT_MUTE_AFTER": "3000"}) as dev:
        link = DeviceLink.open(dev.url, timeout=0.2, max_retries=3)
        start = time.monotonic()
        with pytest.raises(LinkError) as err:
            for seed in range(10):
                link.infer(sample(seed))
        elapsed = time.monotonic() - start
        link.close()
    assert dev.url in str(err.value) and "after 4 tries" in str(err.value)
    assert elapsed < 0.2 * 4 * 3 + 1.0


def test_device_reboot_mid_run_is_noticed_and_the_run_completes(exe):
    with FakeDevice(exe, {"TD_FAULT_REBOOT_AFTER": "3"}) as dev:
        with DeviceLink.open(dev.url, timeout=0.5) as link:
            assert_infers(link, MODEL, range(6))
            assert link.stats.reboots == 1


def test_device_that_resets_into_other_firmware_is_a_link_error(exe, tmp_path):
    other = build(FakeModel(inputs=MODEL.inputs, outputs=MODEL.outputs, sha256="ab" * 32), tmp_path)
    with FakeDevice(exe, {"TD_FAULT_REBOOT_AFTER": "2", "TD_FAULT_REBOOT_INTO": str(other)}) as dev:
        with DeviceLink.open(dev.url, timeout=0.5) as link:
            with pytest.raises(LinkError, match="different firmware"):
                assert_infers(link, MODEL, range(4))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(garbage=st.lists(st.binary(min_size=1, max_size=700), min_size=1, max_size=4))
def test_device_survives_garbage_and_keeps_working(device, garbage):
    raw = Raw(device.url)
    for blob in garbage:
        raw.t.write(blob + b"\x00")
    time.sleep(0.01)
    raw.t.close()
    with DeviceLink.open(device.url, timeout=1.0) as link:
        assert_infers(link, MODEL, [len(garbage)])


def test_device_reboot_with_its_boot_frame_lost_is_still_noticed(exe):
    # Without BOOT the host learns of the reset from the device refusing INVOKE/INPUT for lack of input.
    with FakeDevice(exe, {"TD_FAULT_REBOOT_AFTER": "2"}) as dev:
        link = open_faulty(dev.url, drop_boot=boot_frame("native"))
        try:
            assert_infers(link, MODEL, range(5))
            assert link.stats.reboots == 1
        finally:
            link.close()


def test_socket_transport_keeps_bytes_before_eof_then_raises():
    import socket
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def talk() -> None:
        conn, _ = server.accept()
        conn.sendall(P.encode_frame(P.ACK, 5))
        conn.close()

    thread = threading.Thread(target=talk)
    thread.start()
    transport = open_transport(f"socket://127.0.0.1:{server.getsockname()[1]}")
    got = b""
    with pytest.raises(LinkError, match="closed the connection"):
        while True:
            got += transport.read(2.0)
    thread.join()
    server.close()
    assert got == P.encode_frame(P.ACK, 5)


def test_runtime_init_failure_is_reported_with_its_message(tmp_path):
    model = FakeModel(inputs=MODEL.inputs, outputs=MODEL.outputs, init_fail=True)
    with FakeDevice(build(model, tmp_path)) as dev:
        with pytest.raises(UserError, match="arena too small"):
            DeviceLink.open(dev.url, timeout=1.0)


def test_wrong_input_shape_is_a_user_error(device):
    with DeviceLink.open(device.url, timeout=1.0) as link:
        with pytest.raises(UserError, match="input 0"):
            link.infer([np.zeros((1, 10), np.int8), np.zeros((1, 3), np.float32)])


def test_unopenable_port_names_it():
    with pytest.raises(LinkError, match="/dev/does-not-exist"):
        DeviceLink.open("/dev/does-not-exist")


# ---- the device's answers to raw frames -----------------------------------------------------------


class Raw:
    """Speak frames to the device directly."""

    def __init__(self, url: str) -> None:
        self.t = open_transport(url)
        self.splitter = P.FrameSplitter()
        self.t.discard_input()

    def ask(self, wire: bytes, timeout: float = 1.0) -> list[bytes]:
        self.t.write(wire)
        deadline = time.monotonic() + timeout
        frames: list[bytes] = []
        while not frames and time.monotonic() < deadline:
            frames += self.splitter.feed(self.t.read(deadline - time.monotonic()))
        return frames

    def frame(self, wire: bytes) -> P.Frame:
        frames = [P.decode_frame(f) for f in self.ask(wire)]
        return [f for f in frames if f.type != P.BOOT][0]


def test_device_answers_every_bad_frame(device):
    raw = Raw(device.url)
    raw.frame(P.encode_frame(P.HELLO, 1))
    bad_crc = bytearray(P.encode_frame(P.HELLO, 2))
    bad_crc[2] ^= 0x01
    err = raw.frame(bytes(bad_crc))
    assert err.type == P.ERROR and P.parse_error(err.payload).code == P.E_BAD_CRC
    err = raw.frame(P.encode_frame(0x42, 3))
    assert err.type == P.ERROR and err.seq == 3 and P.parse_error(err.payload).code == P.E_UNKNOWN_TYPE
    err = raw.frame(P.encode_frame(P.INPUT, 4, P.OFFSET.pack(100) + b"x"))
    assert P.parse_error(err.payload).code == P.E_OUT_OF_ORDER and P.parse_error(err.payload).detail == 0
    err = raw.frame(P.encode_frame(P.INVOKE, 5))
    assert P.parse_error(err.payload).code == P.E_INCOMPLETE
    err = raw.frame(b"\x01" * 600 + b"\x00")  # longer than the receive buffer
    assert P.parse_error(err.payload).code == P.E_OVERFLOW
    err = raw.frame(P.encode_frame(P.READ, 6, b"\x00"))
    assert P.parse_error(err.payload).code == P.E_BAD_LENGTH


def test_repeated_seq_gets_the_cached_reply_not_a_second_run(device):
    raw = Raw(device.url)
    raw.frame(P.encode_frame(P.HELLO, 10))
    data = b"".join(a.tobytes() for a in sample(0))
    chunk = 400
    raw.frame(P.encode_frame(P.INPUT, 11, P.OFFSET.pack(0) + data[:chunk]))
    again = raw.frame(P.encode_frame(P.INPUT, 11, P.OFFSET.pack(0) + data[:chunk]))
    assert again.type == P.ACK  # a second execution would also ACK; the INVOKE below tells them apart
    raw.frame(P.encode_frame(P.INPUT, 12, P.OFFSET.pack(chunk) + data[chunk:2 * chunk]))
    invoke = P.encode_frame(P.INVOKE, 13, P.OFFSET.pack(2 * chunk) + data[2 * chunk:])
    first = raw.frame(invoke)
    second = raw.frame(invoke)
    assert first.type == P.RESULT
    assert second == first  # same latency bytes: answered from the cache, not invoked again
    third = raw.frame(P.encode_frame(P.INVOKE, 14))  # a new seq does run: the input was consumed
    assert P.parse_error(third.payload).code == P.E_INCOMPLETE


def test_port_autodetect_by_usb_id(monkeypatch):
    from tinydeploy.boards import get_board
    from tinydeploy.link import detect

    board = get_board("nucleo-f446re")
    vidpid = board.serial.usb_ids[0]
    ports = [("/dev/ttyACM3", vidpid, "ST-Link"), ("/dev/ttyUSB0", "0403:6001", "FTDI")]
    monkeypatch.setattr(detect, "_usb_ports", lambda: ports)
    assert detect.find_port(board) == "/dev/ttyACM3"
    assert detect.find_port(board, "rfc2217://rig:4000") == "rfc2217://rig:4000"
    monkeypatch.setattr(detect, "_usb_ports", lambda: ports[1:])
    with pytest.raises(LinkError, match=f"looking for {vidpid}.*ttyUSB0"):
        detect.find_port(board)
    monkeypatch.setattr(detect, "_usb_ports", lambda: [ports[0], ("/dev/ttyACM4", vidpid, "ST-Link")])
    with pytest.raises(LinkError, match="several"):
        detect.find_port(board)
    with pytest.raises(LinkError, match="--port"):
        detect.find_port(get_board("qemu-m4"))


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # inside pyserial's rfc2217 module
def test_remote_rig_over_rfc2217(device):
    """A remote rig: pyserial's RFC 2217 port manager serves the device's port over TCP."""
    import socket
    import threading

    import serial
    import serial.rfc2217

    class PtyPort(serial.Serial):  # a pty has no modem lines: report them idle, ignore setting them
        cts = dsr = ri = cd = property(lambda self: False)

        def _update_rts_state(self) -> None:
            pass

        def _update_dtr_state(self) -> None:
            pass

        def _update_break_state(self) -> None:
            pass

    port = PtyPort(device.url, timeout=0.05)
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    stop = threading.Event()

    def serve() -> None:
        conn, _ = server.accept()
        conn.settimeout(0.05)
        class Connection:  # PortManager writes its negotiation replies through .write()
            def write(self, data: bytes) -> None:
                conn.sendall(data)

        manager = serial.rfc2217.PortManager(port, Connection())

        def device_to_net() -> None:
            while not stop.is_set():
                data = port.read(port.in_waiting or 1)
                if data:
                    conn.sendall(b"".join(manager.escape(data)))

        pump = threading.Thread(target=device_to_net, daemon=True)
        pump.start()
        while not stop.is_set():
            try:
                data = conn.recv(4096)
            except socket.timeout:
                continue
            if not data:
                break
            port.write(b"".join(manager.filter(data)))
        pump.join(1)
        conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        with DeviceLink.open(f"rfc2217://127.0.0.1:{server.getsockname()[1]}", timeout=2.0) as link:
            assert link.info.board == "native"
            assert_infers(link, MODEL, range(2))
    finally:
        stop.set()
        thread.join(2)
        server.close()
        port.close()
