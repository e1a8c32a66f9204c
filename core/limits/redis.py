"""The production limiter: buckets in Redis, shared by every API process.

One Lua script per hit (or per batch of hits) reads, decides and stores atomically (the rule is
`core.limits.allow`, written again in Lua), so two API processes cannot both
take the last request of a bucket. A bucket's key expires when it is full again.
The time comes from the caller (its injected clock), not from Redis.
"""

from __future__ import annotations

import redis
import redis.asyncio

from core.limits import Decision, Rate

# KEYS[1]: the bucket. ARGV: now, interval, period (seconds).
# Returns {1, "0"} when allowed, {0, seconds to wait} when not. Numbers travel as
# strings: Redis would truncate a Lua number in a reply to an integer.
HIT = """
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local period = tonumber(ARGV[3])
local stored = tonumber(redis.call('GET', KEYS[1]) or ARGV[1])
local arrival = math.max(stored, now) + interval
local fits_at = arrival - period
if fits_at > now then
  return {0, string.format('%.6f', fits_at - now)}
end
redis.call('SET', KEYS[1], string.format('%.6f', arrival), 'PX',
  math.max(1, math.ceil((arrival - now) * 1000)))
return {1, '0'}
"""

# The same rule over KEYS[1..n] in order, a key possibly repeated; one reply per key:
# {allowed, wait, allowed, wait, ...}.
HIT_MANY = """
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local period = tonumber(ARGV[3])
local replies = {}
for _, key in ipairs(KEYS) do
  local stored = tonumber(redis.call('GET', key) or ARGV[1])
  local arrival = math.max(stored, now) + interval
  local fits_at = arrival - period
  if fits_at > now then
    replies[#replies + 1] = 0
    replies[#replies + 1] = string.format('%.6f', fits_at - now)
  else
    redis.call('SET', key, string.format('%.6f', arrival), 'PX',
      math.max(1, math.ceil((arrival - now) * 1000)))
    replies[#replies + 1] = 1
    replies[#replies + 1] = '0'
  end
end
return replies
"""


class RedisLimiter:
    def __init__(self, client: redis.Redis, namespace: str) -> None:
        self._hit = client.register_script(HIT)
        self._hit_many = client.register_script(HIT_MANY)
        self._prefix = f"{namespace}:limits:"

    def hit(self, key: str, rate: Rate, now: float) -> Decision:
        allowed, wait = self._hit(keys=[self._prefix + key], args=_args(rate, now))
        return Decision(bool(int(allowed)), float(wait))

    def hit_many(self, keys: list[str], rate: Rate, now: float) -> list[Decision]:
        if not keys:
            return []
        replies = self._hit_many(keys=[self._prefix + key for key in keys], args=_args(rate, now))
        return _decisions(replies)


class AsyncRedisLimiter:
    """`RedisLimiter.hit_many` on redis.asyncio, the same buckets and script, for a
    caller on an event loop (the API's batched ingest writer: no thread to hand to)."""

    def __init__(self, client: redis.asyncio.Redis, namespace: str) -> None:
        self.client = client
        self._hit_many = client.register_script(HIT_MANY)
        self._prefix = f"{namespace}:limits:"

    async def hit_many(self, keys: list[str], rate: Rate, now: float) -> list[Decision]:
        if not keys:
            return []
        keyed = [self._prefix + key for key in keys]
        return _decisions(await self._hit_many(keys=keyed, args=_args(rate, now)))


def _args(rate: Rate, now: float) -> list[str]:
    return [f"{now:.6f}", repr(rate.interval_s), repr(rate.period_s)]


def _decisions(replies: list[object]) -> list[Decision]:
    return [
        Decision(bool(int(allowed)), float(wait))  # type: ignore[call-overload, arg-type]
        for allowed, wait in zip(replies[::2], replies[1::2], strict=True)
    ]
