"""duanxin: an SMS platform with a wire-compatible HTTP API and a carrier protocol stack."""

__version__ = "0.1.0"
