"""Screen-pop: the caller's card on the screen of exactly the agents whose phones ring."""
