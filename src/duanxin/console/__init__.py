"""The web console (issue 12): server-rendered pages for the operator (``/console/``) and
for customers (``/console/my/``), on the same service layer as every other front door."""

from duanxin.console.app import CONSOLE_PATH, console_routes

__all__ = ["CONSOLE_PATH", "console_routes"]
