"""The HTTP front door: gateway signature, request parameters, and (wired by the app) the
seed endpoints ``/smssend``, ``/smsoverage``, ``/smsreport`` and ``/smsmo``."""
