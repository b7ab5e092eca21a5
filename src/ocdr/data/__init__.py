"""Data: file formats, converters (IAM, ICDAR), LMDB, character lists, synthetic pages."""
