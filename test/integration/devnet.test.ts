/**
 * `npm start` end to end (issue 6): one command starts anvil as the L1 on a free port, deploys
 * the inbox, runs the sequencer, the poster and a verifier; prints the URLs, the inbox and the
 * dev accounts; a transaction goes from the rollup's RPC into a batch on the L1 and gets a
 * verifier's verdict; Ctrl-C (SIGINT) stops everything, anvil included, with exit code 0 — also
 * while it is still starting.
 */
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { createServer, type Socket } from 'node:net'
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { describe, it } from 'node:test'
import { parseEther } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { DEV_KEYS, rawRpc, tempDataDir } from './harness.ts'
import { waitFor } from './l1-harness.ts'
import { connect, eventually } from './ws-client.ts'

/** A process's parent, scheduling policy (`SCHED_IDLE` is 5) and nice value, from `/proc/PID/stat`; undefined once it is gone. */
function schedulingOf(pid: number): { parent: number; policy: number; nice: number } | undefined {
  try {
    // Fields after the command's name, which ends at the last ')': the 3rd field onwards (proc(5)).
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ')
    return { parent: Number(fields[1]), nice: Number(fields[16]), policy: Number(fields[38]) }
  } catch {
    return undefined
  }
}

/** The devnet's verifier: the `node … mosaic.mjs verifier` process below `root`, by `/proc`. */
function verifierProcess(root: number): number | undefined {
  const pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name)).map(Number)
  const below = (pid: number): boolean => {
    for (let at: number | undefined = pid, hops = 0; at !== undefined && at > 1 && hops < 16; at = schedulingOf(at)?.parent, hops++) if (at === root) return true
    return false
  }
  return pids.find((pid) => {
    let argv: string[]
    try {
      argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')
    } catch {
      return false
    }
    return argv[0] === process.execPath && argv.includes('verifier') && pid !== root && below(pid)
  })
}

