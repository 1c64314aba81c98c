"""Redis adapter: every state change is one Lua script in `scripts/`."""

from verify_service.adapters.redis_store.service_store import RedisServiceStore
from verify_service.adapters.redis_store.verification_store import RedisVerificationStore

__all__ = ["RedisServiceStore", "RedisVerificationStore"]
