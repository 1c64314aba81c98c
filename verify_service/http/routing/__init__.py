"""Routing: `/v2/Services/{VA}/MessagingConfigurations`."""
