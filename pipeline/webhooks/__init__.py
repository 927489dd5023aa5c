"""Webhook intake: signatures, event parsing, the receiver app and its command line."""
