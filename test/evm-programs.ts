/** Small EVM programs the execution tests run, with what they must return and cost. */
import { bytesToHex, hexToBytes } from '@ethereumjs/util'

const word = bytesToHex(Uint8Array.from({ length: 32 }, (_, i) => i + 1)).slice(2)

/**
 * A word through memory and back: PUSH32 word, PUSH1 0x21, MSTORE (memory grows to 3 words),
 * PUSH1 0x21, MLOAD, PUSH1 0, MSTORE, PUSH1 0x20, PUSH1 0, RETURN. Ten opcodes, two MSTOREs.
 */
export const wordRoundTrip = {
  code: hexToBytes(`0x7f${word}60215260215160005260206000f3`),
  returns: `0x${word}`,
  // Nine opcodes at 3 gas, and 3 words of memory: 3 × 3 + 3² / 512 = 9.
  gas: 9n * 3n + 9n,
} as const
