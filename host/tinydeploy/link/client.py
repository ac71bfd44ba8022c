"""The host side of the protocol: `DeviceLink.open(url).infer(inputs)`.

Stop-and-wait with sequence numbers: each request waits for the reply carrying its seq.  A reply that
does not come (timeout), comes corrupt (COBS/CRC) or is a NAK makes the host send the same request with
the same seq again; the device answers a repeated seq from its reply cache, so nothing runs twice.
Every such resend is counted in `retries`; after `max_retries` resends of one request the link gives up
with a `LinkError` naming the port.  A device reset (BOOT frame, or the device saying it lost the input
it had been sent) restarts the current inference after checking with HELLO that it is still the same
firmware.
"""

from __future__ import annotations

import random
import struct
import time
from dataclasses import dataclass
from typing import Callable, TypeVar

import numpy as np

from tinydeploy.errors import LinkError, UserError
from tinydeploy.link import protocol as P
from tinydeploy.link.protocol import DeviceError, DeviceInfo, Frame
from tinydeploy.link.transport import Transport, open_transport


@dataclass
class InferResult:
    outputs: list[np.ndarray]
    latency: int  # in `unit`
    unit: str  # "cycles", "instructions", "ns"
    stack_bytes: int


@dataclass
class LinkStats:
    retries: int = 0  # requests sent again (timeout, corrupt reply, NAK)
    corrupt_frames: int = 0  # received frames rejected by COBS/CRC
    timeouts: int = 0
    reboots: int = 0  # device resets noticed and recovered from
    payload_bytes: int = 0  # tensor bytes moved (inputs sent + outputs received)


T = TypeVar("T")


class DeviceReset(Exception):
    """Internal: the device was reset (or lost its state) in the middle of an inference."""


class UnsupportedRequest(LinkError):
    """The firmware does not know a request type (e.g. the layers extension in a build without it)."""


