/* td_harness.c - frame dispatcher and main loop of the device side of the protocol (docs/protocol.md).
 *
 * Single-threaded and allocation-free: one receive buffer (encoded bytes of the frame being received,
 * decoded in place), one transmit buffer (the last reply, kept so that a retried request is answered
 * from it instead of being executed twice), and a tiny buffer for NAKs so they never clobber that cache.
 */
#include <string.h>

#include "td_harness.h"
#include "td_platform.h"
#include "td_protocol.h"
#include "td_runtime.h"
#ifdef TD_LAYERS
#include "td_layers.h"
#endif

#if TD_RX_BUF < 64 || TD_TX_BUF < 128
#error "TD_RX_BUF must be >= 64 and TD_TX_BUF >= 128 bytes"
#endif

/* Largest decoded request we accept, and the data bytes one INPUT/INVOKE frame can carry. */
#define RX_FRAME_MAX TD_COBS_MAX_DECODED(TD_RX_BUF)
#define RX_DATA_MAX (RX_FRAME_MAX - TD_FRAME_OVERHEAD - 4u)
/* Data bytes one OUTPUT frame can carry (its payload is offset u32 + data). */
#define TX_DATA_MAX (TD_TX_BUF - TD_FRAME_OVERHEAD - 4u)
/* RESULT payload is latency u32, stack u32, output total u32, then the first output bytes. */
#define RESULT_HEAD 12u

static uint8_t rx_buf[TD_RX_BUF];
static uint8_t tx_buf[TD_TX_BUF];
static size_t tx_len;
static uint8_t nak_buf[48];

/* The request the cached reply in tx_buf answers. */
static int have_cached;
static uint8_t cached_type, cached_seq;

static int runtime_status;
static uint32_t input_total, output_total;
static uint32_t input_received; /* next expected input offset (inputs concatenated in index order) */

/* ---- little-endian helpers ------------------------------------------------------------------------ */

static void put_u32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)(v >> 16);
  p[3] = (uint8_t)(v >> 24);
}

