// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @notice FAULT INJECTION ONLY: a hostile payment token that, once armed, re-enters a target contract
///         from inside `transfer`/`transferFrom` with the armed calldata. Used to prove nonReentrant + CEI.
contract ReentrantTokenFake is ERC20 {
    address public target;
    bytes public payload;
    bool public attackSucceeded;
    bytes public attackRevertData;

    constructor() ERC20("Reentrant Fake", "RFAKE") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function burn(uint256 amount) external {
        _burn(msg.sender, amount);
    }

    function arm(address target_, bytes calldata payload_) external {
        target = target_;
        payload = payload_;
    }

    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        address t = target;
        if (t != address(0)) {
            target = address(0); // one shot
            (bool ok, bytes memory ret) = t.call(payload);
            attackSucceeded = ok;
            attackRevertData = ret;
            if (!ok) {
                assembly {
                    revert(add(ret, 0x20), mload(ret))
                }
            }
        }
    }
}
