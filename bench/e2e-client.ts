/**
 * The load client of `bench:e2e` (BENCHMARKS.md, "End to end"): everything that talks to a node
 * or watches its process, kept cheap so the client takes as little of the machine as it can.
 *
 * - `signEip1559`: EIP-1559 transactions RLP-encoded by hand and signed with native secp256k1
 *   (~0.1 ms each; viem's pure-JS signer is ~10× slower, which matters for 80,000 transactions).
 * - `RpcClient`: JSON-RPC over `node:http` with a keep-alive agent (not fetch: undici's per-call
 *   cost would put the client, not the node, at the limit with single requests).
 * - `InclusionPoller`: every ~20 ms `eth_blockNumber`, then each new block with
 *   `eth_getBlockByNumber(n, false)`; reports each block and each transaction hash the first
 *   time it is seen.
 * - `ProcessTree`: CPU time (utime + stime of every thread, `/proc/PID/stat`) and resident memory
 *   (`VmRSS`) summed over a process and all its descendants.
 */
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { Agent, request } from 'node:http'
import { performance } from 'node:perf_hooks'
import { RLP } from '@ethereumjs/rlp'
import { bigIntToUnpaddedBytes, bytesToHex, concatBytes, hexToBytes } from '@ethereumjs/util'
import secp256k1 from 'secp256k1'
import { keccak256 } from '../src/crypto/crypto.ts'

// ---------------------------------------------------------------------------------------------
// Keys and signing.

export type Hex = `0x${string}`

/** The address of a private key. */
export function addressOf(privateKey: Uint8Array): Hex {
  const publicKey = secp256k1.publicKeyCreate(privateKey, false)
  return bytesToHex(keccak256(publicKey.subarray(1)).subarray(12)) as Hex
}

/** A deterministic private key from a label: keccak256(label), valid with overwhelming odds. */
export function keyFromLabel(label: string): Uint8Array {
  const key = keccak256(new TextEncoder().encode(label))
  if (!secp256k1.privateKeyVerify(key)) throw new Error(`keccak(${label}) is not a valid secp256k1 key`)
  return key
}

/** A fresh address from a label: the last 20 bytes of keccak256(label). */
export function addressFromLabel(label: string): Hex {
  return bytesToHex(keccak256(new TextEncoder().encode(label)).subarray(12)) as Hex
}

/** The address a contract created by `sender` at `nonce` gets (CREATE). */
export function createAddress(sender: Hex, nonce: bigint): Hex {
  return bytesToHex(keccak256(RLP.encode([hexToBytes(sender), bigIntToUnpaddedBytes(nonce)])).subarray(12)) as Hex
}

export type TxFields = {
  chainId: bigint
  nonce: bigint
  maxPriorityFeePerGas: bigint
  maxFeePerGas: bigint
  gas: bigint
  /** Undefined creates a contract. */
  to: Hex | undefined
  value: bigint
  data: Uint8Array
}

export type SignedTx = {
  /** 0x-hex of the typed transaction envelope, as eth_sendRawTransaction takes it. */
  readonly raw: string
  /** Lowercase 0x-hex transaction hash. */
  readonly hash: string
}

function stripZeros(bytes: Uint8Array): Uint8Array {
  let i = 0
  while (i < bytes.length && bytes[i] === 0) i++
  return bytes.subarray(i)
}

