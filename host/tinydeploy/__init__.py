"""tinydeploy: convert -> plan -> render -> build -> flash -> verify -> report, for Cortex-M boards."""

__version__ = "0.1.0"
