"""Market data: candle files (reading, checking, downloading) and candle sources."""
