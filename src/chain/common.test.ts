import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createChainCommon } from './common.ts'

/** What ethereumjs' own `isActivatedEIP` answers: its list of the EIPs active at the hardfork. */
function listed(common: ReturnType<typeof createChainCommon>, eip: number): boolean {
  return (common as unknown as { _activatedEIPsCache: readonly number[] })._activatedEIPsCache.includes(eip)
}

function assertSameAnswers(common: ReturnType<typeof createChainCommon>, label: string): void {
  for (let eip = 1; eip <= 8200; eip++) assert.equal(common.isActivatedEIP(eip), listed(common, eip), `${label}: EIP-${eip}`)
}

describe('chain Common', () => {
  it('behavior: isActivatedEIP answers as ethereumjs does for every EIP, across hardfork changes, on copies too', () => {
    const common = createChainCommon({ chainId: 901, hardfork: 'prague' })
    assert.equal(common.isActivatedEIP(7702), true)
    assert.equal(common.isActivatedEIP(6800), false)
    assertSameAnswers(common, 'prague')
    // A copy answers from its own list: moving it back to London leaves the original at Prague.
    const copy = common.copy()
    copy.setHardfork('london')
    assert.equal(copy.isActivatedEIP(7702), false, 'a set kept from before the hardfork change would still say Prague')
    assert.equal(copy.isActivatedEIP(1559), true)
    assertSameAnswers(copy, 'copy at london')
    assert.equal(common.isActivatedEIP(7702), true)
    assertSameAnswers(common, 'original after the copy changed')
    common.setHardfork('shanghai')
    assert.equal(common.isActivatedEIP(3855), true)
    assert.equal(common.isActivatedEIP(4844), false)
    assertSameAnswers(common, 'shanghai')
  })
})
