"""Routing: a service's per-country routes (MessagingConfigurations)."""