/** An EIP-1559 (type 2) transaction signed with `privateKey` (RFC 6979, low s, as every signer). */
export function signEip1559(fields: TxFields, privateKey: Uint8Array): SignedTx {
  const body = [
    bigIntToUnpaddedBytes(fields.chainId),
    bigIntToUnpaddedBytes(fields.nonce),
    bigIntToUnpaddedBytes(fields.maxPriorityFeePerGas),
    bigIntToUnpaddedBytes(fields.maxFeePerGas),
    bigIntToUnpaddedBytes(fields.gas),
    fields.to === undefined ? new Uint8Array() : hexToBytes(fields.to),
    bigIntToUnpaddedBytes(fields.value),
    fields.data,
    [],
  ]
  const message = keccak256(concatBytes(Uint8Array.of(2), RLP.encode(body)))
  const { signature, recid } = secp256k1.ecdsaSign(message, privateKey)
  const raw = concatBytes(
    Uint8Array.of(2),
    RLP.encode([...body, bigIntToUnpaddedBytes(BigInt(recid)), stripZeros(signature.subarray(0, 32)), stripZeros(signature.subarray(32))]),
  )
  return { raw: bytesToHex(raw), hash: bytesToHex(keccak256(raw)) }
}

// ---------------------------------------------------------------------------------------------
// JSON-RPC over node:http.

export type RpcError = { code: number; message: string; data?: unknown }
export type RpcResponse = { jsonrpc?: string; id?: unknown; result?: unknown; error?: RpcError }

export class RpcClient {
  readonly url: URL
  private readonly agent: Agent

  constructor(url: string, maxSockets: number) {
    this.url = new URL(url)
    this.agent = new Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets })
  }

  /** POSTs `body` (a JSON-RPC request or batch, already serialised); resolves with the parsed answer. */
  post(body: string): Promise<RpcResponse | RpcResponse[]> {
    return new Promise((resolve, reject) => {
      const req = request(
        {
          agent: this.agent,
          host: this.url.hostname,
          port: this.url.port,
          path: '/',
          method: 'POST',
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        },
        (res) => {
          const chunks: Buffer[] = []
          res.on('data', (chunk: Buffer) => chunks.push(chunk))
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8')
            try {
              resolve(JSON.parse(text) as RpcResponse | RpcResponse[])
            } catch {
              reject(new Error(`HTTP ${res.statusCode}: not JSON: ${text.slice(0, 200)}`))
            }
          })
          res.on('error', reject)
        },
      )
      req.on('error', reject)
      req.end(body)
    })
  }

  /** One call; throws on an error response. */
  async call<T = unknown>(method: string, params: unknown[] = []): Promise<T> {
    const response = (await this.post(JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }))) as RpcResponse
    if (response.error !== undefined) throw new Error(`${method}: ${response.error.message} (${response.error.code})`)
    return response.result as T
  }

  /** A batch of calls; results in order, errors as `{ error }`. */
  async batch(calls: readonly { method: string; params: unknown[] }[]): Promise<RpcResponse[]> {
    if (calls.length === 0) return []
    const body = JSON.stringify(calls.map((c, id) => ({ jsonrpc: '2.0', id, method: c.method, params: c.params })))
    const answer = await this.post(body)
    if (!Array.isArray(answer)) throw new Error(`batch answered with ${JSON.stringify(answer).slice(0, 200)}`)
    const byId = new Map(answer.map((r) => [r.id, r]))
    return calls.map((_, id) => byId.get(id) ?? { error: { code: 0, message: 'missing from the batch answer' } })
  }

  close(): void {
    this.agent.destroy()
  }
}

// ---------------------------------------------------------------------------------------------
// Inclusion.

export type BlockSeen = { readonly number: number; readonly seenAt: number; readonly txCount: number }

/**
 * Polls the head and reads every new block; `onTx(hash, seenAt)` for each transaction of each
 * block (times are `performance.now()` when the block's answer arrived). Its own one-socket agent,
 * so the poll is never queued behind the senders' requests.
 */
export class InclusionPoller {
  readonly blocks: BlockSeen[] = []
  private next: number
  private running = false
  private loop: Promise<void> | undefined
  private readonly client: RpcClient
  /** Errors of the poll itself (a node too busy to answer); the poll goes on. */
  errors = 0

  constructor(
    url: string,
    fromBlock: number,
    private readonly onTx: (hash: string, seenAt: number) => void,
    private readonly intervalMs = 20,
  ) {
    this.client = new RpcClient(url, 1)
    this.next = fromBlock
  }

