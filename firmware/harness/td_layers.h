/* td_layers.h - per-layer profiling and layer outputs (the protocol's layers extension, docs/protocol.md).
 *
 * Compiled only with -DTD_LAYERS (deploy run/verify --layers builds such firmware): without it neither the
 * harness nor the runtimes contain any of this, so ordinary firmware pays nothing.
 *
 * A "layer" is one operator the runtime executes, in execution order.  The runtime describes its layers
 * and calls the two harness hooks below around them; the harness times them with td_counter_now(),
 * stops an invoke after the layer the host asked for, and serves the LAYERS/PROFILE/READ_LAYER requests.
 */
#ifndef TD_LAYERS_H
#define TD_LAYERS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  uint16_t op;      /* operator index in the .tflite's (first) subgraph */
  uint16_t tensor;  /* its (first) output tensor's index */
  uint32_t bytes;   /* that tensor's size */
} td_layer;

/* ---- implemented by the runtime (td_runtime_aot.c, the tflm sketch) ---- */
int td_layer_count(void);
const td_layer *td_layer_at(int i);  /* NULL when i is out of range */
/* The output bytes of layer i; valid right after it ran (later layers may reuse the memory). */
const void *td_layer_data(int i);
/* td_layer_count() counters the harness writes each layer's ticks into. */
uint32_t *td_layer_ticks(void);
/* 1 when the runtime honours td_layer_done()'s stop request (aot); 0 when it cannot (tflm's Invoke()). */
int td_layers_can_stop(void);

/* ---- implemented by the harness, called by the runtime during td_runtime_invoke() ---- */
void td_layer_begin(void);  /* before the first layer */
int td_layer_done(int i);   /* after layer i; nonzero: the host asked to stop here, skip the rest */

#ifdef __cplusplus
}
#endif

#endif /* TD_LAYERS_H */
