/**
 * The replay window in Redis, shared by every replica: the same rule as ReplayWindow (poi/replay.ts), evaluated
 * atomically by one Lua script per batch, so two replicas can never both admit one (validatorId, nonce).
 *
 * Per validator v: a sorted set `<prefix>z:<v>` of nonces scored by timestamp (pruned below now - windowMs) and a floor
 * `<prefix>f:<v>`. A validator over `maxEntriesPerValidator` forgets its own oldest entry and raises its own floor, so
 * no validator's traffic evicts another's. Keys expire after windowMs + maxClockSkewMs; Redis must run with
 * `maxmemory-policy noeviction` (an evicted key would forget a nonce), so a full Redis fails writes and the node
 * refuses (503) rather than admitting a replay.
 */
import type { Redis } from "ioredis";
import type { ReplayGuard, ReplayItem, ReplayVerdict } from "../poi/replay";

const ADMIT = `
local now = tonumber(ARGV[1]); local win = tonumber(ARGV[2]); local skew = tonumber(ARGV[3])
local quota = tonumber(ARGV[4]); local prefix = ARGV[5]; local ttl = win + skew
local out = {}; local pruned = {}
for i = 6, #ARGV, 3 do
  local v = ARGV[i]; local n = ARGV[i + 1]; local ts = tonumber(ARGV[i + 2])
  local z = prefix .. 'z:' .. v; local f = prefix .. 'f:' .. v
  if not pruned[v] then redis.call('ZREMRANGEBYSCORE', z, '-inf', '(' .. (now - win)); pruned[v] = true end
  local floor = tonumber(redis.call('GET', f) or '-1')
  if ts < now - win or ts > now + skew or ts <= floor then out[#out + 1] = 'stale'
  elseif redis.call('ZSCORE', z, n) then out[#out + 1] = 'replayed'
  else
    while redis.call('ZCARD', z) >= quota do
      local e = redis.call('ZPOPMIN', z)
      floor = math.max(floor, tonumber(e[2])); redis.call('SET', f, floor, 'PX', ttl)
    end
    if ts <= floor then out[#out + 1] = 'stale'
    else redis.call('ZADD', z, ts, n); redis.call('PEXPIRE', z, ttl); out[#out + 1] = 'ok' end
  end
end
return out
`;

export interface RedisReplayOptions {
  readonly windowMs: number;
  readonly maxClockSkewMs: number;
  readonly maxEntriesPerValidator: number;
  readonly prefix: string;
}

type WithAdmit = Redis & { bizraAdmit(...args: (string | number)[]): Promise<string[]> };

export class RedisReplayGuard implements ReplayGuard {
  readonly windowMs: number;
  readonly maxClockSkewMs: number;
  private readonly redis: WithAdmit;

  constructor(
    redis: Redis,
    private readonly options: RedisReplayOptions,
  ) {
    this.windowMs = options.windowMs;
    this.maxClockSkewMs = options.maxClockSkewMs;
    if (typeof (redis as unknown as Partial<WithAdmit>).bizraAdmit !== "function") redis.defineCommand("bizraAdmit", { numberOfKeys: 0, lua: ADMIT });
    this.redis = redis as unknown as WithAdmit;
  }

  /** Only the time bounds: the shared state is consulted once, atomically, in admitMany. */
  peek(_validatorId: string, _nonce: Uint8Array, timestampMs: number, now: number): ReplayVerdict {
    return timestampMs < now - this.windowMs || timestampMs > now + this.maxClockSkewMs ? "stale" : "ok";
  }

  async admitMany(items: readonly ReplayItem[], now: number): Promise<ReplayVerdict[]> {
    const args: (string | number)[] = [now, this.windowMs, this.maxClockSkewMs, this.options.maxEntriesPerValidator, this.options.prefix];
    for (const i of items) args.push(i.validatorId, Buffer.from(i.nonce.buffer, i.nonce.byteOffset, i.nonce.byteLength).toString("hex"), i.timestampMs);
    const out = await this.redis.bizraAdmit(...args);
    return out.map((v) => (v === "ok" || v === "replayed" ? v : "stale"));
  }
}
