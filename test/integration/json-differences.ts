/** Field-by-field comparison of two JSON answers, for the differential tests against anvil. */
import { rawRpc } from './harness.ts'

/** A JSON-RPC result, or a thrown error naming the method, node and error. */
export async function rpcResult(url: string, method: string, params: unknown[]): Promise<unknown> {
  const response = await rawRpc(url, method, params)
  if (response.error !== undefined) throw new Error(`${method} at ${url}: ${response.error.code} ${response.error.message}`)
  return response.result
}

/** Lowercases every string and key — hex compares case-insensitively (anvil checksums nothing, geth some addresses). */
export function lower(value: unknown): unknown {
  if (typeof value === 'string') return value.toLowerCase()
  if (Array.isArray(value)) return value.map(lower)
  if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k.toLowerCase(), lower(v)]))
  return value
}

/** Every difference between two JSON values, as `path: a != b` (an empty list when equal). */
export function jsonDifferences(a: unknown, b: unknown, path = '$'): string[] {
  if (a === b) return []
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null || Array.isArray(a) !== Array.isArray(b)) {
    return [`${path}: ${JSON.stringify(a)} != ${JSON.stringify(b)}`]
  }
  const out: string[] = []
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) out.push(`${path}.length: ${a.length} != ${b.length}`)
    for (let i = 0; i < Math.min(a.length, b.length); i++) out.push(...jsonDifferences(a[i], b[i], `${path}[${i}]`))
    return out
  }
  const ao = a as Record<string, unknown>
  const bo = b as Record<string, unknown>
  for (const key of new Set([...Object.keys(ao), ...Object.keys(bo)])) out.push(...jsonDifferences(ao[key], bo[key], `${path}.${key}`))
  return out
}
