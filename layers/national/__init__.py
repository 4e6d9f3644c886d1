"""Layer 4: which incidents go to the national monitoring centre, and their 24 h / 72 h reporting clocks."""
