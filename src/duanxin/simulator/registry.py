"""The simulator for each protocol, by name."""

from __future__ import annotations

import importlib

from duanxin.simulator.core import SimulatorConfig, SimulatorServer

__all__ = ["PROTOCOLS", "create_simulator"]

PROTOCOLS = ("cmpp", "sgip", "smgp", "smpp")
_CLASSES = {
    "cmpp": "CmppSimulator",
    "sgip": "SgipSimulator",
    "smgp": "SmgpSimulator",
    "smpp": "SmppSimulator",
}


def create_simulator(protocol: str, config: SimulatorConfig) -> SimulatorServer:
    """A (not yet started) simulated gateway for ``protocol``."""
    if protocol not in _CLASSES:
        raise ValueError(f"unknown protocol {protocol!r}; choose from {', '.join(PROTOCOLS)}")
    module = importlib.import_module(f"duanxin.simulator.{protocol}")
    simulator: SimulatorServer = getattr(module, _CLASSES[protocol])(config)
    return simulator
