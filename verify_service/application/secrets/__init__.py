"""Key rotation: what each kind of stored value holds under which ring key, and resealing it
under the primary (`verify-service secrets`, docs/key-rotation.md)."""