  start(): void {
    this.running = true
    this.loop = this.run()
  }

  async stop(): Promise<void> {
    this.running = false
    await this.loop
    this.client.close()
  }

  private async run(): Promise<void> {
    while (this.running) {
      const started = performance.now()
      try {
        const head = Number(BigInt(await this.client.call<string>('eth_blockNumber')))
        while (this.next <= head && this.running) {
          // Several new blocks at once (a slow poll): fetch them in one batch.
          const numbers: number[] = []
          for (let n = this.next; n <= head && numbers.length < 16; n++) numbers.push(n)
          const answers = await this.client.batch(numbers.map((n) => ({ method: 'eth_getBlockByNumber', params: [`0x${n.toString(16)}`, false] })))
          const seenAt = performance.now()
          let read = 0
          for (const [i, answer] of answers.entries()) {
            const block = answer.result as { transactions: string[] } | null | undefined
            // Not readable yet (a node that announces the head before serving the block): next poll.
            if (block === null || block === undefined) break
            this.blocks.push({ number: numbers[i]!, seenAt, txCount: block.transactions.length })
            for (const hash of block.transactions) this.onTx(hash.toLowerCase(), seenAt)
            read++
          }
          this.next += read
          if (read < numbers.length) break
        }
      } catch {
        this.errors++
      }
      const wait = this.intervalMs - (performance.now() - started)
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The node's processes.

let clockTicks: number | undefined

/** `getconf CLK_TCK` (the unit of utime/stime), normally 100. */
export function clockTicksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim())
    } catch {
      clockTicks = 100
    }
    if (!Number.isFinite(clockTicks) || clockTicks <= 0) clockTicks = 100
  }
  return clockTicks
}

/**
 * Fields of /proc/PID/stat (or of one thread: /proc/PID/task/TID/stat) after the command (which
 * may hold spaces): index 0 is field 3, state.
 */
