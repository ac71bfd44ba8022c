"""Facts and checks for the `tflm` runtime (TensorFlow Lite Micro); the renderer is render/tflm.py.

ops        builtin op -> MicroMutableOpResolver method and the highest version verified with TFLM
preflight  everything that would make the sketch fail, found before any build
arena      tensor-arena sizing from TFLM's host interpreter, corrected for the 32-bit device
tree       a local TFLM source tree (--tflm-path / TFLM_PATH), both layouts
probe_ops  developer tool that measured ops.TFLM_OPS's versions
"""
