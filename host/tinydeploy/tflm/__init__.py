"""Facts and checks for the `tflm` runtime (TensorFlow Lite Micro); the renderer is render/tflm.py.

ops        builtin op -> MicroMutableOpResolver method and the highest version verified with TFLM; which ops
           exist comes from registered_ops.json
preflight  everything that would make the sketch fail, found before any build
arena      tensor-arena sizing from TFLM's host interpreter, corrected for the 32-bit device
tree       a local TFLM source tree (--tflm-path / TFLM_PATH), both layouts
probe_ops  developer tool that measured ops.TFLM_OPS's versions
probe_registered  developer tool that writes registered_ops.json from TFLM's own interpreter
"""
