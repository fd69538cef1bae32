// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title TraceChild
/// @notice The callee of `Tracee`: a storage write with a log, a revert with a reason, and a loop
///         that runs out of gas. Storage layout: slot 0 `value`.
contract TraceChild {
    uint256 public value;

    event Set(uint256 value);

    function set(uint256 v) external returns (uint256) {
        value = v;
        emit Set(v);
        return v * 2;
    }

    function fail(string calldata reason) external pure {
        revert(reason);
    }

    function burn() external {
        while (true) {
            value += 1;
        }
    }
}

/// @title Tracee
/// @notice TEST CONTRACT ONLY, for the tracing differential tests against anvil: one call that
///         makes every kind of frame geth's tracers show — CALL with a log and a return value,
///         a caught revert with a reason, a caught out-of-gas, STATICCALL (through a view call to
///         itself), DELEGATECALL, CREATE — plus SLOAD/SSTORE and logs at two depths.
/// @dev Storage layout: slot 0 `total` (written by the DELEGATECALL into `TraceChild.set`), slot 1 `child`.
contract Tracee {
    uint256 public total;
    TraceChild public child;

    event Called(address indexed who, uint256 value);

    constructor() {
        child = new TraceChild();
    }

    function run(uint256 v) external payable returns (uint256) {
        total += v;
        emit Called(msg.sender, v);
        uint256 doubled = child.set(v);
        try child.fail("child says no") {} catch {}
        try child.burn{gas: 30000}() {} catch {}
        uint256 seen = this.peek();
        (bool ok, ) = address(child).delegatecall(abi.encodeWithSignature("set(uint256)", v + 1));
        require(ok, "delegatecall failed");
        return doubled + seen;
    }

    function peek() external view returns (uint256) {
        return child.value();
    }

    function spawn(uint256 v) external returns (address) {
        TraceChild c = new TraceChild();
        c.set(v);
        return address(c);
    }

    function boom(string calldata reason) external {
        total += 1;
        revert(reason);
    }
}
