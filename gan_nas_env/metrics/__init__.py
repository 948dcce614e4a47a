"""Image quality metrics (IS, FID, KID, precision/recall) and the offline feature extractor."""