static uint32_t get_u32(const uint8_t *p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

#ifdef TD_LAYERS
static void put_u16(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
}

static uint32_t get_u16(const uint8_t *p) { return (uint32_t)p[0] | ((uint32_t)p[1] << 8); }
#endif

/* ---- sending -------------------------------------------------------------------------------------- */

static void send_raw(uint8_t *frame, size_t payload_len) {
  size_t n = TD_FRAME_HEADER + payload_len;
  put_u32(frame + n, td_crc32(frame, n));
  td_cobs_write(frame, n + TD_FRAME_CRC);
  static const uint8_t delimiter = 0;
  td_link_write(&delimiter, 1);
}

/* Start a reply in tx_buf; returns where its payload goes. */
static uint8_t *reply_begin(uint8_t type, uint8_t seq) {
  tx_buf[0] = type;
  tx_buf[1] = seq;
  return tx_buf + TD_FRAME_HEADER;
}

static void reply_send(size_t payload_len) {
  tx_len = payload_len;
  send_raw(tx_buf, payload_len);
}

static size_t put_error(uint8_t *p, size_t room, uint8_t code, uint32_t detail, const char *message) {
  p[0] = code;
  put_u32(p + 1, detail);
  size_t n = message ? strlen(message) : 0;
  if (n > room - 5u) n = room - 5u;
  if (n) memcpy(p + 5, message, n);
  return 5u + n;
}

static void reply_error(uint8_t seq, uint8_t code, uint32_t detail, const char *message) {
  uint8_t *p = reply_begin(TD_T_ERROR, seq);
  reply_send(put_error(p, TD_TX_BUF - TD_FRAME_OVERHEAD, code, detail, message));
}

/* A NAK answers a frame we could not read: seq unknown, and the reply cache stays untouched. */
static void send_nak(uint8_t code, const char *message) {
  nak_buf[0] = TD_T_ERROR;
  nak_buf[1] = 0;
  size_t n = put_error(nak_buf + TD_FRAME_HEADER, sizeof nak_buf - TD_FRAME_OVERHEAD, code, 0, message);
  send_raw(nak_buf, n);
}

static void send_boot(void) {
  const char *board = td_platform_board();
  size_t n = strlen(board);
  if (n > sizeof nak_buf - TD_FRAME_OVERHEAD - 1u) n = sizeof nak_buf - TD_FRAME_OVERHEAD - 1u;
  nak_buf[0] = TD_T_BOOT;
  nak_buf[1] = 0;
  nak_buf[2] = TD_PROTOCOL_VERSION;
  memcpy(nak_buf + 3, board, n);
  static const uint8_t delimiter = 0;
  td_link_write(&delimiter, 1); /* ends whatever garbage the host's decoder may hold */
  send_raw(nak_buf, 1u + n);
}

/* ---- HELLO ---------------------------------------------------------------------------------------- */

/* Appends a length-prefixed string; returns the new write position or NULL when out of room. */
static uint8_t *put_string(uint8_t *p, const uint8_t *end, const char *s) {
  size_t n = s ? strlen(s) : 0;
  if (n > 255u) n = 255u;
  if ((size_t)(end - p) < n + 1u) return NULL;
  *p++ = (uint8_t)n;
  if (n) memcpy(p, s, n);
  return p + n;
}

static uint8_t *put_spec(uint8_t *p, const uint8_t *end, const td_tensor_spec *spec) {
  uint8_t ndims = spec->ndims > TD_MAX_DIMS ? TD_MAX_DIMS : spec->ndims;
  if ((size_t)(end - p) < 2u + 4u * ndims + 12u) return NULL;
  *p++ = spec->dtype;
  *p++ = ndims;
  for (uint8_t d = 0; d < ndims; d++, p += 4) put_u32(p, (uint32_t)spec->dims[d]);
  uint32_t scale_bits;
  memcpy(&scale_bits, &spec->scale, sizeof scale_bits);
  put_u32(p, scale_bits);
  put_u32(p + 4, (uint32_t)spec->zero_point);
  put_u32(p + 8, spec->bytes);
  return p + 12;
}

static void handle_hello(uint8_t seq) {
  uint8_t *start = reply_begin(TD_T_HELLO_R, seq);
  const uint8_t *end = tx_buf + TD_TX_BUF - TD_FRAME_CRC;
  uint8_t *p = start;
  int ok = runtime_status == 0;
  *p++ = TD_PROTOCOL_VERSION;
  put_u32(p, (uint32_t)runtime_status);
  put_u32(p + 4, RX_DATA_MAX);
  put_u32(p + 8, TX_DATA_MAX);
  put_u32(p + 12, td_platform_clock_hz());
  put_u32(p + 16, td_counter_scale());
  put_u32(p + 20, ok ? td_arena_bytes() : 0u);
  put_u32(p + 24, ok ? td_arena_used_bytes() : 0u);
  p += 28;
  memcpy(p, td_model_sha256(), 32);
  p += 32;
  p = put_string(p, end, td_platform_board());
  if (p) p = put_string(p, end, td_runtime_name());
  if (p) p = put_string(p, end, td_counter_unit());
  if (p) p = put_string(p, end, ok ? "" : td_runtime_error());
  int n_in = ok ? td_input_count() : 0, n_out = ok ? td_output_count() : 0;
  if (p && end - p >= 2) {
    *p++ = (uint8_t)n_in;
    *p++ = (uint8_t)n_out;
  } else {
    p = NULL;
  }
  for (int i = 0; p && i < n_in; i++) p = put_spec(p, end, td_input_spec(i));
  for (int i = 0; p && i < n_out; i++) p = put_spec(p, end, td_output_spec(i));
  if (!p) {
    reply_error(seq, TD_E_BAD_LENGTH, TD_TX_BUF, "HELLO reply does not fit TD_TX_BUF: build with a larger one");
    return;
  }
  reply_send((size_t)(p - start));
}

/* ---- input, invoke, output ------------------------------------------------------------------------ */

/* Copy len bytes at offset of the concatenated inputs into the runtime's input tensors. */
static void scatter_input(uint32_t offset, const uint8_t *data, uint32_t len) {
  uint32_t base = 0;
  for (int i = 0; i < td_input_count() && len; i++) {
    uint32_t size = td_input_spec(i)->bytes;
    if (offset < base + size) {
      uint32_t at = offset - base, n = size - at < len ? size - at : len;
      memcpy((uint8_t *)td_input_data(i) + at, data, n);
      data += n;
      offset += n;
      len -= n;
    }
    base += size;
  }
}

static uint32_t gather_output(uint32_t offset, uint8_t *out, uint32_t len) {
  uint32_t base = 0, copied = 0;
  for (int i = 0; i < td_output_count() && copied < len; i++) {
    uint32_t size = td_output_spec(i)->bytes;
    if (offset < base + size) {
      uint32_t at = offset - base, n = size - at < len - copied ? size - at : len - copied;
      memcpy(out + copied, (const uint8_t *)td_output_data(i) + at, n);
      copied += n;
      offset += n;
    }
    base += size;
  }
  return copied;
}

#ifdef TD_LAYERS
static void layers_forget(void);
#endif

/* Store one input chunk; returns 0, or sends the error reply and returns -1. */
static int take_input(uint8_t seq, const uint8_t *payload, size_t len) {
  if (len < 4u) {
    reply_error(seq, TD_E_BAD_LENGTH, (uint32_t)len, "input chunk shorter than its offset");
    return -1;
  }
  uint32_t offset = get_u32(payload), n = (uint32_t)(len - 4u);
  if (offset == 0) input_received = 0; /* offset 0 starts a new inference */
  if (offset != input_received) {
    reply_error(seq, TD_E_OUT_OF_ORDER, input_received, "input chunk out of order");
    return -1;
  }
  if (n > input_total - offset) {
    reply_error(seq, TD_E_BAD_LENGTH, input_total, "input chunk beyond the input tensors");
    return -1;
  }
#ifdef TD_LAYERS
  layers_forget(); /* input bytes share the arena with intermediate tensors */
#endif
  scatter_input(offset, payload + 4, n);
  input_received += n;
  return 0;
}

/* ---- layers extension (-DTD_LAYERS): per-layer ticks, stop after a layer, read its output ------------ */

#ifdef TD_LAYERS
/* Data bytes one LAYER_OUT frame carries (its payload is layer u16 + offset u32 + data). */
#define LAYER_DATA_MAX (TD_TX_BUF - TD_FRAME_OVERHEAD - 6u)
#define LAYERS_HEAD 7u /* version u8, flags u8, count u16, first u16, n u8 */

static int profile_armed;                    /* PROFILE received: the next INVOKE is profiled */
static uint32_t profile_stop = TD_LAYER_ALL; /* ... and stops after this layer */
static int profiling;                        /* inside a profiled invoke */
static int layers_timed;                     /* the ticks are from the last invoke, which was profiled */
static long layer_ready = -1;                /* the layer whose output the arena still holds, -1: none */
static uint32_t layer_mark;

static uint32_t layer_count(void) {
  int n = td_layer_count();
  return n < 0 ? 0u : (uint32_t)n > 0xFFFEu ? 0xFFFEu : (uint32_t)n;
}

static void layers_forget(void) { layer_ready = -1; }

void td_layer_begin(void) {
  if (profiling) layer_mark = td_counter_now();
}

int td_layer_done(int i) {
  if (!profiling) return 0;
  uint32_t now = td_counter_now();
  uint32_t *ticks = td_layer_ticks();
  if (ticks && i >= 0 && (uint32_t)i < layer_count()) ticks[i] = now - layer_mark;
  if ((uint32_t)i == profile_stop && td_layers_can_stop()) {
    layer_ready = i;
    return 1;
  }
  layer_mark = td_counter_now(); /* the harness's own bookkeeping is nobody's layer */
  return 0;
}

/* Before an invoke: a PROFILE request arms exactly one invoke. */
static void layers_before_invoke(void) {
  profiling = profile_armed;
  profile_armed = 0;
  layers_timed = 0;
  layer_ready = -1;
  uint32_t *ticks = td_layer_ticks();
  if (profiling && ticks) memset(ticks, 0, layer_count() * sizeof *ticks);
}

static void layers_after_invoke(void) {
  layers_timed = profiling;
  profiling = 0;
  profile_stop = TD_LAYER_ALL;
}

static void handle_layers(uint8_t seq, const uint8_t *payload, size_t len) {
  if (len != 2u) {
    reply_error(seq, TD_E_BAD_LENGTH, (uint32_t)len, "LAYERS payload must be first u16");
    return;
  }
  uint32_t count = layer_count(), first = get_u16(payload);
  if (first > count) {
    reply_error(seq, TD_E_BAD_LENGTH, count, "LAYERS beyond the last layer");
    return;
  }
  uint32_t n = count - first, room = (TD_TX_BUF - TD_FRAME_OVERHEAD - LAYERS_HEAD) / TD_LAYER_ENTRY;
  if (n > room) n = room;
  if (n > 255u) n = 255u;
  uint8_t *p = reply_begin(TD_T_LAYERS_R, seq);
  p[0] = TD_LAYERS_VERSION;
  p[1] = (uint8_t)((layers_timed ? TD_LAYERS_F_TIMED : 0u) | (td_layers_can_stop() ? TD_LAYERS_F_OUTPUTS : 0u));
  put_u16(p + 2, count);
  put_u16(p + 4, first);
  p[6] = (uint8_t)n;
  const uint32_t *ticks = td_layer_ticks();
  uint8_t *e = p + LAYERS_HEAD;
  for (uint32_t k = 0; k < n; k++, e += TD_LAYER_ENTRY) {
    const td_layer *layer = td_layer_at((int)(first + k));
    put_u16(e, layer ? layer->op : 0xFFFFu);
    put_u16(e + 2, layer ? layer->tensor : 0xFFFFu);
    put_u32(e + 4, layer ? layer->bytes : 0u);
    put_u32(e + 8, ticks ? ticks[first + k] : 0u);
  }
  reply_send(LAYERS_HEAD + n * TD_LAYER_ENTRY);
}

static void handle_profile(uint8_t seq, const uint8_t *payload, size_t len) {
  if (len != 2u) {
    reply_error(seq, TD_E_BAD_LENGTH, (uint32_t)len, "PROFILE payload must be stop_after u16");
    return;
  }
  uint32_t stop = get_u16(payload);
  if (stop != TD_LAYER_ALL && stop >= layer_count()) {
    reply_error(seq, TD_E_BAD_LENGTH, layer_count(), "PROFILE stop_after beyond the last layer");
    return;
  }
  profile_armed = 1;
  profile_stop = stop;
  reply_begin(TD_T_ACK, seq);
  reply_send(0);
}

static void handle_read_layer(uint8_t seq, const uint8_t *payload, size_t len) {
  if (len != 8u) {
    reply_error(seq, TD_E_BAD_LENGTH, (uint32_t)len, "READ_LAYER payload must be layer u16, offset u32, length u16");
    return;
  }
  uint32_t index = get_u16(payload), offset = get_u32(payload + 2), want = get_u16(payload + 6);
  const td_layer *layer = index < layer_count() ? td_layer_at((int)index) : NULL;
  if (!layer) {
    reply_error(seq, TD_E_BAD_LENGTH, layer_count(), "READ_LAYER of no such layer");
    return;
  }
  if ((long)index != layer_ready) {
    reply_error(seq, TD_E_NOT_READY, (uint32_t)layer_ready,
                "layer output not held: send PROFILE(layer) and INVOKE first");
    return;
  }
  if (offset > layer->bytes) {
    reply_error(seq, TD_E_BAD_LENGTH, layer->bytes, "READ_LAYER beyond the layer's output");
    return;
  }
  if (want > LAYER_DATA_MAX) want = LAYER_DATA_MAX;
  if (want > layer->bytes - offset) want = layer->bytes - offset;
  const uint8_t *data = (const uint8_t *)td_layer_data((int)index);
  if (!data) want = 0;
  uint8_t *p = reply_begin(TD_T_LAYER_OUT, seq);
  put_u16(p, index);
  put_u32(p + 2, offset);
  if (want) memcpy(p + 6, data + offset, want);
  reply_send(6u + want);
}
#endif /* TD_LAYERS */

static void handle_invoke(uint8_t seq, const uint8_t *payload, size_t len) {
  if (len && take_input(seq, payload, len) != 0) return;
  if (input_received != input_total) {
    reply_error(seq, TD_E_INCOMPLETE, input_received, "INVOKE before all input bytes arrived");
    return;
  }
  input_received = 0; /* the next inference sends its input again */
#ifdef TD_LAYERS
  layers_before_invoke();
#endif
  td_stack_paint();
  uint32_t t0 = td_counter_now();
  int status = td_runtime_invoke();
  uint32_t elapsed = td_counter_now() - t0; /* modulo 2^32 */
#ifdef TD_LAYERS
  layers_after_invoke();
#endif
  uint32_t stack = td_stack_used();
  if (status != 0) {
    reply_error(seq, TD_E_INVOKE, (uint32_t)status, td_runtime_error());
    return;
  }
  uint8_t *p = reply_begin(TD_T_RESULT, seq);
  put_u32(p, elapsed);
  put_u32(p + 4, stack);
  put_u32(p + 8, output_total);
  uint32_t room = TD_TX_BUF - TD_FRAME_OVERHEAD - RESULT_HEAD;
  uint32_t n = gather_output(0, p + RESULT_HEAD, output_total < room ? output_total : room);
  reply_send(RESULT_HEAD + n);
}

static void handle_read(uint8_t seq, const uint8_t *payload, size_t len) {
  if (len != 6u) {
    reply_error(seq, TD_E_BAD_LENGTH, (uint32_t)len, "READ payload must be offset u32 + length u16");
    return;
  }
  uint32_t offset = get_u32(payload), want = (uint32_t)payload[4] | ((uint32_t)payload[5] << 8);
  if (offset > output_total) {
    reply_error(seq, TD_E_BAD_LENGTH, output_total, "READ beyond the output tensors");
    return;
  }
  if (want > TX_DATA_MAX) want = TX_DATA_MAX;
  if (want > output_total - offset) want = output_total - offset;
  uint8_t *p = reply_begin(TD_T_OUTPUT, seq);
  put_u32(p, offset);
  reply_send(4u + gather_output(offset, p + 4, want));
}

/* ---- dispatch ------------------------------------------------------------------------------------- */

void td_harness_handle(uint8_t *encoded, size_t n) {
  long len = td_cobs_decode(encoded, n);
  if (len < 0 || (size_t)len < TD_FRAME_OVERHEAD) {
    send_nak(TD_E_BAD_FRAME, "bad frame");
    return;
  }
  size_t body = (size_t)len - TD_FRAME_CRC;
  if (td_crc32(encoded, body) != get_u32(encoded + body)) {
    send_nak(TD_E_BAD_CRC, "bad CRC");
    return;
  }
  uint8_t type = encoded[0], seq = encoded[1];
  const uint8_t *payload = encoded + TD_FRAME_HEADER;
  size_t payload_len = body - TD_FRAME_HEADER;

  if (have_cached && type == cached_type && seq == cached_seq) {
    send_raw(tx_buf, tx_len); /* a retry: answer again, do not execute again */
    return;
  }
  have_cached = 1;
  cached_type = type;
  cached_seq = seq;
  if (type != TD_T_HELLO && runtime_status != 0) {
    reply_error(seq, TD_E_RUNTIME, (uint32_t)runtime_status, td_runtime_error());
    return;
  }
  switch (type) {
    case TD_T_HELLO:
      handle_hello(seq);
      break;
    case TD_T_INPUT:
      if (take_input(seq, payload, payload_len) == 0) {
        reply_begin(TD_T_ACK, seq);
        reply_send(0);
      }
      break;
    case TD_T_INVOKE:
      handle_invoke(seq, payload, payload_len);
      break;
    case TD_T_READ:
      handle_read(seq, payload, payload_len);
      break;
#ifdef TD_LAYERS
    case TD_T_LAYERS:
      handle_layers(seq, payload, payload_len);
      break;
    case TD_T_PROFILE:
      handle_profile(seq, payload, payload_len);
      break;
    case TD_T_READ_LAYER:
      handle_read_layer(seq, payload, payload_len);
      break;
#endif
    default:
      reply_error(seq, TD_E_UNKNOWN_TYPE, type, "unknown frame type");
      break;
  }
}

static void sum_tensor_bytes(void) {
  input_total = output_total = 0;
  for (int i = 0; i < td_input_count(); i++) input_total += td_input_spec(i)->bytes;
  for (int i = 0; i < td_output_count(); i++) output_total += td_output_spec(i)->bytes;
}

void td_harness_run(void) {
  runtime_status = td_runtime_init();
  if (runtime_status == 0) sum_tensor_bytes();
  send_boot();
  size_t rx_len = 0;
  int overflow = 0;
  for (;;) {
    int c = td_link_read(-1);
    if (c < 0) continue;
    if (c != 0) {
      if (rx_len < sizeof rx_buf) {
        rx_buf[rx_len++] = (uint8_t)c;
      } else {
        overflow = 1; /* keep discarding until the delimiter, then NAK once */
      }
      continue;
    }
    if (overflow) {
      send_nak(TD_E_OVERFLOW, "frame larger than the receive buffer");
    } else if (rx_len) {
      td_harness_handle(rx_buf, rx_len);
    } /* empty frames (repeated delimiters) resynchronise and are ignored */
    rx_len = 0;
    overflow = 0;
  }
}

#ifndef TD_HARNESS_NO_MAIN
int main(void) {
  td_platform_init();
  td_harness_run();
  return 0;
}
#endif
