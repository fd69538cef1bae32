import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { bytesToHex, KECCAK256_NULL } from '@ethereumjs/util'
import { keccak256 } from '../crypto/crypto.ts'
import { deriveDevAccounts } from './dev-accounts.ts'
import { devGenesisJSON, loadGenesisFile, parseGenesis } from './genesis.ts'

const options = { defaultChainId: 901, defaultGasLimit: 30_000_000n, defaultBaseFee: 1_000_000_000n, source: 'test' }

describe('genesis', () => {
  it('default: the dev accounts are the ones anvil and Hardhat print', () => {
    const accounts = deriveDevAccounts()
    assert.equal(accounts.length, 10)
    assert.equal(accounts[0]!.address, '0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266')
    assert.equal(accounts[0]!.privateKey, '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80')
    assert.equal(accounts[9]!.address, '0xa0Ee7A142d267C1f36714E4a8F75612F20a79720')
    const genesis = parseGenesis(devGenesisJSON(901, accounts), options)
    assert.equal(genesis.state.accounts.size, 10)
    assert.equal(genesis.state.accounts.get('f39fd6e51aad88f6f4ce6ab8827279cfffb92266')?.balance, 10_000n * 10n ** 18n)
  })

  it('behavior: a geth genesis file with code, storage, nonce and header fields', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mosaic-genesis-'))
    const path = join(dir, 'genesis.json')
    writeFileSync(
      path,
      JSON.stringify({
        config: { chainId: 12345 },
        gasLimit: '0x2faf080',
        baseFeePerGas: '7',
        timestamp: '0x10',
        extraData: '0xabcd',
        alloc: {
          '0x00000000000000000000000000000000000000aa': { balance: '0x10', nonce: '0x2', code: '0x6001600101', storage: { '0x01': '0x0000ff', '0x02': '0x00' } },
          '00000000000000000000000000000000000000bb': { balance: '1000' },
        },
      }),
    )
    const genesis = loadGenesisFile(path, options)
    assert.equal(genesis.chainId, 12345)
    assert.equal(genesis.gasLimit, 50_000_000n)
    assert.equal(genesis.baseFeePerGas, 7n)
    assert.equal(genesis.timestamp, 16n)
    assert.equal(bytesToHex(genesis.extraData), '0xabcd')
    const aa = genesis.state.accounts.get('00000000000000000000000000000000000000aa')!
    assert.equal(aa.nonce, 2n)
    assert.equal(aa.balance, 16n)
    assert.deepEqual(aa.codeHash, keccak256(Uint8Array.from([0x60, 0x01, 0x60, 0x01, 0x01])))
    const slots = genesis.state.storage.get('00000000000000000000000000000000000000aa')!
    assert.equal(slots.size, 1) // the zero value is not stored
    assert.deepEqual(slots.get('01'.padStart(64, '0')), Uint8Array.of(0xff))
    assert.deepEqual(genesis.state.accounts.get('00000000000000000000000000000000000000bb')?.codeHash, KECCAK256_NULL)
  })

  it('behavior: bad genesis input names the file and the field', () => {
    assert.throws(() => parseGenesis([], options), /Invalid genesis \(test\): not a JSON object/)
    assert.throws(() => parseGenesis({ alloc: { '0x12': {} } }, options), /alloc key 0x12 is not a 20-byte address/)
    assert.throws(
      () => parseGenesis({ alloc: { ['0x' + 'aa'.repeat(20)]: { balance: 'lots' } } }, options),
      /balance must be a non-negative integer/,
    )
    assert.throws(() => parseGenesis({ gasLimit: '-1' }, options), /gasLimit must be a non-negative integer/)
    assert.throws(() => loadGenesisFile('/nonexistent/genesis.json', options), /Cannot read genesis file/)
  })
})
