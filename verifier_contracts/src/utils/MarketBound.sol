// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title MarketBound
/// @notice One-time binding of a helper contract to the JobMarket that alone may call its hooks.
/// @dev JobMarket needs the helpers' addresses in its constructor and the helpers need the market's, so
///      the deployer binds the market once after deploying it. There is no owner and no way to rebind.
abstract contract MarketBound {
    event MarketSet(address indexed market);

    error MarketBound__NotMarket(address caller);
    error MarketBound__NotDeployer(address caller);
    error MarketBound__AlreadyBound(address market);
    error MarketBound__ZeroAddress();

    address private immutable _deployer;
    address private _market;

    constructor() {
        _deployer = msg.sender;
    }

    modifier onlyMarket() {
        if (msg.sender != _market || msg.sender == address(0)) revert MarketBound__NotMarket(msg.sender);
        _;
    }

    /// @notice Bind the JobMarket; callable once, by the deployer.
    function bindMarket(address market_) external {
        if (msg.sender != _deployer) revert MarketBound__NotDeployer(msg.sender);
        if (_market != address(0)) revert MarketBound__AlreadyBound(_market);
        if (market_ == address(0)) revert MarketBound__ZeroAddress();
        _market = market_;
        emit MarketSet(market_);
    }

    /// @notice The bound JobMarket (zero until bound).
    function market() public view returns (address) {
        return _market;
    }
}
