// Every export of the package used as the README shows it; compiled, never run. A wrong type in
// index.d.ts breaks this file, and each `@ts-expect-error` line must stay an error.
import {
  redis,
  cache,
  sessions,
  users,
  creators,
  streams,
  rateLimiter,
  otp,
  tokens,
  testConnection,
  CACHE_PREFIXES,
  TTL,
  health,
  configure,
  DigisRedisError,
  SessionStore,
  RateLimitStore,
  locks,
  idempotency,
  cacheResponse,
  analytics,
  type ConfigureOptions,
  type Environment,
  type Health,
  type RateLimitResult,
  type CreatorStatus,
  type Balance,
  type ClientRateLimitInfo,
  type SessionData,
} from 'digis-redis'
import { rateLimit } from 'express-rate-limit'
import expressSession from 'express-session'

interface Profile {
  id: number
  name: string
}

export async function usage(): Promise<void> {
  const stored: boolean = await cache.set('k', { a: 1 }, TTL.SHORT)
  const noExpiry: boolean = await cache.set('k', 'v', 0)
  const profile: Profile | null = await cache.get<Profile>('k')
  const gone: boolean = await cache.del(42)
  const there: boolean = await cache.exists('k')
  const expiring: boolean = await cache.expire('k', 60)
  const count: number | null = await cache.incr('visits')
  const many: Array<Profile | null> = await cache.mget<Profile>(['a', 'b'])
  const deleted: number = await cache.delPattern('temp:*')

  await sessions.store('sid', { userId: 1 })
  const session: { userId: number } | null = await sessions.get<{ userId: number }>('sid')
  await sessions.refresh('sid', TTL.DAY)
  await sessions.destroy('sid')

  await users.cache(7, { name: 'Ada' }, TTL.LONG)
  const user: Profile | null = await users.get<Profile>(7)
  await users.invalidate(7)

  await creators.cache('c1', { name: 'C' })
  await creators.cacheList([{ id: 'c1' }])
  const list: Profile[] | null = await creators.getList<Profile[]>()
  await creators.invalidate('c1')
  await creators.setStatus('c1', 'busy', 120)
  const status: CreatorStatus = await creators.getStatus('c1')
  const online: Array<{ creatorId: string; status: 'online' | 'busy' | 'away' }> = await creators.getOnline()

  await streams.setActive('s1', { title: 'Live' })
  const live: Array<{ title: string } & { viewers: number }> = await streams.getAllActive<{ title: string }>()
  await streams.viewerJoined('s1', 'v1')
  const viewers: number = await streams.viewerCount('s1')
  await streams.viewerLeft('s1', 'v1')
  const reindexed: number = await streams.reindex()
  await streams.removeActive('s1')

  const limit: RateLimitResult = await rateLimiter.check('ip:1', 10, 60, { algorithm: 'sliding-window', cost: 2, failClosed: true })
  const retryAfter: number = limit.retryAfter
  await rateLimiter.reset('ip:1')
  const middleware = rateLimiter.middleware({ limit: 5, window: 60, key: (req: { ip: string }) => req.ip })

  await otp.store('a@example.com', 123456)
  const verified: boolean = await otp.verify('a@example.com', '123456')
  const code: string | null = await otp.generate('a@example.com', { digits: 8, ttl: TTL.SHORT })
  const storedCode: string | null = await otp.get('a@example.com')

  await tokens.cacheBalance(7, 10n ** 20n)
  const balance: Balance | null = await tokens.getBalance(7)
  await tokens.invalidate(7)

  const connected: boolean = await testConnection()
  const h: Health = await health()
  const latency: number | null = h.latencyMs
  const prefix: 'session:' = CACHE_PREFIXES.SESSION
  const day: 86400 = TTL.DAY

  const raw: unknown = await redis.set('k', { a: 1 }, { ex: 60, nx: true })
  const results = await redis.pipeline().incr('n').expire('n', 60).exec<[number, number]>()
  const described: string = redis.toString()

  const options: ConfigureOptions = { strict: false, timeoutMs: 500, breakerThreshold: 3, logger: console }
  const settings: { strict: boolean } = configure(options)
  configure({ logger: null })
  const env: Environment = { REDIS_URL: 'redis://localhost:6379', DIGIS_REDIS_TIMEOUT_MS: '500' }

  try {
    configure({ strict: true })
    await cache.get('k')
  } catch (err) {
    if (err instanceof DigisRedisError) {
      const codeName: 'ERR_TIMEOUT' | string = err.code
    }
  }

  const store = new SessionStore({ prefix: 'session:', ttl: (s: SessionData) => (s.cookie?.maxAge ? 60 : TTL.DAY) })
  // The store satisfies express-session's own Store type (@types/express-session).
  expressSession({ store, secret: 's', resave: false, saveUninitialized: false })
  new SessionStore({ session: expressSession })
  // connect-redis's options.
  new SessionStore({ prefix: 'sess:', disableTouch: true, disableTTL: false, scanCount: 50, serializer: JSON })
  new SessionStore({ serializer: { stringify: async (s: SessionData) => JSON.stringify(s), parse: async (t: string) => JSON.parse(t) } })
  store.on('disconnect', () => undefined)
  store.get('sid', (err, value) => {
    const data: SessionData | null | undefined = value
  })
  const all: Array<SessionData & { id: string }> = await store.all()
  const sessionCount: number = await store.length()
  await store.set('sid', { cookie: { expires: new Date() }, user: 'ada' })
  await store.touch('sid', { cookie: { maxAge: 1000 } })
  await store.clear()

  const limiterStore = new RateLimitStore({ prefix: 'rl:login:', failClosed: true })
  // The store satisfies express-rate-limit's own Store type.
  rateLimit({ windowMs: 60_000, limit: 5, store: limiterStore })
  const info: ClientRateLimitInfo | undefined = await limiterStore.get('1.2.3.4')
  const hit: ClientRateLimitInfo = await limiterStore.increment('1.2.3.4')
  const resetAt: Date | undefined = hit.resetTime
  await new RateLimitStore({ resetExpiryOnChange: true }).resetAll()

  // Pub/sub on the raw client, as @upstash/redis.
  const subscriber = redis.subscribe<{ n: number }>(['news'])
  subscriber.on('message', ({ channel, message }) => {
    const n: number = message.n
    const name: string = channel
  })
  subscriber.on('subscribe', (count: number) => undefined)
  subscriber.on('pmessage:room:*', ({ pattern }) => pattern.length)
  redis.psubscribe('room:*').on('pmessage', ({ pattern, channel }) => pattern + channel)
  await redis.publish('news', { n: 1 })
  await subscriber.unsubscribe(['news'])
  const names: string[] = subscriber.getSubscribedChannels()

  // The design document's next steps.
  const wrapped: Profile = await cache.wrap('creator:7', async (): Promise<Profile> => ({ id: 7, name: 'Ada' }), TTL.MEDIUM, {
    staleTtl: 60,
    lockTtl: 2000,
  })
  const removed: number = await cache.invalidateTag('streams')
  const lock = await locks.acquire('wallet:42', { ttl: 5000, wait: 1000 })
  if (lock) {
    const token: number = lock.fencingToken
    const extended: boolean = await lock.extend(5000)
    await lock.release()
  }
  const outcome = await locks.withLock('wallet:42', { ttl: 5000 }, async (signal: AbortSignal) => (signal.aborted ? 0 : 1))
  if (outcome.acquired) {
    const value: number = outcome.value
    const fence: number = outcome.fencingToken
  }
  const first: boolean = await idempotency.claim('webhook:evt_1', TTL.DAY)
  await idempotency.release('webhook:evt_1')
  const responseCache = cacheResponse({ ttl: 30, tags: ['streams'] })
  const popular: Array<{ creatorId: string; score: number }> = await creators.popular(10)
  const warming = creators.startWarming(async (ids: string[]) => ids.map((id) => ({ id })), { every: 60_000, top: 20 })
  warming.stop()
  const hitRatio: number | null = analytics.stats().namespaces.cache.hitRatio
  const text: string = analytics.prometheus()
  analytics.reset()
  configure({ cluster: ['redis://127.0.0.1:7000'] })

  // Misuse the types must refuse:
  // @ts-expect-error a lock name is a string or number
  await locks.acquire({ name: 'x' })
  // @ts-expect-error analytics.stats() is synchronous
  await analytics.stats().then(() => 0)
  // @ts-expect-error cache.set needs a value
  await cache.set('k')
  // @ts-expect-error TTL is read-only
  TTL.DAY = 1
  // @ts-expect-error not an algorithm
  await rateLimiter.check('ip', 10, 60, { algorithm: 'leaky-bucket' })
  // @ts-expect-error not a status
  await creators.setStatus('c1', 'sleeping')
  // @ts-expect-error prefix is a string
  new SessionStore({ prefix: 5 })
  // @ts-expect-error timeoutMs is a number
  configure({ timeoutMs: '500' })
  // @ts-expect-error no default-export probe on the CommonJS object
  cache.default
}
