"""Redis coordination: a leader lock with expiry and fencing, and a hash of claims.

Every step that must be atomic is one Lua script, so a scheduler paused past
its lock's expiry (GC, SIGSTOP, a slow disk) cannot claim checks after another
scheduler took over: the claim script re-checks the lock token.
"""

from __future__ import annotations

import secrets

import redis

from worker.coordination import claim_value

ACQUIRE = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return redis.call('INCR', KEYS[2])
end
return 0
"""

RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

RESIGN = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

# KEYS: lock, claims hash. ARGV: token, now, claim value, keys...
CLAIM = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return {0}
end
local now = tonumber(ARGV[2])
local claimed = {1}
for i = 4, #ARGV do
  local current = redis.call('HGET', KEYS[2], ARGV[i])
  if (not current) or tonumber(current) <= now then
    redis.call('HSET', KEYS[2], ARGV[i], ARGV[3])
    table.insert(claimed, ARGV[i])
  end
end
return claimed
"""

# KEYS: claims hash. ARGV: the started claim value, then pairs of key, expected claim value.
START = """
local started = {}
for i = 2, #ARGV, 2 do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[1])
    table.insert(started, ARGV[i])
  end
end
return started
"""

# KEYS: claims hash. ARGV: triples of key, expected claim value, park-until ('' = delete).
RELEASE = """
for i = 1, #ARGV, 3 do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then
    if ARGV[i + 2] == '' then
      redis.call('HDEL', KEYS[1], ARGV[i])
    else
      redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 2])
    end
  end
end
return 1
"""


class RedisCoordinator:
    def __init__(self, client: redis.Redis, namespace: str, ttl_s: float = 5.0) -> None:
        self.client = client
        self.lock_key = f"{namespace}:scheduler:leader"
        self.fence_key = f"{namespace}:scheduler:fence"
        self.claims_key = f"{namespace}:checks:in-flight"
        self.ttl_ms = int(ttl_s * 1000)
        self.token = secrets.token_hex(16)
        self._fence = 0
        self._acquire = client.register_script(ACQUIRE)
        self._renew = client.register_script(RENEW)
        self._resign = client.register_script(RESIGN)
        self._claim = client.register_script(CLAIM)
        self._start = client.register_script(START)
        self._release = client.register_script(RELEASE)

    @property
    def fence(self) -> int:
        return self._fence

    def ensure_leadership(self) -> bool:
        if self._fence and self._renew(keys=[self.lock_key], args=[self.token, self.ttl_ms]):
            return True
        self._fence = int(
            self._acquire(keys=[self.lock_key, self.fence_key], args=[self.token, self.ttl_ms])
        )
        return self._fence > 0

    def resign(self) -> None:
        if self._fence:
            self._resign(keys=[self.lock_key], args=[self.token])
        self._fence = 0

    def claim(self, keys: list[str], now: float, deadline: float) -> list[str] | None:
        if not keys:
            return []
        reply = self._claim(
            keys=[self.lock_key, self.claims_key],
            args=[self.token, repr(now), claim_value(deadline), *keys],
        )
        if not reply or int(reply[0]) == 0:
            self._fence = 0
            return None
        return [key.decode() if isinstance(key, bytes) else key for key in reply[1:]]

    def start(self, claims: dict[str, str], until: float) -> list[str]:
        if not claims:
            return []
        args = [claim_value(until)]
        for key, value in claims.items():
            args += [key, value]
        reply = self._start(keys=[self.claims_key], args=args)
        return [key.decode() if isinstance(key, bytes) else key for key in reply]

    def release(self, claims: dict[str, str], not_before: dict[str, float]) -> None:
        if not claims:
            return
        args: list[str] = []
        for key, value in claims.items():
            park = claim_value(not_before[key]) if key in not_before else ""
            args += [key, value, park]
        self._release(keys=[self.claims_key], args=args)

    def held(self, keys: list[str]) -> dict[str, str]:
        if not keys:
            return {}
        values = self.client.hmget(self.claims_key, keys)
        return {
            key: value.decode() if isinstance(value, bytes) else str(value)
            for key, value in zip(keys, values, strict=True)
            if value is not None
        }

    def in_flight(self, now: float) -> int:
        values = self.client.hvals(self.claims_key)
        return sum(1 for value in values if float(value) > now)
