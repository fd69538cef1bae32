/**
 * The one place where errors become JSON-RPC error objects (JSON-RPC 2.0 §5.1 codes; geth's
 * conventions for the server range: -32000 for refused transactions, 3 for reverts with data,
 * -32005 for limits).
 */
import { isMosaicError, type MosaicErrorCode } from '../errors.ts'

export const rpcErrorCodes = {
  parseError: -32700,
  invalidRequest: -32600,
  methodNotFound: -32601,
  invalidParams: -32602,
  internalError: -32603,
  serverError: -32000,
  limitExceeded: -32005,
  executionReverted: 3,
  /** EIP-7966: the transaction was pooled but not included within the timeout. */
  syncTimeout: 4,
  /** EIP-7966: the transaction was pooled but cannot be processed (nonce gap, dropped). */
  syncNotReady: 5,
  unauthorized: -32001,
} as const

export type JsonRpcErrorObject = { code: number; message: string; data?: unknown }

/** An error that already knows its JSON-RPC code. */
export class RpcError extends Error {
  override name = 'RpcError'
  constructor(
    readonly code: number,
    message: string,
    readonly data?: unknown,
  ) {
    super(message)
  }
}

const codeOf: Record<MosaicErrorCode, number> = {
  CONFIG_INVALID: rpcErrorCodes.internalError,
  GENESIS_INVALID: rpcErrorCodes.internalError,
  TX_INVALID: rpcErrorCodes.invalidParams,
  TX_REJECTED: rpcErrorCodes.serverError,
  EXECUTION_REVERTED: rpcErrorCodes.executionReverted,
  NOT_FOUND: rpcErrorCodes.serverError,
  HISTORY_UNAVAILABLE: rpcErrorCodes.serverError,
  INVALID_PARAMS: rpcErrorCodes.invalidParams,
  LIMIT_EXCEEDED: rpcErrorCodes.limitExceeded,
  STORE_CORRUPT: rpcErrorCodes.internalError,
  DELTA_INVALID: rpcErrorCodes.invalidParams,
  WITNESS_INVALID: rpcErrorCodes.invalidParams,
  VERIFICATION_FAILED: rpcErrorCodes.serverError,
  COMMITMENT: rpcErrorCodes.internalError,
  L1: rpcErrorCodes.internalError,
  QUEUE: rpcErrorCodes.internalError,
  TRANSPORT: rpcErrorCodes.internalError,
  INTERNAL: rpcErrorCodes.internalError,
}

export function toJsonRpcError(error: unknown): JsonRpcErrorObject {
  if (error instanceof RpcError) return withData({ code: error.code, message: error.message }, error.data)
  if (isMosaicError(error)) {
    // A revert without data is reported as a plain server error, as geth does.
    const code = error.code === 'EXECUTION_REVERTED' && error.data === undefined ? rpcErrorCodes.serverError : codeOf[error.code]
    return withData({ code, message: error.shortMessage }, error.data)
  }
  return { code: rpcErrorCodes.internalError, message: 'internal error' }
}

function withData(object: JsonRpcErrorObject, data: unknown): JsonRpcErrorObject {
  return data === undefined ? object : { ...object, data }
}

export function invalidParams(message: string): RpcError {
  return new RpcError(rpcErrorCodes.invalidParams, message)
}
