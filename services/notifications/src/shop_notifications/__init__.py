"""Customer messages from Korean and English templates over SMTP, with a delivery log."""
