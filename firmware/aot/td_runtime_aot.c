/* td_runtime_aot.c - td_runtime.h for the aot runtime: a thin adapter over the generated model.h API.
 *
 * The generated model.c owns the arena and the tensor metadata; this file only translates it into the
 * harness's types, so it is the same for every model.
 */
#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "td_runtime.h"

static td_tensor_spec td_in_specs[MODEL_NUM_INPUTS > 0 ? MODEL_NUM_INPUTS : 1];
static td_tensor_spec td_out_specs[MODEL_NUM_OUTPUTS > 0 ? MODEL_NUM_OUTPUTS : 1];
static int td_specs_ready;

static void td_copy_spec(td_tensor_spec *dst, const model_tensor_info *src) {
  int d;
  dst->dtype = src->dtype;
  dst->ndims = src->ndims;
  for (d = 0; d < TD_MAX_DIMS; ++d) dst->dims[d] = d < MODEL_MAX_DIMS ? src->dims[d] : 0;
  dst->scale = src->scale;
  dst->zero_point = src->zero_point;
  dst->bytes = src->bytes;
}

static void td_prepare_specs(void) {
  int i;
  if (td_specs_ready) return;
  for (i = 0; i < MODEL_NUM_INPUTS; ++i) td_copy_spec(&td_in_specs[i], model_input_info(i));
  for (i = 0; i < MODEL_NUM_OUTPUTS; ++i) td_copy_spec(&td_out_specs[i], model_output_info(i));
  td_specs_ready = 1;
}

int td_runtime_init(void) {
  td_prepare_specs();
  return 0;
}

const char *td_runtime_error(void) { return ""; }
const char *td_runtime_name(void) { return "aot"; }
const uint8_t *td_model_sha256(void) { return model_sha256; }
uint32_t td_arena_bytes(void) { return model_arena_bytes(); }
uint32_t td_arena_used_bytes(void) { return model_arena_bytes(); }
int td_input_count(void) { return MODEL_NUM_INPUTS; }
int td_output_count(void) { return MODEL_NUM_OUTPUTS; }

const td_tensor_spec *td_input_spec(int i) {
  td_prepare_specs();
  return (i >= 0 && i < MODEL_NUM_INPUTS) ? &td_in_specs[i] : NULL;
}

const td_tensor_spec *td_output_spec(int i) {
  td_prepare_specs();
  return (i >= 0 && i < MODEL_NUM_OUTPUTS) ? &td_out_specs[i] : NULL;
}

void *td_input_data(int i) { return model_input(i); }
const void *td_output_data(int i) { return model_output(i); }
int td_runtime_invoke(void) { return model_invoke(); }

#ifdef TD_LAYERS
/* ---- the layers extension (td_layers.h) over model.h's layer table ---- */
#include "td_layers.h"

static uint32_t td_ticks[MODEL_NUM_LAYERS > 0 ? MODEL_NUM_LAYERS : 1];
static td_layer td_layer_view; /* the harness reads one layer at a time */

int td_layer_count(void) { return MODEL_NUM_LAYERS; }

const td_layer *td_layer_at(int i) {
  if (i < 0 || i >= MODEL_NUM_LAYERS) return NULL;
  td_layer_view.op = model_layers[i].op;
  td_layer_view.tensor = model_layers[i].tensor;
  td_layer_view.bytes = model_layers[i].bytes;
  return &td_layer_view;
}

const void *td_layer_data(int i) { return model_layer_data(i); }
uint32_t *td_layer_ticks(void) { return td_ticks; }
int td_layers_can_stop(void) { return 1; }

void model_layer_begin(void) { td_layer_begin(); }
int model_layer_done(int k) { return td_layer_done(k); }
#endif
