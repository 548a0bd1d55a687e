'use strict'

// A server farther away than one call's deadline allows for connecting (a handshake and the
// script loads: two round trips or more), though each call fits once connected: the first
// call answers its fallback, and a later one resumes the connection attempt the first started
// instead of starting over, so the server is reached. On both transports of REDIS_URL.
const { uniquePrefix } = require('../helpers')
const { usePrivateServers, describeWithRedisServer } = require('./redis-server')
const { proxiedScript, runScenario } = require('./scenario')

// 200 ms per round trip through the proxy: a call needs one (it fits in 350 ms with room for
// a loaded machine), connecting at least two (it does not).
const DELAY_MS = 100
const DEADLINE_MS = 350

describeWithRedisServer('a server farther away than one call allows for connecting', () => {
  const { targets, token } = usePrivateServers()

  test.concurrent.each(['loop', 'thread'])('%s transport: reached within a few calls', async (transport) => {
    const prefix = uniquePrefix(`far-${transport}`)
    const run = await runScenario(
      proxiedScript({
        kind: 'redis',
        targetPort: targets.redis,
        token,
        prefix,
        body: `
        proxy.setMode('delay', { ms: ${DELAY_MS} })
        out.answers = []
        for (let i = 0; i < 8 && out.answers.at(-1) !== true; i++) out.answers.push(await r.cache.set(P + ':k', i, 60))
        out.after = []
        for (let i = 0; i < 3; i++) out.after.push(await r.cache.get(P + ':k'))
        await r.cache.del(P + ':k')
        out.health = await r.health()

        `,
      }),
      { env: { DIGIS_REDIS_TIMEOUT_MS: String(DEADLINE_MS), DIGIS_REDIS_TRANSPORT: transport } },
    )
    expect(run.code).toBe(0)
    // The first call could not connect within its deadline: the case this is about.
    expect(run.out.answers[0]).toBe(false)
    // A later one did, without the connect timeout (1000 ms) running out in between.
    expect(run.out.answers.at(-1)).toBe(true)
    expect(run.out.answers.length).toBeLessThanOrEqual(4)
    const connectedWith = run.out.answers.length - 1
    expect(run.out.after).toEqual(Array(3).fill(connectedWith))
    expect(run.out.health).toMatchObject({ ok: true, transport: transport === 'loop' ? 'node-loop' : 'io-thread' })
  })
})
