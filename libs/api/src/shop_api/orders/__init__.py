"""Orders' HTTP bodies, shared by the gateway's public API and orders' internal one, and orders' typed client."""
