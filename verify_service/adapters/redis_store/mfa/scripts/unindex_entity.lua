-- Take a deleted entity out of its service's entity list (after delete_entity.lua, in the
-- service's own slot). A list skips an entry whose entity is gone, and index_entity.lua
-- lists an entity created again.
-- KEYS[1] the service's entity list
-- ARGV[1] identity
-- Returns 1 when it was listed
return redis.call('ZREM', KEYS[1], ARGV[1])
