// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Probe
/// @notice Small test contract for mosaic's integration and differential tests:
///         reverts (reason string and custom error), gas burning, storage,
///         events and block-context introspection.
contract Probe {
    error ProbeError(uint256 code);

    event Stored(uint256 indexed key, uint256 value);

    mapping(uint256 => uint256) private values;

    /// @dev Scratch slots written by `burn`.
    mapping(uint256 => uint256) private scratch;

    /// @notice Always reverts with `Error(string)` carrying `reason`.
    function fail(string calldata reason) external pure {
        revert(reason);
    }

    /// @notice Always reverts with the custom error `ProbeError(code)`.
    function failCustom(uint256 code) external pure {
        revert ProbeError(code);
    }

    /// @notice Writes `iterations` storage slots; gas use grows linearly with
    ///         `iterations` (for out-of-gas and gas-estimation tests).
    function burn(uint256 iterations) external {
        for (uint256 i = 0; i < iterations; ++i) {
            scratch[i] = scratch[i] + i + 1;
        }
    }

    function store(uint256 key, uint256 value) external {
        values[key] = value;
        emit Stored(key, value);
    }

    function load(uint256 key) external view returns (uint256) {
        return values[key];
    }

    function blockInfo()
        external
        view
        returns (uint256 number, uint256 timestamp, address coinbase, uint256 basefee, uint256 chainid)
    {
        return (block.number, block.timestamp, block.coinbase, block.basefee, block.chainid);
    }

    /// @notice blockhash(block.number - 1): hash of the parent block. Returns zero
    ///         at block 0 instead of underflowing.
    function parentHash() external view returns (bytes32) {
        if (block.number == 0) return bytes32(0);
        return blockhash(block.number - 1);
    }
}
