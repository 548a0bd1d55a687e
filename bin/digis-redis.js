#!/usr/bin/env node
'use strict'

// The digis-redis command line: a table of subcommands, each with its own flags.

const { parseArgs } = require('node:util')

const PROGRAM = 'digis-redis'

/** Bad input on the command line: a message and exit code 2. */
class UsageError extends Error {}

const REST_SERVER_HELP = `Usage: ${PROGRAM} rest-server [options]

Serves the Upstash Redis REST protocol in front of any Redis, or of an in-process store with
--embedded (no Redis at all), as a local stand-in for Upstash (point UPSTASH_REDIS_REST_URL at
the printed URL and UPSTASH_REDIS_REST_TOKEN at the token).

Options (environment alternatives in brackets):
  --port <n>             port to listen on, 0 picks a free one [DIGIS_REST_PORT] (default 8079)
  --host <addr>          interface to listen on [DIGIS_REST_HOST] (default 127.0.0.1)
  --redis <url>          redis:// or rediss:// URL [DIGIS_REST_REDIS_URL, then REDIS_URL]
                         (default redis://127.0.0.1:6379)
  --embedded             serve the embedded store of this process instead of a Redis: the data
                         lives in this process and is gone when it stops; Lua runs only for
                         digis-redis's own scripts [DIGIS_REST_EMBEDDED=1]
  --token <token>        bearer token clients must send, required [DIGIS_REST_TOKEN]
                         (prefer the environment: flags show up in process lists)
  --max-body-bytes <n>   larger request bodies get 413 [DIGIS_REST_MAX_BODY_BYTES] (default 10 MiB)
  --max-connections <n>  connections open at once, more are closed [DIGIS_REST_MAX_CONNECTIONS]
                         (default 1024)
  --max-buffered-bytes <n>
                         request bytes held by all requests together, more get 503
                         [DIGIS_REST_MAX_BUFFERED_BYTES] (default 256 MiB)
  --max-pipeline-commands <n>
                         commands in one /pipeline or /multi-exec request, more get 400
                         [DIGIS_REST_MAX_PIPELINE_COMMANDS] (default 10000)
  --max-reply-bytes <n>  result bytes of one request, results past it become errors
                         [DIGIS_REST_MAX_REPLY_BYTES] (default 256 MiB)
  --max-subscriptions <n>
                         channels and patterns subscribed at once on the whole server (SSE,
                         /subscribe and /psubscribe, at most 64 per request), more get 503
                         [DIGIS_REST_MAX_SUBSCRIPTIONS] (default 1024)
  --allow-admin          let server administration through (CONFIG SET, ACL, REPLICAOF, SAVE,
                         CLIENT KILL|PAUSE, ...), refused by default as Upstash refuses it
                         [DIGIS_REST_ALLOW_ADMIN=1]
  -h, --help             show this help

Prints one line when ready; stops on SIGINT or SIGTERM.`

const DOCTOR_HELP = `Usage: ${PROGRAM} doctor [--json]

Checks the backend this environment selects (the same variables and .env file your app reads):
shows which one and its address (secrets masked), checks the connection, measures latency
(p50/p99 of a burst of PINGs), runs one round trip of every feature under a throwaway id and
removes what it wrote, and explains failures in plain words.

Options:
  --json       print the report as JSON
  -h, --help   show this help

Exit code 0 when every check passes, 1 otherwise.`

const commands = {
  doctor: {
    summary: 'check the configured backend: connection, latency, every feature',
    help: DOCTOR_HELP,
    options: { json: { type: 'boolean' } },
    run: async (flags) => require('../lib/doctor').doctor({ json: Boolean(flags.json) }),
  },
  'rest-server': {
    summary: 'serve the Upstash REST protocol in front of a Redis',
    help: REST_SERVER_HELP,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      redis: { type: 'string' },
      embedded: { type: 'boolean' },
      token: { type: 'string' },
      'max-body-bytes': { type: 'string' },
      'max-connections': { type: 'string' },
      'max-buffered-bytes': { type: 'string' },
      'max-pipeline-commands': { type: 'string' },
      'max-reply-bytes': { type: 'string' },
      'max-subscriptions': { type: 'string' },
      'allow-admin': { type: 'boolean' },
    },
    run: restServer,
  },
  'build-from-source': {
    summary: 'build the native addon with this machine\'s Rust toolchain (platforms with no prebuilt binary)',
    help: `Usage: ${PROGRAM} build-from-source

Builds the native addon from the Rust sources shipped in this package with cargo (install Rust
from https://rustup.rs) and puts it where digis-redis loads it from first. Only needed on a
platform with no prebuilt binary package; takes a few minutes.`,
    options: {},
    run: async () => require('../lib/build-from-source').buildFromSource(),
  },
}

function mainHelp() {
  const width = Math.max(...Object.keys(commands).map((name) => name.length))
  const lines = Object.entries(commands).map(
    ([name, { summary }]) => `  ${name.padEnd(width)}  ${summary}`,
  )
  return `Usage: ${PROGRAM} <command> [options]\n\nCommands:\n${lines.join('\n')}\n\nRun '${PROGRAM} <command> --help' for a command's options.`
}

/** An integer in [min, max] from a flag or environment value, or a UsageError naming it. */
function integer(value, name, min, max) {
  const n = Number(value)
  if (!/^\s*\d+\s*$/.test(String(value)) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`${name} must be an integer from ${min} to ${max}, got '${value}'`)
  }
  return n
}

/** The first value that is set and not empty. */
function pick(...values) {
  return values.find((v) => v !== undefined && v !== '')
}

