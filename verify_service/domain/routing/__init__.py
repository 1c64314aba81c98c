"""Routing: which operator-defined route (and WhatsApp sender) a message goes through."""