function statFields(pid: number, tid?: number): string[] | undefined {
  try {
    const text = readFileSync(tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`, 'utf8')
    return text.slice(text.lastIndexOf(')') + 2).split(' ')
  } catch {
    return undefined // exited
  }
}

/** `pid` and all its descendants, from the parent ids in /proc/\*\/stat. */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>()
  for (const name of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(name)) continue
    const fields = statFields(Number(name))
    if (fields === undefined) continue
    const ppid = Number(fields[1])
    const list = children.get(ppid)
    if (list === undefined) children.set(ppid, [Number(name)])
    else list.push(Number(name))
  }
  const tree: number[] = []
  const stack = [pid]
  while (stack.length > 0) {
    const p = stack.pop()!
    tree.push(p)
    stack.push(...(children.get(p) ?? []))
  }
  return tree
}

/** utime + stime of every thread of `pid`, or of its thread `tid` alone, in ms (0 once it has exited). */
export function cpuMs(pid: number, tid?: number): number {
  const fields = statFields(pid, tid)
  if (fields === undefined) return 0
  // Fields 14 and 15 of stat (utime, stime) are at indices 11 and 12 here.
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicksPerSecond()
}

/**
 * CPU ms of the root process's threads by group: `main` (the thread whose id is the process id),
 * each name a mosaic worker gave its thread (`mosaic-commit`, `mosaic-recover`, `mosaic-exec`:
 * `utils/thread-name.mjs`), and `other` for the rest (V8's GC and compiler helpers, libuv's
 * pool, which node names all "node").
 */
export function threadGroupsCpuMs(pid: number): Map<string, number> {
  const groups = new Map<string, number>()
  let tids: string[]
  try {
    tids = readdirSync(`/proc/${pid}/task`)
  } catch {
    return groups // exited
  }
  for (const tid of tids) {
    let group = 'main'
    if (Number(tid) !== pid) {
      let comm = ''
      try {
        comm = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim()
      } catch {
        continue // exited
      }
      group = comm.startsWith('mosaic-') ? comm : 'other'
    }
    groups.set(group, (groups.get(group) ?? 0) + cpuMs(pid, Number(tid)))
  }
  return groups
}

/** A `VmRSS`/`VmHWM`-style line of /proc/PID/status, in kB (0 once it has exited). */
export function statusKb(pid: number, field: 'VmRSS' | 'VmHWM' | 'RssAnon' | 'RssFile'): number {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return match === null ? 0 : Number(match[1])
  } catch {
    return 0
  }
}

/**
 * Proportional set size of `pid` in kB (`/proc/PID/smaps_rollup`): its resident pages, each page
 * shared with other processes counted as its share. Summed over a process tree it counts the pages
 * they share once — the devnet's own process and its verifier's map the same `node` binary and
 * libraries — where the sum of `VmRSS` counts them in each. 0 once it has exited.
 */
export function pssKb(pid: number): number {
  try {
    const match = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))
    return match === null ? 0 : Number(match[1])
  } catch {
    return 0
  }
}

/**
 * A node's process tree, measured over one workload: CPU between `begin()` and `end()`, and the
 * peaks of the summed `VmRSS` and of the summed PSS over the tree, sampled every `sampleMs` (the
 * sum over several processes has no kernel high-water mark; VmHWM of the main process alone would
 * miss the devnet's anvil).
 */
export class ProcessTree {
  private pids: number[] = []
  private cpuStart = new Map<number, number>()
  /** CPU of the root process's main thread (its thread id is the process id) at `begin()`. */
  private mainThreadStart = 0
  /** `threadGroupsCpuMs` of the root process at `begin()`. */
  private groupsStart = new Map<string, number>()
  private timer: NodeJS.Timeout | undefined
  private peakKb = 0
  private peakPssKb = 0

  constructor(
    private readonly rootPid: number,
    private readonly sampleMs = 250,
  ) {}

  begin(): void {
    this.pids = processTree(this.rootPid)
    this.cpuStart = new Map(this.pids.map((pid) => [pid, cpuMs(pid)]))
    this.mainThreadStart = cpuMs(this.rootPid, this.rootPid)
    this.groupsStart = threadGroupsCpuMs(this.rootPid)
    this.peakKb = 0
    this.peakPssKb = 0
    this.sample()
    this.timer = setInterval(() => this.sample(), this.sampleMs)
  }

  private sample(): void {
    let kb = 0
    let pss = 0
    for (const pid of this.pids) {
      kb += statusKb(pid, 'VmRSS')
      pss += pssKb(pid)
    }
    if (kb > this.peakKb) this.peakKb = kb
    if (pss > this.peakPssKb) this.peakPssKb = pss
  }

  /**
   * Node CPU ms over the tree since `begin()`, that of the root process's main thread alone (for
   * mosaic, the sequencing thread: is it the bottleneck?), the root process's CPU by thread group
   * (`threadGroupsCpuMs`; a thread that exited during the run takes its CPU with it), and the
   * peak summed RSS and PSS in MB.
   */
  end(): { cpuMs: number; mainThreadCpuMs: number; threadsCpuMs: Record<string, number>; peakRssMb: number; peakPssMb: number; processes: number } {
    clearInterval(this.timer)
    this.sample()
    // A process born during the workload (none is expected) counts from 0.
    const now = processTree(this.rootPid)
    let cpu = 0
    for (const pid of now) cpu += cpuMs(pid) - (this.cpuStart.get(pid) ?? 0)
    const mainThreadCpuMs = cpuMs(this.rootPid, this.rootPid) - this.mainThreadStart
    const threadsCpuMs: Record<string, number> = {}
    for (const [group, ms] of threadGroupsCpuMs(this.rootPid)) threadsCpuMs[group] = ms - (this.groupsStart.get(group) ?? 0)
    return { cpuMs: cpu, mainThreadCpuMs, threadsCpuMs, peakRssMb: this.peakKb / 1024, peakPssMb: this.peakPssKb / 1024, processes: now.length }
  }
}
