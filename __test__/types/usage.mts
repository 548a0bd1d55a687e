// The ES module form: named imports and the default (the whole CommonJS object).
import digisRedis, { cache, TTL, SessionStore, RateLimitStore } from 'digis-redis'

export async function esmUsage(): Promise<boolean> {
  const viaDefault: boolean = await digisRedis.cache.set('k', 1, TTL.SHORT)
  const store: SessionStore = new digisRedis.SessionStore()
  const limiter: RateLimitStore = new RateLimitStore()
  const value: number | null = await cache.get<number>('k')
  // @ts-expect-error TTL values are fixed
  const wrong: 1 = TTL.SHORT
  return viaDefault && value === 1 && store.prefix === 'session:' && limiter.localKeys === false
}
