import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { MAX_SERIES, Registry } from './registry.ts'

describe('metrics registry', () => {
  it('behavior: a metric keeps at most MAX_SERIES label sets; later ones are counted under overflow="true"', () => {
    const registry = new Registry()
    const counter = registry.counter('test_total', 'test')
    const histogram = registry.histogram('test_seconds', 'test', [1])
    for (let i = 0; i < MAX_SERIES + 500; i++) {
      counter.inc({ method: `m${i}` })
      histogram.observe(0.5, { method: `m${i}` })
    }
    counter.inc({ method: 'm0' }) // a label set already kept still counts on its own
    const text = registry.render()
    assert.equal(text.split('\n').filter((line) => line.startsWith('test_total{')).length, MAX_SERIES + 1)
    assert.match(text, /^test_total\{overflow="true"\} 500$/m)
    assert.match(text, /^test_total\{method="m0"\} 2$/m)
    assert.match(text, /^test_seconds_count\{overflow="true"\} 500$/m)
  })
})
