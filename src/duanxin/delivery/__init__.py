"""Delivery: channel connections, routing and failover, report matching, reply routing."""
