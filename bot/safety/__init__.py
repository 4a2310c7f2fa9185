"""Safety layer: compliance keywords (STOP/HELP/START) and crisis detection."""
