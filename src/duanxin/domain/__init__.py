"""Pure business logic: no sockets, no databases, no clocks read behind the caller's back."""
