"""Unit tests of notifications: no I/O."""