describe('npm start: the devnet on anvil', { timeout: 120_000 }, () => {
  it('behavior: anvil, inbox, sequencer, poster and verifier from one command; a transfer reaches a verdict; SIGINT stops it all', async () => {
    const dataDir = tempDataDir()
    // What `npm start` runs, on a free RPC port and a temp data dir.
    const child = spawn(process.execPath, ['bin/mosaic.mjs', 'devnet', '--rpc-port', '0', '--data-dir', dataDir, '--batch-max-age-ms', '300'], { stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
    try {
      await waitFor('the devnet to start', () => /mosaic devnet listening on/.test(output), 60_000)
      const rollup = /Rollup RPC: +(http:\/\/\S+)/.exec(output)?.[1]
      const l1 = /L1 RPC \(anvil\): +(http:\/\/\S+)/.exec(output)?.[1]
      const inbox = /Inbox: +(0x[0-9a-f]{40})/.exec(output)?.[1]
      const status = /Verifier status: +(http:\/\/\S+)/.exec(output)?.[1]
      assert.ok(rollup && l1 && inbox && status, output)
      assert.notEqual(new URL(l1).port, '8545', 'the L1 never takes the sequencer’s port')
      assert.match(output, new RegExp(privateKeyToAccount(DEV_KEYS[0]).address))
      assert.match(output, /Private Keys/)
      // The inbox is deployed on that L1.
      const code = (await rawRpc(l1, 'eth_getCode', [inbox, 'latest'])).result as string
      assert.ok(code.length > 2, 'inbox code on the L1')
      // A transfer on the rollup ends up in a posted batch and a verifier's verdict.
      const raw = await privateKeyToAccount(DEV_KEYS[1]).signTransaction({ chainId: 901, type: 'eip1559', nonce: 0, to: `0x${'11'.repeat(20)}`, value: parseEther('1'), gas: 21_000n, maxFeePerGas: 10n ** 10n, maxPriorityFeePerGas: 1n })
      assert.ok((await rawRpc(rollup, 'eth_sendRawTransaction', [raw])).result)
      await waitFor('the batch on the L1 and its verdict', () => /poster: batch 0 \(blocks 1–\d+\) posted/.test(output) && /verifier: block 1 ok \(batch 0\)/.test(output), 60_000)
      // The verifier runs below the sequencer: SCHED_IDLE where chrt can set it, nice 19 otherwise.
      const verifier = verifierProcess(child.pid!)
      assert.ok(verifier !== undefined, 'the verifier’s process under the devnet’s')
      const scheduling = schedulingOf(verifier)!
      const idleAllowed = existsSync('/usr/bin/chrt') && spawnSync('/usr/bin/chrt', ['--idle', '0', 'true']).status === 0
      if (idleAllowed) assert.equal(scheduling.policy, 5, 'SCHED_IDLE')
      else assert.equal(scheduling.nice, 19)
      assert.equal(schedulingOf(child.pid!)?.policy, 0, 'the devnet itself keeps the normal policy')
      // The block's life in one ordered stream: executed, rooted, posted (batch 0, its L1
      // transaction), verified (the verifier's verdict), read back from the first event.
      const client = await connect(rollup.replace(/^http/, 'ws'))
      const id = (await client.call('mosaic_subscribe', ['blocks', { after: '0x0' }])).result as string
      type Event = { sequence: string; block: string; status: string; batch?: string; l1Transaction?: string; ok?: boolean }
      const ofBlock1 = await eventually(() => {
        const events = (client.notifications(id) as Event[]).filter((e) => e.block === '0x1')
        return events.some((e) => e.status === 'verified') && events
      }, 'block 1 verified in the stream', 30_000)
      assert.deepEqual(ofBlock1.map((e) => e.status).filter((s) => s !== 'finalized'), ['executed', 'rooted', 'posted', 'verified'])
      const posted = ofBlock1.find((e) => e.status === 'posted')!
      assert.equal(posted.batch, '0')
      assert.match(posted.l1Transaction ?? '', /^0x[0-9a-f]{64}$/)
      assert.equal(ofBlock1.find((e) => e.status === 'verified')!.ok, true)
      client.ws.close()
      const health = (await (await fetch(status)).json()) as { status: string; l1: { verdicts: { ok: number } } }
      assert.equal(health.status, 'ok')
      assert.ok(health.l1.verdicts.ok >= 1)
      child.kill('SIGINT')
      assert.equal(await exited, 0, output)
      assert.match(output, /shutting down/)
      // anvil and the verifier's process went down with it.
      await assert.rejects(fetch(l1, { method: 'POST', body: '{}' }))
      await assert.rejects(fetch(status))
    } finally {
      child.kill('SIGKILL')
      rmSync(dataDir, { recursive: true, force: true })
    }
  })

  it('behavior: SIGINT while the devnet waits on its L1 stops it at once, with exit code 0 and no error', async () => {
    // An L1 that takes connections and never answers: starting up waits on it (30 s, the L1's
    // timeout, before it gives up). The negative control is that wait: before a signal could cut
    // starting short, the node took SIGINT only after it, and then exited 2 with "cannot reach the L1".
    const sockets = new Set<Socket>()
    const stalled = createServer((socket) => sockets.add(socket))
    await new Promise<void>((resolve) => stalled.listen(0, '127.0.0.1', resolve))
    const l1 = `http://127.0.0.1:${(stalled.address() as { port: number }).port}`
    const dataDir = tempDataDir()
    const child = spawn(process.execPath, ['bin/mosaic.mjs', 'devnet', '--l1', l1, '--rpc-port', '0', '--data-dir', dataDir], { stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
    try {
      await waitFor('the devnet to ask its L1', () => sockets.size > 0, 30_000)
      const signalled = performance.now()
      child.kill('SIGINT')
      assert.equal(await exited, 0, output)
      assert.ok(performance.now() - signalled < 10_000, `stopped ${Math.round(performance.now() - signalled)} ms after SIGINT:\n${output}`)
      assert.match(output, /shutting down/)
      assert.doesNotMatch(output, /cannot reach|Error/, output)
    } finally {
      child.kill('SIGKILL')
      for (const socket of sockets) socket.destroy()
      stalled.close()
      rmSync(dataDir, { recursive: true, force: true })
    }
  })
})
