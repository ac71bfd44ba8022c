/* td_runtime.h - what the device harness needs from an inference runtime.
 *
 * The aot runtime implements it in generated code (templates/aot/), the tflm runtime in the rendered
 * TFLite Micro sketch (templates/tflm/).  The harness (firmware/harness/) speaks the serial protocol and
 * calls only these functions, so both runtimes share one protocol and one host client.
 */
#ifndef TD_RUNTIME_H
#define TD_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Tensor element types, numbered as TFLite's TensorType enum so the host can map them 1:1. */
enum td_dtype {
  TD_FLOAT32 = 0,
  TD_INT32 = 2,
  TD_UINT8 = 3,
  TD_INT16 = 7,
  TD_INT8 = 9,
};

#define TD_MAX_DIMS 6

typedef struct {
  uint8_t dtype;            /* enum td_dtype */
  uint8_t ndims;
  int32_t dims[TD_MAX_DIMS];
  float scale;              /* 0 when not quantized */
  int32_t zero_point;
  uint32_t bytes;
} td_tensor_spec;

/* Prepare the runtime (allocate tensors for tflm; nothing for aot).  0 on success; otherwise a negative
 * code and td_runtime_error() describes it (e.g. "arena too small: need 23104 bytes, have 20000"). */
int td_runtime_init(void);
const char *td_runtime_error(void);

const char *td_runtime_name(void);         /* "aot" or "tflm" */
const uint8_t *td_model_sha256(void);      /* 32 bytes: sha256 of the .tflite the firmware was made from */
uint32_t td_arena_bytes(void);             /* arena size configured */
uint32_t td_arena_used_bytes(void);        /* arena actually used (tflm: arena_used_bytes()) */

int td_input_count(void);
int td_output_count(void);
const td_tensor_spec *td_input_spec(int i);
const td_tensor_spec *td_output_spec(int i);
void *td_input_data(int i);
const void *td_output_data(int i);

/* Run one inference on the current input buffers.  0 on success. */
int td_runtime_invoke(void);

#ifdef __cplusplus
}
#endif

#endif /* TD_RUNTIME_H */
