/**
 * Typed loader for the committed solc artifacts in `contracts/out/`
 * (rebuild with `npm run build:contracts`).
 */
import { readFileSync } from 'node:fs';
import type { Abi, Hex } from 'viem';

export type ContractName = 'MosaicToken' | 'Probe' | 'Pool' | 'Chaos' | 'ChaosCounter' | 'Inbox' | 'Tracee' | 'TraceChild';

export interface Artifact {
  abi: Abi;
  /** Creation (init) code; append ABI-encoded constructor args to deploy. */
  bytecode: Hex;
  /** Runtime code as stored on chain after deployment. */
  deployedBytecode: Hex;
}

const cache = new Map<ContractName, Artifact>();

function isHex(v: unknown): v is Hex {
  return typeof v === 'string' && /^0x(?:[0-9a-fA-F]{2})*$/.test(v);
}

/** Loads `contracts/out/<name>.json` (resolved relative to this module). Cached. */
export function loadArtifact(name: ContractName): Artifact {
  const hit = cache.get(name);
  if (hit !== undefined) return hit;
  const url = new URL(`./out/${name}.json`, import.meta.url);
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(url, 'utf8'));
  } catch (err) {
    throw new Error(
      `loadArtifact(${name}): cannot read ${url.pathname} (run \`npm run build:contracts\`): ${
        err instanceof Error ? err.message : String(err)
      }`,
    );
  }
  const j = parsed as { abi?: unknown; bytecode?: unknown; deployedBytecode?: unknown };
  if (!Array.isArray(j.abi) || !isHex(j.bytecode) || !isHex(j.deployedBytecode)) {
    throw new Error(`loadArtifact(${name}): malformed artifact ${url.pathname}`);
  }
  const artifact: Artifact = {
    abi: j.abi as Abi,
    bytecode: j.bytecode,
    deployedBytecode: j.deployedBytecode,
  };
  cache.set(name, artifact);
  return artifact;
}
