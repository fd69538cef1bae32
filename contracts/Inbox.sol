// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Inbox
/// @notice mosaic's L1 inbox: the sequencer commits its batches here, in order, each naming its
///         predecessor. A batch covers a contiguous block range and commits to the post-state
///         root of its last block, to its blocks' witnesses and to its data. The data itself
///         travels as frames — calldata of `postFrame` calls, or EIP-4844 blobs of
///         `postBlobFrames` calls — which readers find by the batch's `dataHash`, reassemble and
///         check against it.
contract Inbox {
    struct Batch {
        /// Position in the chain of batches, from 0.
        uint64 index;
        uint64 firstBlock;
        uint64 lastBlock;
        /// Post-state root of `lastBlock`.
        bytes32 postStateRoot;
        /// Commitment to the witnesses of the batch's blocks.
        bytes32 witnessCommitment;
        /// keccak256 of the batch data (all frames, in order, concatenated).
        bytes32 dataHash;
        /// Hash of the previous batch (`batchHash`), zero for the first.
        bytes32 previous;
    }

    /// @notice The only account that may submit.
    address public immutable sequencer;
    /// @notice The post-state root of the block before the first batch's first block: the
    ///         pre-state root the first batch is verified from.
    bytes32 public immutable startStateRoot;
    /// @notice The index the next batch must have (= batches accepted so far).
    uint64 public nextIndex;
    /// @notice The first block the next batch must cover.
    uint64 public nextBlock;
    /// @notice Hash of the last accepted batch (zero before the first).
    bytes32 public lastBatchHash;
    /// @notice Hash of each accepted batch, by index.
    mapping(uint64 => bytes32) public batchHashes;

    event BatchSubmitted(
        uint64 indexed index,
        uint64 firstBlock,
        uint64 lastBlock,
        bytes32 postStateRoot,
        bytes32 witnessCommitment,
        bytes32 dataHash,
        bytes32 previous,
        bytes32 batchHash
    );
    /// @notice A frame of the batch data hashing to `dataHash` (meant for batch `batchIndex`):
    ///         the calldata of this `postFrame` call (`frameHash` = its keccak256), or one blob
    ///         of this `postBlobFrames` transaction (`frameHash` = the blob's versioned hash).
    ///         Frames are found by `dataHash`, so frames of an abandoned attempt never mix in.
    event FramePosted(uint64 indexed batchIndex, bytes32 indexed dataHash, uint16 frameIndex, bool last, bytes32 frameHash);

    error NotSequencer(address caller);
    error WrongIndex(uint64 expected, uint64 given);
    error WrongPredecessor(bytes32 expected, bytes32 given);
    error WrongFirstBlock(uint64 expected, uint64 given);
    error EmptyRange(uint64 firstBlock, uint64 lastBlock);
    error NoBlobs();

    modifier onlySequencer() {
        if (msg.sender != sequencer) revert NotSequencer(msg.sender);
        _;
    }

    /// @param sequencer_ the sequencer's account
    /// @param firstBlock the first block the first batch covers (1: block 0 is genesis)
    /// @param startStateRoot_ the post-state root of block `firstBlock - 1`
    constructor(address sequencer_, uint64 firstBlock, bytes32 startStateRoot_) {
        sequencer = sequencer_;
        nextBlock = firstBlock;
        startStateRoot = startStateRoot_;
    }

    /// @notice The hash a batch is chained by: keccak256 of its ABI encoding.
    function hashBatch(Batch calldata batch) public pure returns (bytes32) {
        return keccak256(abi.encode(batch));
    }

    /// @notice Commit the next batch. Reverts unless it is the next in order, names the last
    ///         batch as its predecessor and continues the block range without a gap.
    function submitBatch(Batch calldata batch) external onlySequencer returns (bytes32 batchHash) {
        if (batch.index != nextIndex) revert WrongIndex(nextIndex, batch.index);
        if (batch.previous != lastBatchHash) revert WrongPredecessor(lastBatchHash, batch.previous);
        if (batch.firstBlock != nextBlock) revert WrongFirstBlock(nextBlock, batch.firstBlock);
        if (batch.lastBlock < batch.firstBlock) revert EmptyRange(batch.firstBlock, batch.lastBlock);
        batchHash = hashBatch(batch);
        batchHashes[batch.index] = batchHash;
        lastBatchHash = batchHash;
        nextIndex = batch.index + 1;
        nextBlock = batch.lastBlock + 1;
        emit BatchSubmitted(
            batch.index,
            batch.firstBlock,
            batch.lastBlock,
            batch.postStateRoot,
            batch.witnessCommitment,
            batch.dataHash,
            batch.previous,
            batchHash
        );
    }

    /// @notice Post one frame of a batch's data as calldata; readers take it from the transaction.
    function postFrame(uint64 batchIndex, bytes32 dataHash, uint16 frameIndex, bool last, bytes calldata data) external onlySequencer {
        emit FramePosted(batchIndex, dataHash, frameIndex, last, keccak256(data));
    }

    /// @notice Post frames `firstFrame`, `firstFrame + 1`, … of a batch's data as this
    ///         transaction's blobs (EIP-4844), in blob order; `last` marks the transaction that
    ///         carries the final frame. Readers fetch each blob by its versioned hash.
    function postBlobFrames(uint64 batchIndex, bytes32 dataHash, uint16 firstFrame, bool last) external onlySequencer {
        uint256 count = 0;
        while (blobhash(count) != bytes32(0)) count++;
        if (count == 0) revert NoBlobs();
        for (uint256 i = 0; i < count; i++) {
            emit FramePosted(batchIndex, dataHash, uint16(firstFrame + i), last && i == count - 1, blobhash(i));
        }
    }
}
