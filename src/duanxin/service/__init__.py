"""The application layer: the one code path every front door (HTTP, CMPP, console, CLI) calls."""
