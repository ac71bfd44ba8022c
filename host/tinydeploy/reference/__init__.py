"""Host references: TFLM's host interpreter (the exactness oracle), LiteRT (optimized and reference
kernels) and the float model.

    from tinydeploy.reference import run_reference, quantize_input, dequantize_output
    y = run_reference("tflm", path, quantize_input(x_float, load_model(path).input_tensors[0]))[0]

`tinydeploy.reference.compare` measures how far two references are apart (whole model and op by op).
"""

from tinydeploy.reference.backends import BACKENDS, load_keras, run_reference
from tinydeploy.reference.quant import dequantize_output, quantize_input

__all__ = ["BACKENDS", "run_reference", "quantize_input", "dequantize_output", "load_keras"]
