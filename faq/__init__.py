"""FAQ: Thai question matching and answers (filled in by the FAQ issue)."""
