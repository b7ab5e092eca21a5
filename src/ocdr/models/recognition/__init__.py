"""Text recognizers (CRNN/OCRNet-like CTC and attention models) and their numpy CTC decoding."""
