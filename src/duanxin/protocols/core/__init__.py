"""Protocol-independent building blocks shared by the four carrier protocols."""

from duanxin.protocols.core.errors import LocalProtocolError, ProtocolError, RemoteProtocolError

__all__ = ["LocalProtocolError", "ProtocolError", "RemoteProtocolError"]
