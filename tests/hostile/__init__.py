"""A hostile classroom client, on loopback only, one module per surface attacked."""
