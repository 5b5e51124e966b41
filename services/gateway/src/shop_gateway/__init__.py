"""The public HTTP API (/v1): authentication, problem errors, calls to the services."""
