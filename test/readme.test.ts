import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import { configOptions, formatConfigMarkdown } from '../src/config/config.ts'
import { createMethods } from '../src/rpc/methods.ts'

const readme = readFileSync('README.md', 'utf8')

describe('README.md stays true', () => {
  it('behavior: the configuration table equals the option table (run `npm run readme`)', () => {
    assert.ok(readme.includes(formatConfigMarkdown()), 'README config table is out of date: run npm run readme')
  })

  it('behavior: every env var is in .env.example', () => {
    const example = readFileSync('.env.example', 'utf8')
    for (const option of Object.values(configOptions)) assert.match(example, new RegExp(`^# ${option.env}=`, 'm'))
  })

  it('behavior: every RPC method served is listed', () => {
    const methods = Object.keys(createMethods({} as never))
    assert.ok(methods.length > 30)
    for (const method of methods) assert.ok(readme.includes(`\`${method}\``), `${method} missing from README`)
  })
})
