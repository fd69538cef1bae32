// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title ChaosCounter
/// @notice The shared contract `Chaos.bump()` calls into: every bump reads and writes `count`.
///         Storage layout: slot 0 `count`, slot 1 `lastCaller`.
contract ChaosCounter {
    uint256 public count;
    address public lastCaller;

    event Incremented(address indexed caller, uint256 count);

    function increment() external returns (uint256) {
        count += 1;
        lastCaller = msg.sender;
        emit Incremented(msg.sender, count);
        return count;
    }

    /// @notice Writes, then reverts: the caller's try/catch must undo exactly this frame.
    function incrementAndRevert() external {
        count += 1000;
        revert("ChaosCounter: reverted");
    }
}

/// @title Chaos
/// @notice One contract whose functions exercise the EVM features the parallel executor must get
///         right (mosaic's differential tests): nested calls into a shared contract, CREATE and
///         CREATE2 (with collisions), SELFDESTRUCT under EIP-6780 (Cancun), BLOCKHASH, the fee
///         recipient's balance, precompiles, logs, reverts, gas exhaustion and value sent to the
///         fee recipient.
/// @dev TEST CONTRACT ONLY. Storage layout (the differential generator writes slot 0 directly into
///      pre-state): slot 0 `counter`, 1 `children`, 2 `lastChild`, 3 `parentHashes` mapping,
///      4 `lastParentHash`, 5 `coinbaseBalance`, 6 `lastSha256`, 7 `lastRecovered`,
///      8 `lastIdentity`, 9 `lastModexp`, 10 `failures`, 11 `scratch` mapping,
///      12 `lastHistoryHash`.
contract Chaos {
    ChaosCounter public counter;
    uint256 public children;
    address public lastChild;
    mapping(uint256 => bytes32) public parentHashes;
    bytes32 public lastParentHash;
    uint256 public coinbaseBalance;
    bytes32 public lastSha256;
    address public lastRecovered;
    bytes32 public lastIdentity;
    uint256 public lastModexp;
    uint256 public failures;
    mapping(uint256 => uint256) public scratch;
    bytes32 public lastHistoryHash;

    /// @dev Init code of a "mortal" child, written in raw EVM so no `selfdestruct` keyword (and
    ///      its solc deprecation warning) is needed. Runtime `36600557005b600035ff`: with empty
    ///      calldata it accepts value (STOP); otherwise SELFDESTRUCT to the address in word 0.
    bytes private constant MORTAL_INIT = hex"69_36600557005b600035ff_600052600a6016f3";

    event Bumped(address indexed caller, uint256 count);
    event Deployed(address indexed child, bytes32 indexed salt, bool create2);
    event Destroyed(address indexed child, address indexed beneficiary, uint256 value);
    event BlockHashRecorded(uint256 indexed number, bytes32 parentHash);
    event CoinbaseBalance(address indexed coinbase, uint256 balance);
    event Precompiled(bytes32 sha, address recovered, bytes32 identity, uint256 modexp);
    event Ping(uint256 indexed index, address indexed sender, bytes32 data);
    event Tipped(address indexed coinbase, uint256 value);

    constructor(ChaosCounter counter_) {
        counter = counter_;
    }

    /// @notice Nested call into the shared counter, and a caught revert of a second nested call.
    function bump() external returns (uint256 count) {
        count = counter.increment();
        try counter.incrementAndRevert() {} catch {}
        emit Bumped(msg.sender, count);
    }

    /// @notice CREATE2 of a mortal child funded with msg.value; the same salt twice collides
    ///         (EIP-1014: CREATE2 returns 0), which reverts the call.
    function deploy(bytes32 salt) external payable returns (address child) {
        bytes memory init = MORTAL_INIT;
        uint256 value = msg.value;
        assembly {
            child := create2(value, add(init, 0x20), mload(init), salt)
        }
        require(child != address(0), "Chaos: CREATE2 collision");
        children += 1;
        lastChild = child;
        emit Deployed(child, salt, true);
    }

    /// @notice CREATE of a mortal child funded with msg.value (bumps this contract's nonce).
    function spawn() external payable returns (address child) {
        bytes memory init = MORTAL_INIT;
        uint256 value = msg.value;
        assembly {
            child := create(value, add(init, 0x20), mload(init))
        }
        require(child != address(0), "Chaos: CREATE failed");
        children += 1;
        lastChild = child;
        emit Deployed(child, bytes32(0), false);
    }

    /// @notice CREATE of a Solidity contract whose constructor writes storage.
    function spawnCounter() external returns (address child) {
        ChaosCounter created = new ChaosCounter();
        created.increment();
        child = address(created);
        children += 1;
        lastChild = child;
        emit Deployed(child, bytes32(0), false);
    }

    /// @notice CREATE2 a funded child and SELFDESTRUCT it in the same transaction: under EIP-6780
    ///         the account is deleted (its balance goes to the caller), so the salt can be reused.
    function createAndDestroy(bytes32 salt) external payable returns (address child) {
        bytes memory init = MORTAL_INIT;
        uint256 value = msg.value;
        assembly {
            child := create2(value, add(init, 0x20), mload(init), salt)
        }
        require(child != address(0), "Chaos: CREATE2 collision");
        _destroy(child, payable(msg.sender));
    }

    /// @notice SELFDESTRUCT of a child created earlier: under EIP-6780 it only moves the balance.
    function destroy(address child, address payable beneficiary) external {
        _destroy(child, beneficiary);
    }

    function _destroy(address child, address payable beneficiary) private {
        uint256 value = child.balance;
        (bool ok, ) = child.call(abi.encode(beneficiary));
        require(ok, "Chaos: destroy failed");
        emit Destroyed(child, beneficiary, value);
    }

    function recordBlockhash() external returns (bytes32 hash) {
        hash = blockhash(block.number - 1);
        parentHashes[block.number] = hash;
        lastParentHash = hash;
        emit BlockHashRecorded(block.number, hash);
    }

    /// @notice The parent hash as the EIP-2935 history contract serves it: storage the block
    ///         prelude wrote before the block's first transaction.
    function recordHistoryHash(address history) external returns (bytes32 hash) {
        (bool ok, bytes memory out) = history.staticcall(abi.encode(block.number - 1));
        require(ok && out.length == 32, "Chaos: history call failed");
        hash = abi.decode(out, (bytes32));
        lastHistoryHash = hash;
        emit BlockHashRecorded(block.number - 1, hash);
    }

    /// @notice Reads the fee recipient's balance, which every transaction's fee changes.
    function recordCoinbaseBalance() external returns (uint256 balance) {
        balance = block.coinbase.balance;
        coinbaseBalance = balance;
        emit CoinbaseBalance(block.coinbase, balance);
    }

    /// @notice sha256 (0x02), ecrecover (0x01), identity (0x04) and modexp (0x05, EIP-198).
    function precompiles(bytes32 hash, uint8 v, bytes32 r, bytes32 s, bytes calldata data) external {
        lastSha256 = sha256(data);
        lastRecovered = ecrecover(hash, v, r, s);
        (bool ok, bytes memory out) = address(0x04).staticcall(data);
        require(ok, "Chaos: identity failed");
        lastIdentity = keccak256(out);
        // base^exponent mod modulus, 32-byte operands; an odd modulus is never zero.
        (ok, out) = address(0x05).staticcall(
            abi.encodePacked(uint256(32), uint256(32), uint256(32), hash, r, uint256(s) | 1)
        );
        require(ok && out.length == 32, "Chaos: modexp failed");
        lastModexp = abi.decode(out, (uint256));
        emit Precompiled(lastSha256, lastRecovered, lastIdentity, lastModexp);
    }

    function emitLogs(uint256 n) external {
        for (uint256 i = 0; i < n; ++i) {
            emit Ping(i, msg.sender, keccak256(abi.encode(i, block.number)));
        }
    }

    /// @notice Writes storage, then always reverts (status 0; the write is undone).
    function fail() external {
        failures += 1;
        revert("Chaos: failed on purpose");
    }

    /// @notice Writes `n` scratch slots: with a low gas limit, out of gas.
    function burn(uint256 n) external {
        for (uint256 i = 0; i < n; ++i) {
            scratch[i] = uint256(keccak256(abi.encode(scratch[i], i, msg.sender)));
        }
    }

    /// @notice Forwards msg.value to the fee recipient (a balance write besides the fee payment).
    function tip() external payable {
        (bool ok, ) = block.coinbase.call{value: msg.value}("");
        require(ok, "Chaos: tip failed");
        emit Tipped(block.coinbase, msg.value);
    }
}