class DeviceLink:
    def __init__(self, transport: Transport, *, timeout: float = 2.0, invoke_timeout: float = 60.0,
                 max_retries: int = 8, max_resets: int = 3) -> None:
        self.transport = transport
        self.url = transport.url
        self.timeout = timeout
        self.invoke_timeout = max(invoke_timeout, timeout)
        self.max_retries = max_retries
        self.max_resets = max_resets
        self.stats = LinkStats()
        self.info: DeviceInfo | None = None
        self._seq = random.randrange(256)
        self._splitter = P.FrameSplitter()
        self._pending: list[bytes] = []
        self._slowest_invoke: float | None = None  # wall seconds of the slowest INVOKE round trip so far

    # ---- construction ----------------------------------------------------------------------------

    @classmethod
    def open(cls, url: str, *, timeout: float = 2.0, baud: int = 115200, **kwargs) -> "DeviceLink":
        """Open the port and greet the device (HELLO); the link is ready to infer."""
        return cls.over(open_transport(url, baud=baud), timeout=timeout, **kwargs)

    @classmethod
    def over(cls, transport, *, timeout: float = 2.0, **kwargs) -> "DeviceLink":
        """A link on a transport the caller already opened (e.g. a port shared with a test's DUT reader);
        greets the device (HELLO) and closes the transport if that fails."""
        link = cls(transport, timeout=timeout, **kwargs)
        try:
            link.transport.discard_input()
            link.hello()
        except BaseException:
            link.close()
            raise
        return link

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> "DeviceLink":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- figures ---------------------------------------------------------------------------------

    @property
    def retries(self) -> int:
        return self.stats.retries

    @property
    def payload_efficiency(self) -> float:
        """Tensor bytes moved / all bytes on the wire (both directions), since the link opened."""
        raw = self.transport.bytes_written + self.transport.bytes_read
        return self.stats.payload_bytes / raw if raw else 0.0

    # ---- requests --------------------------------------------------------------------------------

    def hello(self) -> DeviceInfo:
        """Ask the device who it is; the first answer is kept in `.info`."""
        frame = self._request(P.HELLO, b"", hello=True)
        info = self._parsed(frame, P.parse_hello)
        if info.runtime_status != 0:
            raise UserError(f"firmware on {self.url}: runtime init failed: {info.runtime_error}",
                            hint="rebuild the firmware with a larger arena, or check the model")
        if self.info is None:
            self.info = info
        elif info.identity() != self.info.identity():
            raise LinkError(f"{self.url}: the device came back from a reset as different firmware "
                            f"(model {info.model_sha256[:12]}, was {self.info.model_sha256[:12]})",
                            hint="another program was flashed mid-run; run again")
        return info

    def infer(self, inputs: list[np.ndarray]) -> InferResult:
        """Run one inference on the device; inputs must match its input tensors' dtypes and sizes."""
        info = self._require_info()
        data = self._input_bytes(inputs, info)
        for _ in range(self.max_resets + 1):
            try:
                return self._infer_once(data, info)
            except DeviceReset:
                self.stats.reboots += 1
                self._resync()
        raise LinkError(f"{self.url}: the device reset {self.stats.reboots} times during one inference",
                        hint="it probably crashes on this input: check the arena size and the stack")

    # ---- the layers extension (firmware built with -DTD_LAYERS; docs/protocol.md "Layers") --------

    def layers(self) -> P.LayersPage:
        """Every layer the firmware reports, with its ticks from the last profiled invoke (one page holding
        all entries).  UnsupportedRequest when the firmware was built without the extension."""
        pages = [self._layers_page(0)]
        while pages[0].count > pages[0].first + sum(len(p.entries) for p in pages):
            got = sum(len(p.entries) for p in pages)
            page = self._layers_page(got)
            if not page.entries:
                raise LinkError(f"{self.url}: LAYERS page at {got} is empty, {page.count} layers announced")
            pages.append(page)
        head = pages[0]
        entries = tuple(e for p in pages for e in p.entries)
        return P.LayersPage(head.version, head.flags, head.count, 0, entries)

    def profile_next(self, stop_after: int | None = None) -> None:
        """Arm the next inference: time each layer, and stop after layer `stop_after` (None: run all)."""
        self._layers_request(P.PROFILE, P.PROFILE_REQ.pack(P.LAYER_ALL if stop_after is None else stop_after))

    def read_layer(self, layer: int, nbytes: int) -> bytes:
        """The output bytes of `layer`, which the last inference (armed with profile_next(layer)) stopped
        after; read in chunks no larger than the device's frames."""
        info = self._require_info()
        out = bytearray()
        while len(out) < nbytes:
            want = min(nbytes - len(out), info.max_output_chunk, 0xFFFF)
            reply = self._layers_request(P.READ_LAYER, P.READ_LAYER_REQ.pack(layer, len(out), want))
            if len(reply.payload) < P.LAYER_OUT_HEAD.size:
                raise LinkError(f"{self.url}: LAYER_OUT frame of {len(reply.payload)} bytes is too short")
            index, at = P.LAYER_OUT_HEAD.unpack_from(reply.payload)
            piece = reply.payload[P.LAYER_OUT_HEAD.size :]
            if index != layer or at != len(out) or not piece:
                raise LinkError(f"{self.url}: LAYER_OUT of layer {index} at offset {at} with {len(piece)} bytes, "
                                f"asked layer {layer} at {len(out)}")
            out += piece
        return bytes(out[:nbytes])

    def _layers_page(self, first: int) -> P.LayersPage:
        reply = self._layers_request(P.LAYERS, P.LAYERS_REQ.pack(first))
        try:
            return P.parse_layers(reply.payload)
        except ValueError as err:
            raise LinkError(f"{self.url}: unreadable LAYERS reply: {err}",
                            hint="rebuild the firmware with this version of tinydeploy") from err

    def _layers_request(self, ftype: int, payload: bytes) -> Frame:
        try:
            return self._request(ftype, payload)
        except DeviceReset:
            self.stats.reboots += 1
            self._resync()
            raise LinkError(f"{self.url}: the device reset during a {P.TYPE_NAMES[ftype]} request",
                            hint="it may crash on this model: check the arena size and the stack") from None

    # ---- internals -------------------------------------------------------------------------------

    def _require_info(self) -> DeviceInfo:
        if self.info is None:
            self.hello()
        assert self.info is not None
        return self.info

    def _input_bytes(self, inputs: list[np.ndarray], info: DeviceInfo) -> bytes:
        if len(inputs) != len(info.inputs):
            raise UserError(f"the firmware on {self.url} takes {len(info.inputs)} input(s), got {len(inputs)}")
        parts = []
        for i, (array, spec) in enumerate(zip(inputs, info.inputs)):
            array = np.asarray(array)
            if array.dtype != spec.dtype or array.nbytes != spec.nbytes:
                raise UserError(f"input {i}: got {array.dtype}{list(array.shape)}, the firmware expects "
                                f"{spec.describe()} ({spec.nbytes} bytes)",
                                hint="quantize float inputs with the input tensor's scale and zero point")
            parts.append(np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<")).tobytes())
        return b"".join(parts)

    def _infer_once(self, data: bytes, info: DeviceInfo) -> InferResult:
        chunk = max(1, info.max_input_chunk)
        offset = 0
        while len(data) - offset > chunk:
            self._request(P.INPUT, P.OFFSET.pack(offset) + data[offset : offset + chunk])
            offset += chunk
        started, retries_before = time.monotonic(), self.stats.retries
        result = self._request(P.INVOKE, P.OFFSET.pack(offset) + data[offset:], timeout=self._invoke_wait())
        if self.stats.retries == retries_before:  # a clean round trip: a fair measure of the inference time
            self._slowest_invoke = max(time.monotonic() - started, self._slowest_invoke or 0.0)
        ticks, stack, total, first = self._parsed(result, P.parse_result)
        out = bytearray(first)
        if len(out) > total:
            raise LinkError(f"{self.url}: RESULT carries {len(out)} output bytes of the {total} it announces")
        if total != info.output_bytes:
            raise LinkError(f"{self.url}: device reports {total} output bytes, HELLO said {info.output_bytes}")
        while len(out) < total:
            want = min(total - len(out), info.max_output_chunk, 0xFFFF)
            reply = self._request(P.READ, P.READ_REQ.pack(len(out), want))
            at, piece = self._parsed(reply, P.parse_output)
            if at != len(out) or not piece or len(piece) > want:
                raise LinkError(f"{self.url}: OUTPUT at offset {at} with {len(piece)} bytes, asked {want} bytes "
                                f"at {len(out)}")
            out += piece
        self.stats.payload_bytes += len(data) + total
        return InferResult(self._split_outputs(bytes(out), info), ticks * max(1, info.counter_scale),
                           info.latency_unit, stack)

    @staticmethod
    def _split_outputs(raw: bytes, info: DeviceInfo) -> list[np.ndarray]:
        outputs, pos = [], 0
        for spec in info.outputs:
            array = np.frombuffer(raw[pos : pos + spec.nbytes], dtype=spec.dtype.newbyteorder("<"))
            outputs.append(array.astype(spec.dtype).reshape(spec.shape))
            pos += spec.nbytes
        return outputs

    def _invoke_wait(self) -> float:
        """How long to wait for a RESULT: `invoke_timeout` until one inference was timed, then a generous
        multiple of the slowest seen, so that a lost INVOKE frame costs seconds, not a minute."""
        if self._slowest_invoke is None:
            return self.invoke_timeout
        return min(self.invoke_timeout, max(self.timeout, 4 * self._slowest_invoke + self.timeout))

    def _resync(self) -> None:
        """After a reset: wait for the device to answer HELLO again, as the same firmware."""
        self._splitter.clear()
        self._pending.clear()
        self.hello()

    def _next_seq(self) -> int:
        self._seq = (self._seq + 1) & 0xFF
        return self._seq

    def _request(self, ftype: int, payload: bytes, *, timeout: float | None = None,
                 hello: bool = False) -> Frame:
        """Send one request and return its reply, resending on loss/corruption; raises DeviceReset."""
        seq = self._next_seq()
        wire = P.encode_frame(ftype, seq, payload)
        expect = P.REPLY_TO[ftype]
        name = P.TYPE_NAMES[ftype]
        wait = self.timeout if timeout is None else timeout
        last_problem = "no reply"
        for attempt in range(self.max_retries + 1):
            if attempt:
                self.stats.retries += 1
                # A leading delimiter ends any half-received garbage in the device's decoder.
                self.transport.write(b"\x00" + wire)
            else:
                self.transport.write(wire)
            outcome = self._await_reply(seq, expect, wait, hello)
            if isinstance(outcome, Frame):
                return outcome
            last_problem = outcome
        raise LinkError(f"{self.url}: no valid reply to {name} after {self.max_retries + 1} tries "
                        f"({last_problem})",
                        hint="is the board running tinydeploy firmware at this port and baud rate?")

    def _await_reply(self, seq: int, expect: int, wait: float, hello: bool) -> Frame | str:
        """The reply to `seq`, or a short reason to resend."""
        deadline = time.monotonic() + wait
        while True:
            frame = self._next_frame(deadline)
            if frame is None:
                self.stats.timeouts += 1
                return f"timed out after {wait:g} s"
            if frame == "corrupt":
                return "corrupt reply"
            assert isinstance(frame, Frame)
            if frame.type == P.BOOT:
                if hello:
                    # The device announces BOOT before it reads anything, so our HELLO is answered next;
                    # had the reset swallowed it, the timeout resends it.
                    continue
                raise DeviceReset()
            if frame.type == P.ERROR:
                error = self._parsed(frame, P.parse_error)
                if error.code in P.NAK_CODES:
                    return f"device NAK: {error.describe()}"
                if frame.seq != seq:
                    continue  # a stale answer to an earlier request
                if error.code in P.LOST_STATE_CODES:
                    raise DeviceReset()
                raise self._device_error(error)
            if frame.seq == seq and frame.type == expect:
                return frame
            # Anything else is a duplicate or stale reply (e.g. to a request we already retried).

    def _parsed(self, frame: Frame, parse: Callable[[bytes], T]) -> T:
        """parse(frame.payload), a LinkError naming the frame and what is wrong with it when it is malformed:
        its CRC was valid, so resending would bring the same bytes back."""
        try:
            return parse(frame.payload)
        except (ValueError, struct.error) as err:
            raise LinkError(f"{self.url}: malformed {frame.name} frame (seq {frame.seq}, {len(frame.payload)} "
                            f"payload bytes): {err}",
                            hint="host and firmware disagree about the protocol: rebuild the firmware with "
                                 "this version of tinydeploy") from None

    def _device_error(self, error: DeviceError) -> UserError:
        if error.code == P.E_INVOKE:
            return LinkError(f"{self.url}: inference failed on the device: {error.describe()}")
        if error.code == P.E_RUNTIME:
            return UserError(f"firmware on {self.url}: runtime init failed: {error.message}")
        if error.code == P.E_UNKNOWN_TYPE:
            name = P.TYPE_NAMES.get(error.detail, f"type 0x{error.detail:02x}")
            return UnsupportedRequest(f"the firmware on {self.url} does not know the {name} request",
                                      hint="it was built without that feature (or by an older tinydeploy): rebuild it")
        return LinkError(f"{self.url}: device rejected a request: {error.describe()}",
                         hint="host and firmware disagree about the protocol: rebuild the firmware")

    def _next_frame(self, deadline: float) -> Frame | str | None:
        """The next well-formed frame, "corrupt" for a rejected one, None at the deadline."""
        while not self._pending:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            self._pending.extend(self._splitter.feed(self.transport.read(remaining)))
        encoded = self._pending.pop(0)
        try:
            return P.decode_frame(encoded)
        except ValueError:
            self.stats.corrupt_frames += 1
            return "corrupt"
