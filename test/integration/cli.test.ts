import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { describe, it } from 'node:test'

function mosaic(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, ['bin/mosaic.mjs', ...args], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '', ...env }, timeout: 30_000 })
}

describe('mosaic CLI', () => {
  it('default: --help lists the commands and every option', () => {
    const result = mosaic(['--help'])
    assert.equal(result.status, 0)
    assert.match(result.stdout, /mosaic devnet/)
    assert.match(result.stdout, /mosaic sequencer/)
    assert.match(result.stdout, /--rpc-port <value>, RPC_PORT/)
    assert.match(result.stdout, /--block-time-ms <value>, BLOCK_TIME_MS/)
  })

  it('behavior: an unknown command or option stops with a message naming it', () => {
    const command = mosaic(['mine'])
    assert.equal(command.status, 2)
    assert.match(command.stderr, /unknown command "mine"/)
    const option = mosaic(['devnet', '--rpc-prot', '1'])
    assert.equal(option.status, 2)
    assert.match(option.stderr, /Unknown option --rpc-prot/)
    const value = mosaic(['devnet', '--block-time-ms', 'soon'])
    assert.equal(value.status, 2)
    assert.match(value.stderr, /BLOCK_TIME_MS \(--block-time-ms\): "soon"/)
  })

  it('behavior: sequencer mode requires its settings explicitly', () => {
    const result = mosaic(['sequencer', '--data-dir', '/tmp/mosaic-cli-unused'])
    assert.equal(result.status, 2)
    assert.match(result.stderr, /FEE_RECIPIENT|GENESIS_FILE/)
  })
})
