"""OTP rules and values: no I/O, no flask, no redis (see README.md)."""
