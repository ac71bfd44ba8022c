"""`deploy verify`: prove that the model on the board computes what the host references say, and how fast."""

from tinydeploy.verify.core import Thresholds, verify_model
from tinydeploy.verify.report import VerifyReport, print_summary, write_reports

__all__ = ["Thresholds", "VerifyReport", "verify_model", "print_summary", "write_reports"]
