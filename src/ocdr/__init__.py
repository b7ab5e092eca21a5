"""ocdr: build your own OCR: fine-tune a text detector and recognizer, evaluate, export and serve."""
__version__ = "0.1.0"
