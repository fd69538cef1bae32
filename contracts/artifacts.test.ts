import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { createBlock } from '@ethereumjs/block';
import { Common, Hardfork, Mainnet } from '@ethereumjs/common';
import { createFeeMarket1559Tx } from '@ethereumjs/tx';
import {
  type Address,
  bytesToHex,
  createAccount,
  createAddressFromPrivateKey,
  createAddressFromString,
  hexToBytes,
} from '@ethereumjs/util';
import { createVM, runTx } from '@ethereumjs/vm';
import {
  decodeErrorResult,
  decodeFunctionResult,
  encodeDeployData,
  encodeFunctionData,
  type Hex,
} from 'viem';
import { compileContracts, serializeArtifact } from '../scripts/compile-contracts.ts';
import { loadArtifact } from './artifacts.ts';

const CONTRACTS_DIR = fileURLToPath(new URL('.', import.meta.url));
const OUT_DIR = fileURLToPath(new URL('./out/', import.meta.url));

describe('contracts/artifacts', () => {
  it('behavior: committed artifacts match a fresh compile', () => {
    const warnings: string[] = [];
    const fresh = compileContracts(CONTRACTS_DIR, { onWarning: (m) => warnings.push(m) });
    assert.deepEqual(warnings, [], 'contracts should compile without warnings');

    const onDisk = readdirSync(OUT_DIR)
      .filter((f) => f.endsWith('.json'))
      .sort();
    assert.deepEqual(
      onDisk,
      fresh.map((c) => `${c.contractName}.json`).sort(),
      'contracts/out/*.json must correspond 1:1 to compiled contracts (run npm run build:contracts)',
    );
    for (const c of fresh) {
      const text = readFileSync(`${OUT_DIR}${c.contractName}.json`, 'utf8');
      assert.deepEqual(JSON.parse(text), JSON.parse(serializeArtifact(c)), `${c.contractName} drifted`);
      assert.equal(text, serializeArtifact(c), `${c.contractName}.json formatting drifted`);
    }
  });

  it('loadArtifact returns typed MosaicToken and Probe artifacts', () => {
    for (const name of ['MosaicToken', 'Probe'] as const) {
      const a = loadArtifact(name);
      assert.ok(a.abi.length > 0);
      assert.match(a.bytecode, /^0x[0-9a-f]{100,}$/);
      assert.match(a.deployedBytecode, /^0x[0-9a-f]{100,}$/);
      assert.ok(a.bytecode.length > a.deployedBytecode.length);
    }
  });

  it('behavior: MosaicToken deploys, transfers and reverts with reason inside @ethereumjs/vm', async () => {
    const { abi, bytecode } = loadArtifact('MosaicToken');
    const common = new Common({ chain: Mainnet, hardfork: Hardfork.Cancun });
    const vm = await createVM({ common });
    const block = createBlock(
      { header: { number: 1n, gasLimit: 30_000_000n, baseFeePerGas: 7n, timestamp: 1_700_000_000n } },
      { common },
    );

    const pk = hexToBytes(`0x${'11'.repeat(32)}`);
    const sender = createAddressFromPrivateKey(pk);
    const recipient = createAddressFromString(`0x${'22'.repeat(20)}`);
    await vm.stateManager.putAccount(sender, createAccount({ balance: 10n ** 20n }));

    let nonce = 0n;
    const send = async (to: Address | undefined, data: Hex) => {
      const tx = createFeeMarket1559Tx(
        {
          nonce: nonce++,
          maxFeePerGas: 10n,
          maxPriorityFeePerGas: 1n,
          gasLimit: 2_000_000n,
          ...(to !== undefined ? { to } : {}),
          data: hexToBytes(data),
          chainId: 1n,
        },
        { common },
      ).sign(pk);
      return runTx(vm, { tx, block });
    };
    // eth_call-like read. Standalone runCall bumps the caller's nonce, so read from a
    // separate address rather than `sender`.
    const reader = createAddressFromString(`0x${'33'.repeat(20)}`);
    const call = async (token: Address, data: Hex): Promise<Hex> => {
      const res = await vm.evm.runCall({ to: token, caller: reader, data: hexToBytes(data), block });
      assert.equal(res.execResult.exceptionError, undefined);
      return bytesToHex(res.execResult.returnValue);
    };
    const balanceOf = async (token: Address, who: Address): Promise<bigint> => {
      const ret = await call(token, encodeFunctionData({ abi, functionName: 'balanceOf', args: [who.toString()] }));
      return decodeFunctionResult({ abi, functionName: 'balanceOf', data: ret }) as bigint;
    };

    // Deploy with 1000 tokens minted to the sender.
    const supply = 1000n * 10n ** 18n;
    const deploy = await send(
      undefined,
      encodeDeployData({ abi, bytecode, args: ['Mosaic', 'MSC', supply] }),
    );
    assert.equal(deploy.execResult.exceptionError, undefined);
    const token = deploy.createdAddress;
    assert.ok(token !== undefined, 'contract created');
    assert.equal(await balanceOf(token, sender), supply);
    const sym = await call(token, encodeFunctionData({ abi, functionName: 'symbol' }));
    assert.equal(decodeFunctionResult({ abi, functionName: 'symbol', data: sym }), 'MSC');

    // Successful transfer: returns true, emits Transfer, moves balances.
    const amount = 123n * 10n ** 18n;
    const ok = await send(
      token,
      encodeFunctionData({ abi, functionName: 'transfer', args: [recipient.toString(), amount] }),
    );
    assert.equal(ok.execResult.exceptionError, undefined);
    assert.equal(
      decodeFunctionResult({ abi, functionName: 'transfer', data: bytesToHex(ok.execResult.returnValue) }),
      true,
    );
    assert.equal(ok.receipt.logs.length, 1);
    assert.equal(await balanceOf(token, sender), supply - amount);
    assert.equal(await balanceOf(token, recipient), amount);

    // Failing transfer: more than the sender holds.
    const bad = await send(
      token,
      encodeFunctionData({ abi, functionName: 'transfer', args: [recipient.toString(), supply] }),
    );
    assert.ok(bad.execResult.exceptionError !== undefined, 'exceptionError set');
    assert.equal(bad.execResult.exceptionError.error, 'revert');
    assert.equal(bad.receipt.logs.length, 0);
    const decoded = decodeErrorResult({ abi, data: bytesToHex(bad.execResult.returnValue) });
    assert.equal(decoded.errorName, 'Error');
    assert.deepEqual(decoded.args, ['ERC20: transfer amount exceeds balance']);
    // State unchanged by the revert.
    assert.equal(await balanceOf(token, sender), supply - amount);
    assert.equal(await balanceOf(token, recipient), amount);
  });
});
