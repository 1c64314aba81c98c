"""Access: who is calling (account credentials, API keys) and what each role may do."""
