// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Pool
/// @notice Constant-product AMM (x·y = k, 0.3% fee) for mosaic's differential tests. Both token
///         balances live INSIDE the pool (no ERC-20 calls), so one swap reads and writes the two
///         shared reserve slots: every swap conflicts with every other swap.
/// @dev TEST CONTRACT ONLY: `deposit` credits internal balances out of thin air.
///      Storage layout (the differential generator writes it directly into pre-state):
///      slot 0 `reserve0`, slot 1 `reserve1`, slot 2 `balance0` mapping, slot 3 `balance1` mapping.
contract Pool {
    uint256 public reserve0;
    uint256 public reserve1;
    mapping(address => uint256) public balance0;
    mapping(address => uint256) public balance1;

    event Deposit(address indexed account, uint256 amount0, uint256 amount1);
    event Swap(address indexed trader, bool zeroForOne, uint256 amountIn, uint256 amountOut);
    event Sync(uint256 reserve0, uint256 reserve1);

    /// @notice Credits the caller's internal balances (unbacked: test contract only).
    function deposit(uint256 amount0, uint256 amount1) external {
        balance0[msg.sender] += amount0;
        balance1[msg.sender] += amount1;
        emit Deposit(msg.sender, amount0, amount1);
    }

    /// @notice Moves the caller's internal balances into the reserves.
    function addLiquidity(uint256 amount0, uint256 amount1) external {
        require(balance0[msg.sender] >= amount0 && balance1[msg.sender] >= amount1, "Pool: insufficient balance");
        unchecked {
            balance0[msg.sender] -= amount0;
            balance1[msg.sender] -= amount1;
        }
        reserve0 += amount0;
        reserve1 += amount1;
        emit Sync(reserve0, reserve1);
    }

    /// @notice Swaps `amountIn` of token 0 for token 1 (`zeroForOne`) or the reverse, out of and
    ///         into the caller's internal balances.
    function swap(bool zeroForOne, uint256 amountIn) external returns (uint256 amountOut) {
        (uint256 reserveIn, uint256 reserveOut) = zeroForOne ? (reserve0, reserve1) : (reserve1, reserve0);
        require(amountIn > 0, "Pool: zero input");
        uint256 inWithFee = amountIn * 997;
        amountOut = (inWithFee * reserveOut) / (reserveIn * 1000 + inWithFee);
        require(amountOut > 0, "Pool: insufficient output");
        if (zeroForOne) {
            require(balance0[msg.sender] >= amountIn, "Pool: insufficient balance");
            unchecked {
                balance0[msg.sender] -= amountIn;
            }
            balance1[msg.sender] += amountOut;
            reserve0 = reserveIn + amountIn;
            reserve1 = reserveOut - amountOut;
        } else {
            require(balance1[msg.sender] >= amountIn, "Pool: insufficient balance");
            unchecked {
                balance1[msg.sender] -= amountIn;
            }
            balance0[msg.sender] += amountOut;
            reserve1 = reserveIn + amountIn;
            reserve0 = reserveOut - amountOut;
        }
        emit Swap(msg.sender, zeroForOne, amountIn, amountOut);
        emit Sync(reserve0, reserve1);
    }
}
