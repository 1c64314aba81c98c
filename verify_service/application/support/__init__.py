"""Support staff: console users, their sessions, and what the console shows and does."""