async function restServer(flags) {
  const env = process.env
  const port = integer(pick(flags.port, env.DIGIS_REST_PORT, '8079'), '--port', 0, 65535)
  const host = pick(flags.host, env.DIGIS_REST_HOST, '127.0.0.1')
  const embedded = Boolean(flags.embedded) || env.DIGIS_REST_EMBEDDED === '1'
  if (embedded && flags.redis !== undefined) throw new UsageError('--embedded and --redis exclude each other')
  // With --embedded, a REDIS_URL in the environment is not what is served: ignore it.
  const redisUrl = embedded ? undefined : pick(flags.redis, env.DIGIS_REST_REDIS_URL, env.REDIS_URL, 'redis://127.0.0.1:6379')
  const token = pick(flags.token, env.DIGIS_REST_TOKEN)
  if (token === undefined) {
    throw new UsageError('a token is required: --token <token> or DIGIS_REST_TOKEN')
  }
  const maxBody = pick(flags['max-body-bytes'], env.DIGIS_REST_MAX_BODY_BYTES)
  const maxBodyBytes =
    maxBody === undefined ? undefined : integer(maxBody, '--max-body-bytes', 1, 2 ** 32 - 1)
  const limit = (flag, variable) => {
    const value = pick(flags[flag], env[variable])
    return value === undefined ? undefined : integer(value, `--${flag}`, 1, 2 ** 32 - 1)
  }
  const maxConnections = limit('max-connections', 'DIGIS_REST_MAX_CONNECTIONS')
  const maxBufferedBytes = limit('max-buffered-bytes', 'DIGIS_REST_MAX_BUFFERED_BYTES')
  const maxPipelineCommands = limit('max-pipeline-commands', 'DIGIS_REST_MAX_PIPELINE_COMMANDS')
  const maxReplyBytes = limit('max-reply-bytes', 'DIGIS_REST_MAX_REPLY_BYTES')
  const maxSubscriptions = limit('max-subscriptions', 'DIGIS_REST_MAX_SUBSCRIPTIONS')

  const allowAdmin = Boolean(flags['allow-admin']) || env.DIGIS_REST_ALLOW_ADMIN === '1'

  // The generated loader, not the package entry point: that one picks a backend from the
  // environment and warns about the embedded store.
  const { startRestServer } = require('../binding')

  // Handlers go in before the ready line: whoever reads it may signal at once.
  let server
  let stopping = false
  const stop = () => {
    if (stopping) return
    stopping = true
    Promise.resolve(server && server.close())
      .catch((err) => console.error(`${PROGRAM} rest-server: ${err.message}`))
      .finally(() => process.exit(0))
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)

  try {
    server = await startRestServer({ host, port, redisUrl, embedded, token, maxBodyBytes, maxConnections, maxBufferedBytes, maxPipelineCommands, maxReplyBytes, maxSubscriptions, allowAdmin })
  } catch (err) {
    throw new UsageError(err.message)
  }
  // The native server does not hold Node's event loop open; this timer does, until exit.
  setInterval(() => {}, 1 << 30)
  const store = server.embedded ? 'embedded store: the data lives in this process and is lost when it stops' : `redis ${server.redisUrl}`
  console.log(`${PROGRAM} rest-server listening on ${server.url} (${store})`)
}

/** A flag parsing error may quote any argument; never a token's value or a URL's credentials. */
function hideSecrets(message, args) {
  const tokens = args.flatMap((arg, i) => {
    if (arg === '--token') return args[i + 1] ? [args[i + 1]] : []
    return arg.startsWith('--token=') ? [arg.slice('--token='.length)] : []
  })
  // Any argument may be a URL (`--redis unix:///s?pass=…`); the core's rule finds its credentials.
  const urls = args.map((arg) => arg.replace(/^--[a-z-]+=/, ''))
  let binding
  try {
    binding = require('../binding')
  } catch {
    // No binary yet (the case build-from-source is for): hide every argument that could hold one.
    return [...tokens, ...urls.filter((arg) => /[:@?]/.test(arg))]
      .filter((secret) => secret.length >= 3)
      .reduce((text, secret) => text.split(secret).join('***'), message)
  }
  return binding.redactSecrets(message, tokens, urls)
}

async function main(argv) {
  const [name, ...rest] = argv
  if (name === undefined || name === '-h' || name === '--help' || name === 'help') {
    const out = name === undefined ? console.error : console.log
    out(mainHelp())
    return name === undefined ? 2 : 0
  }
  const command = Object.hasOwn(commands, name) ? commands[name] : undefined
  if (!command) throw new UsageError(`unknown command '${name}'\n\n${mainHelp()}`)
  let flags
  try {
    ;({ values: flags } = parseArgs({
      args: rest,
      options: { ...command.options, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    }))
  } catch (err) {
    throw new UsageError(`${hideSecrets(err.message, rest)}\n\n${command.help}`)
  }
  if (flags.help) {
    console.log(command.help)
    return 0
  }
  // A command that finishes resolves with its exit code; a server (rest-server) with undefined.
  return command.run(flags)
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== undefined) process.exitCode = code
  },
  (err) => {
    if (err instanceof UsageError) {
      console.error(`${PROGRAM}: ${err.message}`)
      process.exitCode = 2
    } else if (err && typeof err.code === 'string' && err.code.startsWith('ERR_DIGIS_REDIS_')) {
      // The loader's own errors say what to do; a stack trace would bury it.
      console.error(`${PROGRAM}: ${err.message}`)
      process.exitCode = 1
    } else {
      console.error(`${PROGRAM}: ${err && err.stack ? err.stack : err}`)
      process.exitCode = 1
    }
  },
)
