/* td_protocol.h - constants of the tinydeploy serial protocol (docs/protocol.md is the specification).
 *
 * Shared by the device harness; the host mirrors them in host/tinydeploy/link/protocol.py.  Any change
 * here is a protocol change: bump TD_PROTOCOL_VERSION and update both sides and the document.
 */
#ifndef TD_PROTOCOL_H
#define TD_PROTOCOL_H

#define TD_PROTOCOL_VERSION 1

/* Frame = COBS(type u8, seq u8, payload..., crc32 u32 LE) followed by one 0x00 delimiter. */
#define TD_FRAME_HEADER 2u
#define TD_FRAME_CRC 4u
#define TD_FRAME_OVERHEAD (TD_FRAME_HEADER + TD_FRAME_CRC)

/* Requests (host -> device). */
#define TD_T_HELLO 0x01u  /* ()                                   -> TD_T_HELLO_R */
#define TD_T_INPUT 0x02u  /* (offset u32, data...)                -> TD_T_ACK */
#define TD_T_INVOKE 0x03u /* ([offset u32, data...]) last chunk   -> TD_T_RESULT */
#define TD_T_READ 0x04u   /* (offset u32, length u16)             -> TD_T_OUTPUT */

/* Replies (device -> host): request type | 0x80, plus the two unsolicited/negative frames. */
#define TD_T_HELLO_R 0x81u
#define TD_T_ACK 0x82u
#define TD_T_RESULT 0x83u
#define TD_T_OUTPUT 0x84u
#define TD_T_BOOT 0xB0u  /* sent once after reset, seq 0: (version u8, board string) */
#define TD_T_ERROR 0xEEu /* (code u8, detail u32, message...) */

/* Error codes.  1..3 are NAKs: the request could not be read, so its seq is unknown (sent as 0) and
 * the host simply sends its request again. */
#define TD_E_BAD_CRC 1u
#define TD_E_BAD_FRAME 2u    /* shorter than header + CRC, or invalid COBS */
#define TD_E_OVERFLOW 3u     /* longer than the receive buffer */
#define TD_E_UNKNOWN_TYPE 4u /* detail = the type byte */
#define TD_E_OUT_OF_ORDER 5u /* input chunk not at the expected offset; detail = expected offset */
#define TD_E_BAD_LENGTH 6u   /* offset/length outside the tensors or malformed payload */
#define TD_E_INCOMPLETE 7u   /* INVOKE before all input bytes arrived; detail = bytes received */
#define TD_E_RUNTIME 8u      /* td_runtime_init failed; detail = its status */
#define TD_E_INVOKE 9u       /* td_runtime_invoke failed; detail = its status */
#define TD_E_NOT_READY 10u   /* READ_LAYER of a layer whose output the last invoke did not leave readable */

/* The layers extension (docs/protocol.md "Layers"), compiled in with -DTD_LAYERS.  It adds requests and
 * changes none: firmware without it answers them ERROR UNKNOWN_TYPE, a host without it never sends them.
 * TD_LAYERS_VERSION numbers the extension's own payload layouts (LAYERS_R carries it). */
#define TD_LAYERS_VERSION 1
#define TD_T_LAYERS 0x05u     /* (first u16)                          -> TD_T_LAYERS_R */
#define TD_T_PROFILE 0x06u    /* (stop_after u16, 0xFFFF: run all)    -> TD_T_ACK; arms the next INVOKE */
#define TD_T_READ_LAYER 0x07u /* (layer u16, offset u32, length u16)  -> TD_T_LAYER_OUT */
#define TD_T_LAYERS_R 0x85u   /* (version u8, flags u8, count u16, first u16, n u8, n x entry) */
#define TD_T_LAYER_OUT 0x87u  /* (layer u16, offset u32, data...) */
#define TD_LAYERS_F_TIMED 0x01u   /* the entries' ticks are from the last profiled invoke */
#define TD_LAYERS_F_OUTPUTS 0x02u /* the runtime stops after PROFILE's layer: its output can be read */
#define TD_LAYER_ENTRY 12u        /* op u16, tensor u16, bytes u32, ticks u32 */
#define TD_LAYER_ALL 0xFFFFu

#endif /* TD_PROTOCOL_H */
