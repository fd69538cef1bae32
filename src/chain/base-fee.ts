/**
 * EIP-1559 base fee of the next block: ±1/8 per block around a 50% gas target, never below the
 * configured floor (the way OP Stack chains keep a minimum base fee).
 */
export function nextBaseFee(parent: { gasLimit: bigint; gasUsed: bigint; baseFeePerGas: bigint }, floor: bigint): bigint {
  const target = parent.gasLimit / 2n
  const base = parent.baseFeePerGas
  let next = base
  if (parent.gasUsed > target) {
    const delta = (base * (parent.gasUsed - target)) / target / 8n
    next = base + (delta > 0n ? delta : 1n)
  } else if (parent.gasUsed < target) {
    next = base - (base * (target - parent.gasUsed)) / target / 8n
  }
  return next < floor ? floor : next
}
