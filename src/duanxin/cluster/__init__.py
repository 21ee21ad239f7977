"""What makes many processes one platform: node ids and carrier connections leased in Redis.

:mod:`duanxin.cluster.leases` holds the lease primitive (a Redis key with an owner token and
an expiry, renewed by its holder, released on stop); :mod:`duanxin.cluster.node` gives each
process a node id for its message ids; :mod:`duanxin.cluster.connections` shares each
channel's ``max_connections`` among the delivery workers; :mod:`duanxin.cluster.processes`
runs ``serve --workers N``. The embedded mode (``bus_url = memory://``) has one process and
needs none of it: the node id is the configured one and every connection is its own.
"""
