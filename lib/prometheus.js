'use strict'

/**
 * Prometheus text exposition format 0.0.4: one `# HELP` and one `# TYPE` line per metric
 * family, then its samples. Label values are escaped (backslash, double quote, newline) as the
 * format requires; HELP text escapes backslash and newline.
 */

const escapeLabel = (value) => String(value).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
const escapeHelp = (text) => text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')

/** Go-style float text: integers without a decimal point, NaN and infinities spelled out. */
function formatValue(value) {
  if (Number.isNaN(value)) return 'NaN'
  if (value === Infinity) return '+Inf'
  if (value === -Infinity) return '-Inf'
  return String(value)
}

function formatLabels(labels) {
  const names = Object.keys(labels)
  if (names.length === 0) return ''
  return `{${names.map((name) => `${name}="${escapeLabel(labels[name])}"`).join(',')}}`
}

/** Collects families in order: `family(name, type, help)` then `sample([suffix,] labels, value)`. */
class Exposition {
  constructor() {
    this.lines = []
  }

  family(name, type, help) {
    this.lines.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`)
    this.current = name
    return this
  }

  sample(labels, value, suffix = '') {
    this.lines.push(`${this.current}${suffix}${formatLabels(labels)} ${formatValue(value)}`)
    return this
  }

  toString() {
    return `${this.lines.join('\n')}\n`
  }
}

module.exports = { Exposition, escapeLabel, formatValue }
