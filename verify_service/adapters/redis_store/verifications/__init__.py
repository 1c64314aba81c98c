"""Redis storage of verifications (one hash per verification, hash-tagged)."""
