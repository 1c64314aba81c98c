"""Rotation helpers that span capabilities: resealing a sealed field of scanned hashes."""
