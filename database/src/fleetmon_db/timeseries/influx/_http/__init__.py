"""Keep-alive POST pools for line-protocol writes: from threads (post), from a loop (asyncpost)."""
