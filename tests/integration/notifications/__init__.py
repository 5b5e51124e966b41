"""Notifications against the real PostgreSQL, RabbitMQ and an SMTP server."""
